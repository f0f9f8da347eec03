"""Buttons that keep working after a restart: each custom id carries the job id.

They only parse the id and hand over to the cog, which owns the behaviour.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import discord

from bot.app import report_error

if TYPE_CHECKING:
    from .cog import VideoCog


def _cog(interaction: discord.Interaction) -> VideoCog:
    cog = interaction.client.get_cog("video")  # type: ignore[attr-defined]
    assert cog is not None, "the video cog is not loaded"
    return cog


class _JobButton:
    """A button whose custom id is ``video:<action>:<job id>``; pressing it calls the cog's
    ``<action>_pressed(interaction, job_id)``. Subclasses only name the action and its look."""

    action: str
    label: str
    emoji: str
    style = discord.ButtonStyle.secondary

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        super().__init__(  # type: ignore[call-arg] - DynamicItem's
            discord.ui.Button(
                label=self.label,
                style=self.style,
                emoji=self.emoji,
                custom_id=f"video:{self.action}:{job_id}",
            )
        )

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):
        return cls(int(match["job"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        handler = getattr(_cog(interaction), f"{self.action}_pressed")
        try:
            await handler(interaction, self.job_id)
        except Exception as error:  # discord.py would only log it; tell the member too
            await report_error(interaction, error)


class CancelButton(
    _JobButton, discord.ui.DynamicItem[discord.ui.Button], template=r"video:cancel:(?P<job>\d+)"
):
    action, label, emoji = "cancel", "Cancel", "🛑"


class RerollButton(
    _JobButton, discord.ui.DynamicItem[discord.ui.Button], template=r"video:reroll:(?P<job>\d+)"
):
    action, label, emoji = "reroll", "Re-roll", "🎲"
    style = discord.ButtonStyle.primary


class RemixButton(
    _JobButton, discord.ui.DynamicItem[discord.ui.Button], template=r"video:remix:(?P<job>\d+)"
):
    action, label, emoji = "remix", "Remix", "✏️"


class HistoryPageButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"video:history:(?P<user>\d+):(?P<page>\d+):(?P<dir>prev|next)",
):
    def __init__(self, user_id: int, page: int, direction: str, *, disabled: bool = False) -> None:
        self.user_id = user_id
        self.page = page
        super().__init__(
            discord.ui.Button(
                label="Newer" if direction == "prev" else "Older",
                emoji="◀️" if direction == "prev" else "▶️",
                style=discord.ButtonStyle.secondary,
                custom_id=f"video:history:{user_id}:{page}:{direction}",
                disabled=disabled,
            )
        )

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]) -> HistoryPageButton:
        return cls(int(match["user"]), int(match["page"]), match["dir"])

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await _cog(interaction).history_page_pressed(interaction, self.user_id, self.page)
        except Exception as error:  # discord.py would only log it; tell the member too
            await report_error(interaction, error)


class RemixModal(discord.ui.Modal, title="Remix this video"):
    """Edit the prompt of a finished video and make a new one with the same settings."""

    def __init__(self, cog: VideoCog, job_id: int, prompt: str, max_length: int) -> None:
        super().__init__()
        self.cog = cog
        self.job_id = job_id
        self.prompt = discord.ui.TextInput(
            label="Prompt",
            style=discord.TextStyle.paragraph,
            default=prompt[:max_length],
            max_length=min(max_length, 4000),
        )
        self.add_item(self.prompt)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self.cog.remix_submitted(interaction, self.job_id, self.prompt.value)

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        await report_error(interaction, error)


DYNAMIC_ITEMS = (CancelButton, RerollButton, RemixButton, HistoryPageButton)


def status_view(job_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(job_id))
    return view


def result_view(job_id: int) -> discord.ui.View:
    """Anyone may re-roll or remix a posted result; the new job is theirs."""
    view = discord.ui.View(timeout=None)
    view.add_item(RerollButton(job_id))
    view.add_item(RemixButton(job_id))
    return view
