"""The options of `/video generate text|frames|references`: the settings the three share
(described once), and how typed options and files become a `GenerationRequest`."""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar, cast

import discord
from discord import app_commands
from discord.utils import resolve_annotation

from bot.errors import Refused
from bot.model_offer import (
    DEFAULT_DURATION,
    DEFAULT_RATIO,
    DEFAULT_RESOLUTION,
    DURATION_RANGE,
    RATIOS,
    RESOLUTIONS,
    SEED_RANGE,
)
from bot.params import GenerationRequest, MediaInput

Prompt = app_commands.Range[str, 1, 4000]
Duration = app_commands.Range[int, DURATION_RANGE[0], DURATION_RANGE[1]]
Seed = app_commands.Range[int, SEED_RANGE[0], SEED_RANGE[1]]
AssetName = app_commands.Range[str, 1, 100]

PROMPT = "What happens in the video: subject, action, camera and style."
DESCRIPTIONS = {
    "duration": f"How long the video is, in seconds ({DURATION_RANGE[0]} to "
    f"{DURATION_RANGE[1]}; default {DEFAULT_DURATION}).",
    "resolution": f"The video's resolution (default {DEFAULT_RESOLUTION}).",
    "ratio": f"The video's shape (default {DEFAULT_RATIO}; adaptive follows your images).",
    "seed": "A number that makes a result repeatable; leave it empty for a random one.",
    "generate_audio": "Whether the video comes with generated sound (default on).",
    "watermark": "Whether the provider's watermark is added (default off).",
    "web_search": "Whether the model may look things up on the web for the prompt (default off).",
    "confirm": "See the estimated cost and what it leaves of your quota first, then confirm "
    "(default off).",
}
CHOICES = {
    "resolution": [app_commands.Choice(name=r, value=r) for r in RESOLUTIONS],
    "ratio": [app_commands.Choice(name=r, value=r) for r in RATIOS],
}


@dataclass(frozen=True)
class VideoSettings:
    """The settings every mode shares, as the member chose them."""

    duration: int = DEFAULT_DURATION
    resolution: str = DEFAULT_RESOLUTION
    ratio: str = DEFAULT_RATIO
    seed: int | None = None
    generate_audio: bool = True
    watermark: bool = False
    web_search: bool = False
    confirm: bool = False  # see the price first (`bot.jobs.previews`): not sent to the model

    def request(self, prompt: str, **inputs: Any) -> GenerationRequest:
        """The request: these settings, the prompt and one mode's inputs."""
        settings = asdict(self)
        del settings["confirm"]
        return GenerationRequest(prompt=prompt, **settings, **inputs)


_SETTINGS_OPTIONS = [
    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind)
    for name, kind, default in (
        ("duration", Duration, DEFAULT_DURATION),
        ("resolution", str, DEFAULT_RESOLUTION),
        ("ratio", str, DEFAULT_RATIO),
        ("seed", Seed | None, None),
        ("generate_audio", bool, True),
        ("watermark", bool, False),
        ("web_search", bool, False),
        ("confirm", bool, False),
    )
]

F = TypeVar("F", bound=Callable[..., Awaitable[None]])


def with_settings(command: F) -> F:
    """Give a ``/video generate`` subcommand the shared settings as options after its own,
    declared and described once here; the subcommand receives them as one ``settings``.

    discord.py reads a command's options from its signature, so the signature it sees is
    the subcommand's own (without ``settings``) followed by `_SETTINGS_OPTIONS`; the own
    annotations are resolved where the subcommand was written, as discord.py would.
    """
    names = command.__globals__
    own = [
        parameter.replace(annotation=resolve_annotation(parameter.annotation, names, names, {}))
        for parameter in inspect.signature(command).parameters.values()
        if parameter.name != "settings"
    ]

    @functools.wraps(command)
    async def callback(*args: Any, **chosen: Any) -> None:
        settings = VideoSettings(**{p.name: chosen.pop(p.name) for p in _SETTINGS_OPTIONS})
        await command(*args, settings=settings, **chosen)

    callback.__signature__ = inspect.Signature([*own, *_SETTINGS_OPTIONS])  # type: ignore[attr-defined]
    described = app_commands.describe(prompt=PROMPT, **DESCRIPTIONS)(callback)
    return cast(F, app_commands.choices(**CHOICES)(described))


def one_image(
    attachment: discord.Attachment | None,
    url: str | None,
    option: str,
    uploads: dict[int, MediaInput],
) -> MediaInput | None:
    """A frame: the file (as `inspect_uploads` read it) or the link typed, not both."""
    if attachment is not None and url:
        raise Refused(f"Give `{option}` either as a file or as `{option}_url`, not both.")
    if attachment is not None:
        return uploads[attachment.id]
    return MediaInput(url=url.strip()) if url else None


def media_list(
    attachments: list[discord.Attachment | None],
    urls: str | None,
    uploads: dict[int, MediaInput],
) -> tuple[MediaInput, ...]:
    """The files of a reference kind, then the links typed (split at spaces and commas)."""
    items = [uploads[a.id] for a in attachments if a is not None]
    items += [MediaInput(url=u) for u in split_links(urls)]
    return tuple(items)


def split_links(text: str | None) -> tuple[str, ...]:
    """Links or ids typed into one option, separated by spaces or commas."""
    return tuple(part for part in re.split(r"[\s,]+", text or "") if part)
