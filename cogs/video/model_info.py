"""The `/video info` card: the model as a member wants to read it.

What it makes, how long, at which resolutions and ratios, what it takes besides the prompt,
and what it costs, from what the provider lists (`bot.model_offer.ModelOffer`), never the raw
parameter dump (that is the doctor's, for operators).
"""

from __future__ import annotations

import discord

from bot.gmi import ModelDetail
from bot.markup import money
from bot.model_offer import DEFAULT_DURATION, DEFAULT_RATIO, DEFAULT_RESOLUTION, ModelOffer
from bot.quotas.pricing import PriceTable
from cogs.shared import clip

DESCRIPTION_LIMIT = 1000
COLOUR = discord.Colour.blurple()


def model_embed(
    detail: ModelDetail | None, offer: ModelOffer, *, model: str, prices: PriceTable, currency: str
) -> discord.Embed:
    """The card for ``model``; ``detail`` is ``None`` while the provider hasn't answered."""
    about = ""
    if detail is not None:
        about = detail.brief_description or _first_paragraph(detail.detailed_description)
    embed = discord.Embed(
        title=_display_name(detail) or model,
        description=clip(about or "Short videos from a prompt, images, video and audio.",
                         DESCRIPTION_LIMIT),
        colour=COLOUR,
    )  # fmt: skip
    low, high = offer.durations
    embed.add_field(name="Length", value=f"{low} to {high} seconds (default {DEFAULT_DURATION})")
    embed.add_field(
        name="Resolutions", value=_with_default(offer.resolutions, DEFAULT_RESOLUTION)
    )
    embed.add_field(name="Aspect ratios", value=_with_default(offer.ratios, DEFAULT_RATIO))
    embed.add_field(name="What it takes", value=_inputs(offer), inline=False)
    embed.add_field(name="Cost", value=_cost(offer, prices, currency), inline=False)
    note = f"Model {model}"
    if not offer.from_provider:
        note += " · the provider hasn't answered yet: these are the model's documented values"
    embed.set_footer(text=clip(note, 2048))
    return embed


def _display_name(detail: ModelDetail | None) -> str | None:
    """The heading the provider's description opens with (``# Seedance 2.0 Fast``), if any."""
    if detail is None or not detail.detailed_description:
        return None
    first = detail.detailed_description.strip().splitlines()[0]
    return clip(first.lstrip("# ").strip(), 256) if first.startswith("# ") else None


def _first_paragraph(markdown: str | None) -> str:
    paragraphs = [p.strip() for p in (markdown or "").split("\n\n") if p.strip()]
    return next((p for p in paragraphs if not p.startswith("#")), "")


def _with_default(values: tuple[str, ...], default: str) -> str:
    return ", ".join(f"**{v}** (default)" if v == default else v for v in values)


def _inputs(offer: ModelOffer) -> str:
    lines = ["• A prompt: `/video generate text`"]
    frames = [name for name in ("first_frame", "last_frame") if name in offer.inputs]
    if "first_frame" in frames:
        last = " and optionally the last" if "last_frame" in frames else ""
        lines.append(f"• The first frame{last}, as images: `/video generate frames`")
    sizes = offer.list_sizes
    references = [
        f"up to {sizes[name]} {label}"
        for name, label in (
            ("reference_images", "images"),
            ("reference_videos", "videos"),
            ("reference_audios", "audio files (with an image or video)"),
        )
        if name in offer.inputs
    ]
    if "reference_asset_ids" in offer.inputs:
        references.append("asset ids")
    if references:
        lines.append(f"• References: {', '.join(references)}: `/video generate references`")
    return "\n".join(lines)


def _cost(offer: ModelOffer, prices: PriceTable, currency: str) -> str:
    here = " · ".join(
        f"{resolution} {money(prices.per_second[resolution], currency)}"
        for resolution in offer.resolutions
        if resolution in prices.per_second
    )
    lines = [f"Estimated per second of video here: {here}"]
    if prices.reference_video_multiplier != 1:
        lines.append(f"×{prices.reference_video_multiplier:g} with reference videos")
    if offer.price is not None:
        lines.append(f"The provider lists {offer.price}")
    lines.append("Your limits: `/video quota`")
    return "\n".join(lines)
