"""Forms the video cog opens. A form only collects values; what happens on submit is the
flow it is handed, so forms import no flow."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import discord

from cogs.shared import RoutedModal

PromptSubmitted = Callable[[discord.Interaction, str], Awaitable[None]]


class RemixModal(RoutedModal, title="Remix this video"):
    """Edit the prompt of a finished video and make a new one with the same settings."""

    def __init__(self, prompt: str, max_length: int, on_submit: PromptSubmitted) -> None:
        super().__init__()
        self._submitted = on_submit
        self.prompt: discord.ui.TextInput[RemixModal] = discord.ui.TextInput(
            label="Prompt",
            style=discord.TextStyle.paragraph,
            default=prompt[:max_length],
            max_length=min(max_length, 4000),
        )
        self.add_item(self.prompt)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self._submitted(interaction, self.prompt.value)
