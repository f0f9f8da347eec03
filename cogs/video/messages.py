"""What jobs look like in Discord: the status embed, the result embed, their limits.

Pure functions from a `Job` to embeds and text, so every limit Discord enforces (title
256, description 4096, field 1024, footer 2048) is respected in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import discord
from discord import app_commands

from bot.delivery import Outcome
from bot.jobs import Job, JobState
from bot.params import GenerationRequest
from bot.quotas import discord_time, format_money

COLOURS = {
    JobState.ACCEPTED: discord.Colour.light_grey(),
    JobState.SUBMITTING: discord.Colour.light_grey(),
    JobState.QUEUED: discord.Colour.blurple(),
    JobState.PROCESSING: discord.Colour.gold(),
    JobState.SUCCEEDED: discord.Colour.green(),
    JobState.FAILED: discord.Colour.red(),
    JobState.CANCELLED: discord.Colour.dark_grey(),
    JobState.TIMED_OUT: discord.Colour.orange(),
}
STATE_ICONS = {
    JobState.ACCEPTED: "⏳",
    JobState.SUBMITTING: "📨",
    JobState.QUEUED: "🕒",
    JobState.PROCESSING: "🎬",
    JobState.SUCCEEDED: "✅",
    JobState.FAILED: "❌",
    JobState.CANCELLED: "🚫",
    JobState.TIMED_OUT: "⌛",
}
log = logging.getLogger(__name__)

# The result message's footer starts with this: after a crash, delivery finds an earlier
# post by it (the status message's footer starts with "Job #N", so it never matches).
RESULT_MARKER = "Result of job #{job_id}"


def result_marker(job_id: int) -> str:
    return RESULT_MARKER.format(job_id=job_id)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_settings(request: GenerationRequest) -> str:
    parts = [
        f"{request.duration}s",
        request.resolution,
        request.ratio,
        "audio on" if request.generate_audio else "audio off",
    ]
    if request.seed is not None:
        parts.append(f"seed {request.seed}")
    if request.web_search:
        parts.append("web search")
    if request.watermark:
        parts.append("watermark")
    return " · ".join(parts)


def describe_inputs(request: GenerationRequest) -> str | None:
    lines = []
    if request.first_frame:
        lines.append(f"First frame: {clip(request.first_frame.label, 80)}")
    if request.last_frame:
        lines.append(f"Last frame: {clip(request.last_frame.label, 80)}")
    for name, items in (
        ("Reference images", request.reference_images),
        ("Reference videos", request.reference_videos),
        ("Reference audio", request.reference_audios),
    ):
        if items:
            lines.append(f"{name}: {len(items)}")
    if request.reference_asset_ids:
        lines.append(f"Reference assets: {len(request.reference_asset_ids)}")
    return clip("\n".join(lines), 1024) if lines else None


def format_cost(cost: float, currency: str) -> str:
    return f"≈ {format_money(cost, currency)}"


def status_embed(job: Job, *, currency: str, now: float) -> discord.Embed:
    """The public message that follows a job from the command to its result."""
    state = job.state
    title = f"{STATE_ICONS[state]} {job.display_state}"
    embed = discord.Embed(
        title=title,
        description=clip(job.request.prompt, 4000),
        colour=COLOURS[state],
    )
    embed.add_field(name="Requested by", value=f"<@{job.user_id}>", inline=True)
    embed.add_field(name="Settings", value=describe_settings(job.request), inline=True)
    inputs = describe_inputs(job.request)
    if inputs:
        embed.add_field(name="Inputs", value=inputs, inline=False)
    if state.is_terminal:
        ended = job.finished_at or now
        embed.add_field(name="Took", value=_duration_text(ended - job.created_at), inline=True)
    else:
        embed.add_field(name="Started", value=discord_time(job.created_at), inline=True)
    embed.add_field(name="Estimated cost", value=format_cost(job.estimated_cost, currency))
    if job.error and state in (JobState.FAILED, JobState.TIMED_OUT):
        embed.add_field(name="Reason", value=clip(job.error, 1024), inline=False)
    embed.set_footer(text=_footer(job))
    return embed


def result_content(job: Job, outcome: Outcome, *, via_dm: bool, channel_mention: str) -> str:
    """The reply's text: it pings the requester (and only them, by allowed_mentions)."""
    who = f"<@{job.user_id}>"
    where = f" (I couldn't post it in {channel_mention}, so it's here)" if via_dm else ""
    if job.state is JobState.SUCCEEDED:
        if outcome.video is not None:
            text = f"{who} your video is ready{where}."
        elif outcome.link:
            expiry = (
                f" The link expires {discord_time(outcome.link_expires_at)}; save the video before then."
                if outcome.link_expires_at
                else ""
            )
            note = f" {outcome.note}" if outcome.note else ""
            text = f"{who} your video is ready{where}.{note}\n{outcome.link}\n{expiry.strip()}"
        else:
            text = f"{who} the video finished but could not be posted{where}. {outcome.note or ''}"
    elif job.state is JobState.CANCELLED:
        text = f"{who} the video generation was cancelled{where}."
    elif job.state is JobState.TIMED_OUT:
        text = f"{who} the video generation timed out{where}: {job.error or ''}"
    else:
        text = f"{who} the video generation failed{where}: {job.error or 'no reason given'}"
    return clip(text.strip(), 2000)


def result_embed(job: Job, outcome: Outcome) -> discord.Embed:
    state = job.state
    embed = discord.Embed(
        title=f"{STATE_ICONS[state]} {state.label}",
        description=clip(job.request.prompt, 4000),
        colour=COLOURS[state],
    )
    embed.add_field(name="Settings", value=describe_settings(job.request))
    if job.error and state is not JobState.SUCCEEDED:
        embed.add_field(name="Reason", value=clip(job.error, 1024), inline=False)
    if outcome.video is None and job.thumbnail_url:
        embed.set_image(url=job.thumbnail_url)  # a preview when only a link could be posted
    embed.set_footer(text=_footer(job, result_marker(job.id)))
    return embed


def _footer(job: Job, first: str | None = None) -> str:
    parts = [first or f"Job #{job.id}"]
    if job.request_id:
        parts.append(f"request {job.request_id}")
    if job.origin != "generate" and job.parent_job_id:
        parts.append(f"{job.origin} of #{job.parent_job_id}")
    return clip(" · ".join(parts), 2048)


def _duration_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def job_choice_label(job: Job) -> str:
    return clip(
        f"#{job.id} {STATE_ICONS[job.state]} {job.display_state} · {job.request.prompt}", 100
    )


async def job_choices(
    jobs: Awaitable[list[Job]], typed: str, value: Callable[[Job], str]
) -> list[app_commands.Choice[str]]:
    """Autocomplete over ``jobs``: those whose label or request id contains what was typed.

    discord.py only logs errors raised in an autocomplete (the tree's on_error never sees
    them), so a failure is logged here and the member gets an empty list, not a broken
    dropdown."""
    try:
        found = await jobs
    except Exception:
        log.exception("job autocomplete failed")
        return []
    needle = typed.strip().lstrip("#").lower()
    choices = []
    for job in found:
        label = job_choice_label(job)
        if needle and needle not in label.lower() and needle not in (job.request_id or ""):
            continue
        choices.append(app_commands.Choice(name=label, value=value(job)))
    return choices[:25]
