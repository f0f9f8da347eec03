"""The member flows behind the video commands and buttons: start a job, cancel one,
re-roll or remix one, page through history.

Each flow takes the interaction and the values it needs, asks the domain, and answers. It
raises `bot.errors.UserError` for anything it won't do; the command tree's error handler
tells the member. Commands (`cog`) and buttons (`buttons`) both call these; neither
imports the other.
"""

from __future__ import annotations

import functools
import random

import discord

from bot.chaos import crash_point
from bot.errors import PermissionDenied, Refused
from bot.jobs.model import Job, JobOrigin
from bot.params import SEED_RANGE, GenerationRequest, local_link_problems
from cogs.shared import NO_MENTIONS, clip, requester_of, video_bot

from .components import history_view, status_view
from .messages import history_line, status_embed
from .modals import RemixModal
from .poster import missing_post_permissions

HISTORY_PAGE_SIZE = 8


async def start_job(
    interaction: discord.Interaction,
    request: GenerationRequest,
    *,
    origin: JobOrigin,
    parent: Job | None = None,
) -> None:
    """Accept the job, answer with its public status message, then let the scheduler go.

    Everything before the answer is local (validation, one SQLite transaction), so the
    3 s deadline holds; the provider is called only after the status message exists.
    Links a member typed must point at the public internet unless the operator allows
    private ones (``ALLOW_PRIVATE_MEDIA_URLS``, for dry runs and tests).
    """
    bot = video_bot(interaction)
    bot.ensure_taking_jobs()
    missing = _missing_permissions(interaction)
    if missing:
        raise Refused(
            f"I can't post videos in this channel: I'm missing {', '.join(missing)}. "
            "Ask a server admin to grant them to me here, or use another channel."
        )
    if not bot.settings.allow_private_media_urls:
        local_links = local_link_problems(request)
        if local_links:
            raise Refused(*local_links)
    service = bot.services.job_service
    job = await service.accept(
        requester_of(interaction),
        request,
        origin=origin,
        parent_job_id=parent.id if parent else None,
        interaction_token=interaction.token,
    )
    crash_point("after_storing")
    try:
        response = await interaction.response.send_message(
            embed=status_embed(job, currency=bot.settings.currency, now=bot.clock()),
            view=status_view(job.id),
            allowed_mentions=NO_MENTIONS,
        )
    except Exception:
        await service.abandon(job)
        raise
    crash_point("after_status_message")
    message_id = response.message_id
    if message_id is None:  # pragma: no cover - Discord always returns it
        message_id = (await interaction.original_response()).id
    await service.status_message_posted(job, message_id)


def _missing_permissions(interaction: discord.Interaction) -> list[str]:
    channel = interaction.channel
    if interaction.guild is None or channel is None:
        return []
    return missing_post_permissions(
        interaction.app_permissions, is_thread=isinstance(channel, discord.Thread)
    )


async def cancel(interaction: discord.Interaction, job_id: int) -> None:
    bot = video_bot(interaction)
    await bot.services.job_service.cancel(requester_of(interaction), job_id)
    await interaction.response.send_message(
        f"Cancelled job #{job_id}; its status message will say so.", ephemeral=True
    )


async def reroll(interaction: discord.Interaction, job_id: int) -> None:
    """The same request with a new seed, as a new job of the member who clicked."""
    service = video_bot(interaction).services.job_service
    job = await service.get(job_id)
    request = service.rerun_request(job, seed=random.randint(*SEED_RANGE))
    await start_job(interaction, request, origin=JobOrigin.REROLL, parent=job)


async def remix(interaction: discord.Interaction, job_id: int) -> None:
    """Open the form that edits the prompt; submitting it starts the new job."""
    bot = video_bot(interaction)
    service = bot.services.job_service
    job = await service.get(job_id)
    service.rerun_request(job)  # refuses now if the inputs have expired
    await interaction.response.send_modal(
        RemixModal(
            job.request.prompt,
            bot.settings.prompt_max_chars,
            on_submit=functools.partial(remix_submitted, job_id=job.id),
        )
    )


async def remix_submitted(interaction: discord.Interaction, prompt: str, *, job_id: int) -> None:
    service = video_bot(interaction).services.job_service
    job = await service.get(job_id)
    request = service.rerun_request(job, prompt=prompt)
    await start_job(interaction, request, origin=JobOrigin.REMIX, parent=job)


async def history_page(
    user_id: int, guild_id: int | None, page: int, interaction: discord.Interaction
) -> tuple[discord.Embed, discord.ui.View]:
    jobs_repo = video_bot(interaction).services.jobs
    total = await jobs_repo.count_for_user(user_id, guild_id)
    pages = max(1, -(-total // HISTORY_PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    jobs = await jobs_repo.recent_for_user(
        user_id, guild_id, limit=HISTORY_PAGE_SIZE, offset=page * HISTORY_PAGE_SIZE
    )
    if jobs:
        description = "\n".join(history_line(job) for job in jobs)
    else:
        description = "You haven't made any videos here yet. Try `/video generate`."
    embed = discord.Embed(title="Your videos", description=clip(description, 4096))
    embed.set_footer(text=f"Page {page + 1} of {pages} · {total} in all")
    return embed, history_view(user_id, page, pages)


async def turn_history_page(interaction: discord.Interaction, user_id: int, page: int) -> None:
    if interaction.user.id != user_id:
        raise PermissionDenied("That list belongs to someone else: run `/video history`.")
    embed, view = await history_page(user_id, interaction.guild_id, page, interaction)
    await interaction.response.edit_message(embed=embed, view=view)
