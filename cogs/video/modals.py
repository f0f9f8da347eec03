"""Forms the video cog opens. A form only collects values (and says plainly what it can't
read); what happens on submit is the flow it is handed, so forms import no flow."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import discord

from bot.errors import InvalidInput
from bot.model_offer import SEED_RANGE, ModelOffer
from bot.params import GenerationRequest
from cogs.shared import RoutedModal


@dataclass(frozen=True)
class FormValues:
    """What the member typed and picked; a setting the form did not ask for is None, and
    so is a seed left empty (the bot picks one)."""

    prompt: str
    duration: int | None = None
    resolution: str | None = None
    ratio: str | None = None
    seed: int | None = None

    def changes(self) -> dict[str, Any]:
        """The request changes these values make (an empty seed: pick a new one)."""
        changes: dict[str, Any] = {"prompt": self.prompt, "seed": self.seed}
        for name in ("duration", "resolution", "ratio"):
            value = getattr(self, name)
            if value is not None:
                changes[name] = value
        return changes


Submitted = Callable[[discord.Interaction, FormValues], Awaitable[None]]


class JobForm(RoutedModal):
    """A prompt and, as the form asks, the main settings, prefilled from ``request``:
    duration, resolution and ratio (``settings``), and the seed (``seed``). The choices
    are what the provider offers for the model (``offer``)."""

    def __init__(
        self,
        title: str,
        request: GenerationRequest,
        *,
        max_prompt: int,
        offer: ModelOffer,
        on_submit: Submitted,
        duration: bool = True,
        settings: bool = True,
        seed: bool = True,
    ) -> None:
        super().__init__(title=title)
        self._submitted = on_submit
        self._durations = offer.durations
        self.prompt: discord.ui.TextInput[JobForm] = discord.ui.TextInput(
            style=discord.TextStyle.paragraph,
            default=request.prompt[:max_prompt] or None,
            max_length=min(max_prompt, 4000),
            placeholder="What happens: subject, action, camera, style",
        )
        self.add_item(discord.ui.Label(text="Prompt", component=self.prompt))
        self.duration: discord.ui.TextInput[JobForm] | None = None
        self.resolution: discord.ui.Select[JobForm] | None = None
        self.ratio: discord.ui.Select[JobForm] | None = None
        self.seed: discord.ui.TextInput[JobForm] | None = None
        low, high = offer.durations
        if duration:
            self.duration = discord.ui.TextInput(
                default=str(request.duration), required=False, max_length=3
            )
            self.add_item(
                discord.ui.Label(
                    text="Duration", description=f"{low} to {high} seconds", component=self.duration
                )
            )
        if settings:
            self.resolution = _choice(offer.resolutions, request.resolution)
            self.add_item(discord.ui.Label(text="Resolution", component=self.resolution))
            self.ratio = _choice(offer.ratios, request.ratio)
            self.add_item(
                discord.ui.Label(
                    text="Aspect ratio", description="adaptive follows the image",
                    component=self.ratio,
                )  # fmt: skip
            )
        if seed:
            self.seed = discord.ui.TextInput(
                default=str(request.seed) if request.seed is not None else None,
                required=False,
                max_length=10,
                placeholder="Empty: I pick one and show it",
            )
            self.add_item(
                discord.ui.Label(
                    text="Seed", description="The same seed and settings make the same video",
                    component=self.seed,
                )  # fmt: skip
            )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self._submitted(interaction, self.values())

    def values(self) -> FormValues:
        return FormValues(
            prompt=self.prompt.value,
            duration=(
                _duration(self.duration.value, self._durations)
                if self.duration is not None
                else None
            ),
            resolution=_picked(self.resolution),
            ratio=_picked(self.ratio),
            seed=_seed(self.seed.value) if self.seed is not None else None,
        )


def _choice(options: tuple[str, ...], current: str) -> discord.ui.Select[JobForm]:
    return discord.ui.Select(
        options=[discord.SelectOption(label=o, value=o, default=o == current) for o in options]
    )


def _picked(select: discord.ui.Select[JobForm] | None) -> str | None:
    return select.values[0] if select is not None and select.values else None


def _duration(text: str, durations: tuple[int, int]) -> int | None:
    low, high = durations
    value = text.strip().removesuffix("s").strip()
    if not value:
        return None
    if not value.isdigit() or not low <= int(value) <= high:
        raise InvalidInput(f"The duration must be a whole number of seconds, {low} to {high}.")
    return int(value)


def _seed(text: str) -> int | None:
    value = text.strip()
    if not value:
        return None
    low, high = SEED_RANGE
    if not value.isdigit() or not low <= int(value) <= high:
        raise InvalidInput(f"The seed must be a whole number from {low} to {high}, or empty.")
    return int(value)


class DenyForm(RoutedModal):
    """The reason a moderator denies a job for; the member reads it."""

    def __init__(
        self,
        job_id: int,
        *,
        max_reason: int,
        on_submit: Callable[[discord.Interaction, str], Awaitable[None]],
    ) -> None:
        super().__init__(title=f"Deny job #{job_id}")
        self._submitted = on_submit
        self.reason: discord.ui.TextInput[DenyForm] = discord.ui.TextInput(
            style=discord.TextStyle.paragraph,
            max_length=max_reason,
            placeholder="Why it won't be made: the member reads this",
        )
        self.add_item(discord.ui.Label(text="Reason", component=self.reason))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self._submitted(interaction, self.reason.value)


ShotSubmitted = Callable[[discord.Interaction, str, discord.Attachment | None], Awaitable[None]]


class ShotForm(RoutedModal):
    """A storyboard's shot: its prompt (``prompt`` when rewritten) and an optional image,
    whose meaning (``image_means``, at most 100 characters) depends on where the shot comes
    in the film."""

    def __init__(
        self,
        title: str,
        *,
        max_prompt: int,
        image_means: str,
        on_submit: ShotSubmitted,
        prompt: str | None = None,
    ) -> None:
        super().__init__(title=title)
        self._submitted = on_submit
        self.prompt: discord.ui.TextInput[ShotForm] = discord.ui.TextInput(
            style=discord.TextStyle.paragraph,
            default=prompt[:max_prompt] if prompt else None,
            max_length=min(max_prompt, 4000),
            placeholder="What happens in this shot: subject, action, camera, style",
        )
        self.add_item(discord.ui.Label(text="Prompt", component=self.prompt))
        self.image: discord.ui.FileUpload[ShotForm] = discord.ui.FileUpload(
            required=False, max_values=1
        )
        self.add_item(
            discord.ui.Label(text="Image (optional)", description=image_means, component=self.image)
        )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        image = self.image.values[0] if self.image.values else None
        await self._submitted(interaction, self.prompt.value, image)
