"""The member flows behind the video commands, buttons and menus: start a job (or show its
price first, then confirm or cancel it), cancel one, re-roll, remix or continue one, stitch
several, delete one, page through history and the server's queue.

Each flow takes the interaction and the values it needs, asks the domain, and answers. It
raises `bot.errors.UserError` for anything it won't do; the command tree's error handler
tells the member. Commands (`cog`), menus (`menus`) and buttons (`buttons`) call these;
none imports another.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, cast

import discord

from bot.chaos import crash_point
from bot.db.previews import JobPreview
from bot.errors import Conflict, PermissionDenied, Refused
from bot.jobs.model import Job, JobDraft, JobOrigin
from bot.moderation.requester import Requester
from bot.params import GenerationRequest, local_link_problems
from cogs.shared import (
    NO_MENTIONS,
    JobReference,
    can_see,
    clip,
    delete_job_messages,
    requester_of,
    video_bot,
)

from .components import Listing, page_view, preview_view, status_view
from .messages import (
    chain_text,
    confirmed_text,
    history_line,
    job_links,
    made_by,
    preview_embed,
    queue_embed,
    status_embed,
)
from .modals import FormValues, JobForm
from .poster import missing_post_permissions

if TYPE_CHECKING:
    from bot.app import VideoBot

log = logging.getLogger(__name__)

HISTORY_PAGE_SIZE = 8
QUEUE_PAGE_SIZE = 15
CHILDREN_SHOWN = 10


# Discord fails an interaction not answered within 3 s of sending it. A job whose turn to
# be stored comes later than this after its answer began is not stored (`bot.jobs.model.
# TOO_BUSY`): under an overload the accepts nobody would see are dropped, not queued ahead
# of the ones still in time; the second left is for what came before and the answer itself.
ANSWER_WITHIN = 2.0

# Accepts the new job for the member asking, given the interaction's token.
Accept = Callable[[Requester, str], Awaitable[Job]]


async def start_job(
    interaction: discord.Interaction,
    request: GenerationRequest,
    *,
    origin: JobOrigin,
    parent: Job | None = None,
    first_frame_from: int | None = None,
    source: discord.Message | None = None,
    confirm: bool = False,
) -> None:
    """Accept the job, answer with its public status message, then let the scheduler go;
    or, if the member asked to ``confirm`` or the server wants this job's price confirmed,
    answer with its preview (`start_draft`).

    ``source`` is a member's message whose files the job uses (credited to its author).
    """
    draft = JobDraft(
        request,
        origin=origin,
        parent_job_id=parent.id if parent else None,
        first_frame_from=first_frame_from,
        source_user_id=source.author.id if source else None,
        source_message_id=source.id if source else None,
    )
    await start_draft(interaction, draft, confirm=confirm)


async def start_draft(
    interaction: discord.Interaction, draft: JobDraft, *, confirm: bool = False
) -> None:
    """Every job a member starts comes here (commands, buttons, forms, Apps menus).

    Everything before the answer is local (validation, one SQLite transaction), so the
    3 s deadline holds; the provider is called only after the status message exists.
    Links a member typed must point at the public internet unless the operator allows
    private ones (``ALLOW_PRIVATE_MEDIA_URLS``, for dry runs and tests).
    """
    check_can_start(interaction, draft.request)
    bot = video_bot(interaction)
    requester = requester_of(interaction)
    previews = bot.services.job_previews
    if await previews.wanted(requester, draft, asked=confirm):
        preview = await previews.propose(requester, draft, interaction_token=interaction.token)
        await interaction.response.send_message(
            embed=preview_embed(preview, bot.settings.currency),
            view=preview_view(preview.preview.id),
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )
        return
    service = bot.services.job_service
    await answer_with_new_job(
        interaction,
        lambda requester, token: service.accept_draft(requester, draft, interaction_token=token),
    )


async def confirm_preview(interaction: discord.Interaction, preview_id: int) -> None:
    """Store the previewed job (the limits are checked now) and answer with its public
    status message, as for any job; then the preview says it was confirmed."""
    bot = video_bot(interaction)
    previews = bot.services.job_previews
    preview = await previews.usable(requester_of(interaction), preview_id)
    check_can_start(interaction, preview.draft.request)
    job = await answer_with_new_job(
        interaction,
        lambda requester, token: previews.confirm(requester, preview, interaction_token=token),
    )
    await _mark_confirmed(bot, preview, job)


async def cancel_preview(interaction: discord.Interaction, preview_id: int) -> None:
    await video_bot(interaction).services.job_previews.cancel(
        requester_of(interaction), preview_id
    )
    await interaction.response.edit_message(
        content="Cancelled: nothing was stored or charged.", embed=None, view=None
    )


async def _mark_confirmed(bot: VideoBot, preview: JobPreview, job: Job) -> None:
    """Edit the preview (through the token of the interaction that showed it) to name its
    job, without its buttons. Best effort: a click on a stale one is told anyway."""
    if preview.interaction_token is None or bot.application_id is None:
        return
    webhook = discord.Webhook.partial(bot.application_id, preview.interaction_token, client=bot)
    try:
        # "@original" names the interaction's answer (the preview); discord.py types ids as int.
        await webhook.edit_message(
            cast(int, "@original"), content=confirmed_text(job), view=None
        )
    except discord.HTTPException as error:
        log.info("preview %d: could not mark it confirmed (%s)", preview.id, error.status)


def check_can_start(interaction: discord.Interaction, request: GenerationRequest | None) -> None:
    """Refuse, before anything is stored, a job the bot could not run or post here."""
    bot = video_bot(interaction)
    bot.ensure_taking_jobs()
    missing = _missing_permissions(interaction)
    if missing:
        raise Refused(
            f"I can't post videos in this channel: I'm missing {', '.join(missing)}. "
            "Ask a server admin to grant them to me here, or use another channel."
        )
    if request is not None and not bot.settings.allow_private_media_urls:
        local_links = local_link_problems(request)
        if local_links:
            raise Refused(*local_links)


async def answer_with_new_job(interaction: discord.Interaction, accept: Accept) -> Job:
    """Accept a job and answer with its status message; a job whose answer Discord refused
    is withdrawn (the member never saw it)."""
    bot = video_bot(interaction)
    service = bot.services.job_service
    asking = replace(requester_of(interaction), answer_by=bot.clock() + ANSWER_WITHIN)
    job = await accept(asking, interaction.token)
    crash_point("after_storing")
    try:
        lineage = await bot.services.lineages.of(job)
        response = await interaction.response.send_message(
            embed=status_embed(job, currency=bot.settings.currency, now=bot.clock(), lineage=lineage),
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
    return job


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
    request = service.reroll_request(job)
    await start_job(
        interaction, request, origin=JobOrigin.REROLL, parent=job,
        first_frame_from=job.first_frame_from,
    )  # fmt: skip


async def remix(interaction: discord.Interaction, job_id: int) -> None:
    """Open the form that edits the prompt and the main settings; submitting it starts
    the new job."""
    bot = video_bot(interaction)
    service = bot.services.job_service
    job = await service.get(job_id)
    request = service.rerun_request(job)  # refuses now if the inputs have expired
    check_can_start(interaction, None)
    await interaction.response.send_modal(
        JobForm(
            "Remix this video",
            request,
            max_prompt=bot.settings.prompt_max_chars,
            offer=bot.health.offer,
            on_submit=functools.partial(remix_submitted, job_id=job.id),
        )
    )


async def remix_submitted(
    interaction: discord.Interaction, values: FormValues, *, job_id: int
) -> None:
    service = video_bot(interaction).services.job_service
    job = await service.get(job_id)
    request = service.rerun_request(job, **values.changes())
    await start_job(
        interaction, request, origin=JobOrigin.REMIX, parent=job,
        first_frame_from=job.first_frame_from,
    )  # fmt: skip


async def continue_video(interaction: discord.Interaction, job_id: int) -> None:
    """Open the form that asks what happens next; submitting it starts a job from the last
    frame of this video."""
    bot = video_bot(interaction)
    job = await bot.services.job_service.get(job_id)
    if not job.succeeded:
        raise Conflict(f"#{job.id} has no video to continue.")
    check_can_start(interaction, None)
    await interaction.response.send_modal(
        JobForm(
            "What happens next?",
            job.request.with_changes(seed=None),
            max_prompt=bot.settings.prompt_max_chars,
            offer=bot.health.offer,
            on_submit=functools.partial(continue_submitted, job_id=job.id),
            settings=False,
        )
    )


async def continue_submitted(
    interaction: discord.Interaction, values: FormValues, *, job_id: int
) -> None:
    service = video_bot(interaction).services.job_service
    source = await service.get(job_id)
    draft = service.continuation_draft(
        requester_of(interaction),
        source,
        prompt=values.prompt,
        duration=values.duration,
        seed=values.seed,
    )
    await start_draft(interaction, draft)


async def stitch_chain(interaction: discord.Interaction, job_id: int) -> None:
    """Join this video and the videos it continues, oldest first, into one film."""
    service = video_bot(interaction).services.job_service
    chain = await service.chain_to_stitch(await service.get(job_id))
    await start_stitch(interaction, chain)


async def start_stitch(interaction: discord.Interaction, clips: Sequence[Job]) -> None:
    check_can_start(interaction, None)
    service = video_bot(interaction).services.job_service
    await answer_with_new_job(
        interaction,
        lambda requester, token: service.stitch(requester, clips, interaction_token=token),
    )


async def jobs_named(interaction: discord.Interaction, text: str) -> list[Job]:
    """The jobs a member listed (``#12 #13``, numbers or message links), each one they may
    see, in their order."""
    references = [part for part in re.split(r"[\s,]+", text) if part]
    return [await JobReference().transform(interaction, reference) for reference in references]


async def delete(interaction: discord.Interaction, job_id: int) -> None:
    """Delete a finished job and its messages (its requester, or a moderator)."""
    bot = video_bot(interaction)
    result = await bot.services.job_service.delete(requester_of(interaction), job_id)
    job = result.job
    if result.audit is not None:
        bot.mod_log.record(result.audit)
    await interaction.response.send_message(
        f"Deleted #{job.id} and its messages.", ephemeral=True, allowed_mentions=NO_MENTIONS
    )
    await delete_job_messages(bot, job)


async def job_details(interaction: discord.Interaction, job: Job) -> discord.Embed:
    """`/video status`: where the job is, its messages, and the chain it belongs to."""
    bot = video_bot(interaction)
    lineages = bot.services.lineages
    lineage = await lineages.of(job)
    embed = status_embed(job, currency=bot.settings.currency, now=bot.clock(), lineage=lineage)
    links = job_links(job)
    if links:
        embed.add_field(name="Messages", value=links, inline=False)
    chain = await lineages.ancestry(job)
    if len(chain) > 1 or lineage.clips:
        embed.add_field(name="Chain", value=chain_text(chain, lineage), inline=False)
    children = await bot.services.jobs.children(job.id, limit=CHILDREN_SHOWN)
    if children:
        made = ", ".join(made_by(child) for child in children)
        embed.add_field(name="Built on by", value=clip(made, 1024), inline=False)
    return embed


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
        description = "You haven't made any videos here yet. Try `/video generate text`."
    embed = discord.Embed(title="Your videos", description=clip(description, 4096))
    embed.set_footer(text=f"Page {page + 1} of {pages} · {total} in all")
    return embed, page_view(Listing.HISTORY, user_id, page, pages)


async def queue_page(
    interaction: discord.Interaction, page: int
) -> tuple[discord.Embed, discord.ui.View]:
    """`/video queue`: the server's waiting jobs in the order they go. A member sees the
    jobs they could look up with `/video status` (theirs, and those in channels they can
    view), at their true places; a moderator, every job."""
    services = video_bot(interaction).services
    assert interaction.guild_id is not None
    queue = await services.turns.server_queue(interaction.guild_id)
    places = list(enumerate(queue.entries, 1))
    if not await services.moderators.is_moderator(requester_of(interaction)):
        places = [(place, job) for place, job in places if can_see(interaction, job)]
    pages = max(1, -(-len(places) // QUEUE_PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = places[page * QUEUE_PAGE_SIZE : (page + 1) * QUEUE_PAGE_SIZE]
    embed = queue_embed(
        queue, shown, page=page, pages=pages, hidden=len(queue.entries) - len(places)
    )
    return embed, page_view(Listing.QUEUE, interaction.user.id, page, pages)


async def turn_page(
    interaction: discord.Interaction, listing: Listing, user_id: int, page: int
) -> None:
    if interaction.user.id != user_id:
        raise PermissionDenied(f"That list belongs to someone else: run `/video {listing}`.")
    if listing is Listing.QUEUE:
        embed, view = await queue_page(interaction, page)
    else:
        embed, view = await history_page(user_id, interaction.guild_id, page, interaction)
    await interaction.response.edit_message(embed=embed, view=view)
