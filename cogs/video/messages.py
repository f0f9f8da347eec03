"""What jobs look like in Discord: the status embed, the result message, the quota view,
the price shown before a job is confirmed.

One message per job carries it all: while a job runs its status message shows where it is;
once it ends, the result (a reply, or the first post of its thread) carries the video, the
prompt, the settings and seed, who asked, whose work it builds on and the buttons, and the
status message shrinks to one line pointing at it. Credits name members as mentions inside
embeds (or under allowed mentions that ping no one), so only the requester is pinged.

Pure functions from domain values to embeds and text, so every limit Discord enforces
(title 256, description 4096, field 1024, footer 2048, content 2000) is respected in one
place, and every mention and timestamp is made here, from the ids and times the database
holds. Text someone typed (prompts, file names, links, reasons) goes through `literal`, so
it shows as typed and never formats, mentions or masks a link.
"""

from __future__ import annotations

import re

import discord

from bot.db.assets import LibraryAsset
from bot.db.reviews import Review, ReviewDecision
from bot.db.servers import GuildSettings
from bot.jobs.delivery import Outcome
from bot.jobs.lifecycle import OUTCOME_LABELS, JobOutcome, JobState
from bot.jobs.lineage import NO_LINEAGE, Lineage
from bot.jobs.model import Credit, Job, JobOrigin, ReviewReason
from bot.jobs.previews import Preview
from bot.jobs.turns import ServerQueue
from bot.markup import discord_time, money, plural, when
from bot.params import GenerationRequest
from bot.quotas.catalogue import Metric
from bot.quotas.counting import Meter, usage_of
from bot.quotas.standing import Standing
from cogs.shared import clip, literal

Phase = JobState | JobOutcome

COLOURS: dict[Phase, discord.Colour] = {
    JobState.ACCEPTED: discord.Colour.light_grey(),
    JobState.SUBMITTING: discord.Colour.light_grey(),
    JobState.QUEUED: discord.Colour.blurple(),
    JobState.PROCESSING: discord.Colour.gold(),
    JobOutcome.SUCCEEDED: discord.Colour.green(),
    JobOutcome.FAILED: discord.Colour.red(),
    JobOutcome.CANCELLED: discord.Colour.dark_grey(),
    JobOutcome.TIMED_OUT: discord.Colour.orange(),
    JobOutcome.LOST: discord.Colour.red(),
}
ICONS: dict[Phase, str] = {
    JobState.ACCEPTED: "⏳",
    JobState.SUBMITTING: "📨",
    JobState.QUEUED: "🕒",
    JobState.PROCESSING: "🎬",
    JobOutcome.SUCCEEDED: "✅",
    JobOutcome.FAILED: "❌",
    JobOutcome.CANCELLED: "🚫",
    JobOutcome.TIMED_OUT: "⌛",
    JobOutcome.LOST: "⚠️",
}
UNDELIVERABLE_ICON = "📭"
FILM_ICON = "🎞️"
GALLERY_ICON = "🖼️"

# The result message's footer starts with this: after a crash, delivery finds an earlier
# post by it (the status message's footer starts with "Job #N", so it never matches).
RESULT_MARKER = "Result of job #{job_id}"


def result_marker(job_id: int) -> str:
    return RESULT_MARKER.format(job_id=job_id)


def status_marker(job_id: int) -> str:
    """How the status message's footer starts (a crashed bot finds the message by it)."""
    return f"Job #{job_id}"


_MARKED = re.compile(r"(?:Result of job|Job) #(\d+)(?: |$)")


def marked_job(footers: list[str | None]) -> int | None:
    """The job a message of the bot's is about, read from its embeds' footers (a result,
    a gallery copy or a status message), even before the bot recorded the message's id."""
    for footer in footers:
        found = _MARKED.match(footer or "")
        if found:
            return int(found[1])
    return None


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
        lines.append(f"First frame: {literal(clip(request.first_frame.label, 80))}")
    if request.last_frame:
        lines.append(f"Last frame: {literal(clip(request.last_frame.label, 80))}")
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
    return f"≈ {money(cost, currency)}"


def message_link(guild_id: int | None, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


def result_link(job: Job) -> str | None:
    """The link to the job's result in the server (None: not posted there, or by DM)."""
    if job.result_message_id is None or job.delivered_via != "channel":
        return None
    return message_link(job.guild_id, job.result_channel_id or job.channel_id, job.result_message_id)


def credit_text(credit: Credit) -> str:
    """``#12 by @alice``: a mention that pings no one (embeds never ping)."""
    return f"#{credit.job_id} by <@{credit.user_id}>"


def lineage_text(job: Job, lineage: Lineage) -> str | None:
    """Whose work ``job`` builds on, in words: "continues #12 by @alice"."""
    if job.origin == JobOrigin.STITCH:
        return "joins " + " → ".join(credit_text(clip) for clip in lineage.clips)
    parent = credit_text(lineage.parent) if lineage.parent else None
    if parent is None and job.parent_job_id:
        parent = f"#{job.parent_job_id}"
    source = None
    if job.source_user_id is not None and job.source_message_id is not None:
        link = message_link(job.guild_id, job.channel_id, job.source_message_id)
        source = f"[a message]({link}) by <@{job.source_user_id}>"
    if job.origin == JobOrigin.ANIMATE:
        return f"animates an image from {parent or source or 'a message'}"
    if job.origin == JobOrigin.REFERENCE:
        return f"uses the files of {parent or source or 'a message'} as references"
    words = {
        JobOrigin.REROLL: "re-roll of",
        JobOrigin.REMIX: "remix of",
        JobOrigin.CONTINUE: "continues",
    }.get(JobOrigin(job.origin))
    return f"{words} {parent}" if words and parent else None


def _film_settings(job: Job, lineage: Lineage, seconds: float | None = None) -> str:
    """A stitch's clips, its length (the joined video's once it is made), its picture."""
    length = _duration_text(round(seconds) if seconds is not None else job.request.duration)
    return f"{len(lineage.clips)} clips · {length} · {job.request.resolution}"


def reason_text(job: Job) -> str | None:
    """Why a job ended the way it did, as the member reads it (the provider's words shown
    as text)."""
    error = literal(job.error) if job.error else None
    if job.outcome is JobOutcome.CANCELLED and job.cancelled_by:
        return f"Cancelled by <@{job.cancelled_by}>." + (f" {error}" if error else "")
    return error


def job_title(job: Job) -> str:
    icon = UNDELIVERABLE_ICON if job.state is JobState.UNDELIVERABLE else ICONS[job.phase]
    return f"{icon} {job.display_state}"


def took_text(job: Job, now: float) -> str:
    """How long the video took: the provider's own time when it says, else ours."""
    seconds = job.provider_seconds
    if seconds is None:
        seconds = (job.finished_at or now) - job.created_at
    return _duration_text(seconds)


def status_embed(
    job: Job,
    *,
    currency: str,
    now: float,
    lineage: Lineage = NO_LINEAGE,
    queue_position: int | None = None,
) -> discord.Embed:
    """The public message that follows a job from the command to its result: where it is,
    since when, and when it should be ready (a Discord timestamp counts down by itself)."""
    embed = discord.Embed(
        title=job_title(job),
        description=clip(literal(job.request.prompt), 4000),
        colour=COLOURS[job.phase],
    )
    embed.add_field(name="Requested by", value=f"<@{job.user_id}>", inline=True)
    settings = describe_settings(job.request) if job.calls_provider else _film_settings(job, lineage)
    embed.add_field(name="Settings", value=settings, inline=True)
    _add_lineage(embed, job, lineage)
    if job.awaits_first_frame:
        embed.add_field(
            name="First frame",
            value=f"the last frame of #{job.first_frame_from}, taken when it starts",
            inline=False,
        )
    inputs = describe_inputs(job.request) if job.first_frame_from is None else None
    if inputs:
        embed.add_field(name="Inputs", value=inputs, inline=False)
    if job.has_ended:
        embed.add_field(name="Took", value=took_text(job, now), inline=True)
    else:
        embed.add_field(name="Started", value=discord_time(job.created_at), inline=True)
        if queue_position:
            embed.add_field(name="Place in queue", value=f"{queue_position}", inline=True)
        elif job.predicted_finish_at is not None:
            ready = max(job.predicted_finish_at, now)
            embed.add_field(name="Ready", value=f"about {discord_time(ready)}", inline=True)
    if job.calls_provider:
        embed.add_field(name="Estimated cost", value=format_cost(job.estimated_cost, currency))
    if job.held:
        embed.add_field(name="Review", value=HELD_TEXT, inline=False)
    reason = reason_text(job)
    explained = job.outcome in (JobOutcome.FAILED, JobOutcome.TIMED_OUT, JobOutcome.LOST)
    if reason and (explained or job.outcome is JobOutcome.CANCELLED and job.error):
        embed.add_field(name="Reason", value=clip(reason, 1024), inline=False)
    if job.state is JobState.UNDELIVERABLE:
        embed.add_field(
            name="Not delivered",
            value="I could post it neither here nor by DM; the quota was given back.",
            inline=False,
        )
    embed.set_footer(text=_footer(job))
    return embed


HELD_TEXT = (
    "This server's moderators review jobs like this one before they are made: it starts "
    "once one approves it (its quota is held for it meanwhile), and you'll be told either "
    "way. **Cancel** still works."
)


PREVIEW_REVIEW_TEXT = (
    "This server's moderators review jobs like this one before they are made: once you "
    "confirm, it waits for one to approve it (its quota is held for it meanwhile)."
)


def confirmed_text(job: Job) -> str:
    """What a confirmed preview says: which job it became, and if it waits for review."""
    text = f"✅ Confirmed: this is job #{job.id}, below."
    return f"{text} It waits for a moderator's review." if job.held else text


def _add_lineage(embed: discord.Embed, job: Job, lineage: Lineage) -> None:
    text = lineage_text(job, lineage)
    if text:
        embed.add_field(name="Builds on", value=clip(text, 1024), inline=False)


# How the status message's last line says each outcome ("✅ **#1** by @a is ready: …").
STATUS_VERBS: dict[JobOutcome, str] = {
    JobOutcome.SUCCEEDED: "is ready",
    JobOutcome.FAILED: "failed",
    JobOutcome.CANCELLED: "was cancelled",
    JobOutcome.TIMED_OUT: "timed out",
    JobOutcome.LOST: "could not be had",
}


def status_pointer(job: Job) -> str | None:
    """The status message's last look: one line pointing at the result (None while the
    job runs, or when there is no result to point at and the embed must stay)."""
    if job.state is not JobState.DELIVERED or job.outcome is None:
        return None
    icon = FILM_ICON if not job.calls_provider and job.succeeded else ICONS[job.outcome]
    head = f"{icon} **#{job.id}** by <@{job.user_id}>"
    verb = STATUS_VERBS[job.outcome]
    if job.delivered_via == "dm":
        return f"{head} {verb}; I couldn't post here, so it went by DM."
    if job.result_message_id is None:
        return f"{head} {verb}."
    channel_id = job.result_channel_id or job.channel_id
    where = " in its thread" if channel_id == job.status_message_id else ""
    return f"{head} {verb}{where}: {message_link(job.guild_id, channel_id, job.result_message_id)}"


def pings_requester(job: Job) -> bool:
    """Whether the result pings its requester: not when they cancelled it themselves."""
    return not (job.outcome is JobOutcome.CANCELLED and job.cancelled_by == job.user_id)


def result_content(job: Job, outcome: Outcome, *, via_dm: bool, channel_mention: str) -> str:
    """The reply's text: it pings the requester (and only them, by allowed_mentions), unless
    `pings_requester` says they know already."""
    who = f"<@{job.user_id}>"
    where = f" (I couldn't post it in {channel_mention}, so it's here)" if via_dm else ""
    what = "your video" if job.calls_provider else "your stitched film"
    if job.outcome is JobOutcome.SUCCEEDED:
        if outcome.video is not None:
            text = f"{who} {what} is ready{where}."
        elif outcome.link:
            expiry = (
                f" The link expires {discord_time(outcome.link_expires_at)}; save the video before then."
                if outcome.link_expires_at
                else ""
            )
            note = f" {outcome.note}" if outcome.note else ""
            text = f"{who} {what} is ready{where}.{note}\n{outcome.link}\n{expiry.strip()}"
        else:
            text = f"{who} {what} finished but could not be posted{where}. {outcome.note or ''}"
    elif job.outcome is JobOutcome.CANCELLED and not pings_requester(job):
        text = f"{who} cancelled this video generation{where}."
    elif job.outcome is JobOutcome.CANCELLED:
        text = f"{who} the video generation was cancelled{where}."
        if job.error:  # why: a moderator's review, or none to be had
            text += f" {literal(job.error)}"
    elif job.outcome is JobOutcome.TIMED_OUT:
        text = f"{who} the video generation timed out{where}: {reason_text(job) or ''}"
    elif job.outcome is JobOutcome.LOST:
        text = f"{who} {what} could not be had{where}: {reason_text(job) or ''} "
        if job.calls_provider:
            text += "Your quota was given back."
    else:
        text = f"{who} the video generation failed{where}: {reason_text(job) or 'no reason given'}"
    return clip(text.strip(), 2000)


def gallery_content(job: Job, outcome: Outcome, *, source_link: str | None) -> str:
    """The gallery copy's text: who made it, whose work it builds on, where it came from
    (pinging no one)."""
    others = [f"<@{user}>" for user in outcome.lineage.members if user != job.user_id]
    if not job.calls_provider:
        credits = ", ".join(f"<@{user}>" for user in outcome.lineage.members)
        made = f"a film by <@{job.user_id}> of clips by {credits}"
    else:
        made = f"a video by <@{job.user_id}>"
        if others:
            made += f", building on work by {', '.join(others)}"
    origin = f", from {source_link}" if source_link else ""
    return clip(f"{GALLERY_ICON} **#{job.id}**: {made}{origin}", 2000)


def result_embed(job: Job, outcome: Outcome) -> discord.Embed:
    """Everything about a finished job, on the message that carries its video."""
    assert job.outcome is not None, "only an ended job has a result"
    lineage = outcome.lineage
    film = not job.calls_provider
    if film and job.succeeded:
        title = f"{FILM_ICON} #{job.id} · A film of {len(lineage.clips)} clips"
        description = clip(lineage_text(job, lineage) or "", 4000).replace("joins ", "", 1)
    else:
        title = f"{ICONS[job.outcome]} #{job.id} · {OUTCOME_LABELS[job.outcome]}"
        description = clip(literal(job.request.prompt), 4000)
    embed = discord.Embed(title=title, description=description, colour=COLOURS[job.outcome])
    embed.add_field(name="Requested by", value=f"<@{job.user_id}>", inline=True)
    settings = (
        _film_settings(job, lineage, outcome.seconds) if film else describe_settings(job.request)
    )
    embed.add_field(name="Settings", value=settings, inline=True)
    if not film:
        _add_lineage(embed, job, lineage)
    inputs = describe_inputs(job.request) if job.first_frame_from is None else None
    if inputs:
        embed.add_field(name="Inputs", value=inputs, inline=False)
    if outcome.fitted and outcome.link:
        original = f"[the original]({outcome.link})"
        if outcome.link_expires_at:
            original += f", until {discord_time(outcome.link_expires_at)}"
        embed.add_field(
            name="Fitted to the upload limit", value=clip(f"{outcome.note} Download {original}.", 1024),
            inline=False,
        )  # fmt: skip
    reason = reason_text(job)
    if reason and not job.succeeded:
        embed.add_field(name="Reason", value=clip(reason, 1024), inline=False)
    if outcome.video is None and job.thumbnail_url:
        embed.set_image(url=job.thumbnail_url)  # a preview when only a link could be posted
    embed.set_footer(text=_footer(job, result_marker(job.id)))
    return embed


def review_marker(job_id: int) -> str:
    """The review message's footer (a retried post looks for it first)."""
    return f"Review of job #{job_id}"


REVIEW_LOOKS: dict[ReviewDecision | None, tuple[str, str, discord.Colour]] = {
    None: ("🛂", "Waiting for review", discord.Colour.gold()),
    ReviewDecision.APPROVED: ("✅", "Approved", discord.Colour.green()),
    ReviewDecision.DENIED: ("⛔", "Denied", discord.Colour.red()),
    ReviewDecision.EXPIRED: ("⌛", "Expired undecided", discord.Colour.orange()),
    ReviewDecision.WITHDRAWN: ("🚫", "Withdrawn", discord.Colour.dark_grey()),
    ReviewDecision.UNPOSTABLE: ("📭", "Not reviewable", discord.Colour.dark_grey()),
}


def review_reason_text(
    reason: ReviewReason, job: Job, settings: GuildSettings, currency: str
) -> str:
    """One rule that holds the job, as the moderators read it (amounts as set now)."""
    if reason is ReviewReason.COST:
        above = settings.review_cost_above
        limit = f" the review amount of {money(above, currency)}" if above is not None else " the review amount"
        return f"its estimated cost, {money(job.estimated_cost, currency)}, is above{limit}"
    if reason is ReviewReason.REFERENCE_VIDEOS:
        return f"it uses {plural(len(job.request.reference_videos), 'reference video')}"
    role = settings.review_unless_role_id
    return f"<@{job.user_id}> doesn't have the <@&{role}> role" if role else "of its member's roles"


def review_embed(
    job: Job, review: Review, *, settings: GuildSettings, currency: str
) -> discord.Embed:
    """The message moderators decide on: the request (the prompt as typed, never
    formatted), who asked, why it needs a review; once decided, who decided and why."""
    icon, label, colour = REVIEW_LOOKS[review.decision]
    embed = discord.Embed(
        title=f"{icon} {label}: job #{job.id}",
        description=clip(literal(job.request.prompt), 4000),
        colour=colour,
    )
    embed.add_field(name="Requested by", value=f"<@{job.user_id}> in <#{job.channel_id}>")
    embed.add_field(name="Estimated cost", value=format_cost(job.estimated_cost, currency))
    embed.add_field(name="Settings", value=describe_settings(job.request), inline=False)
    inputs = describe_inputs(job.request)
    if inputs:
        embed.add_field(name="Inputs", value=inputs, inline=False)
    why = "; ".join(review_reason_text(r, job, settings, currency) for r in review.reasons)
    embed.add_field(name="Needs review because", value=clip(why, 1024), inline=False)
    if job.status_message_id:
        link = message_link(job.guild_id, job.channel_id, job.status_message_id)
        embed.add_field(name="Status message", value=link, inline=False)
    embed.add_field(name="Decision", value=clip(decision_text(review), 1024), inline=False)
    embed.set_footer(text=review_marker(job.id))
    return embed


def decision_text(review: Review) -> str:
    """Where a review stands: what to do, or who decided what and when."""
    at = discord_time(review.decided_at) if review.decided_at is not None else ""
    if review.decision is None:
        return (
            f"Approve to make it, or Deny with a reason; undecided, it ends without charge "
            f"{discord_time(review.expires_at)}."
        )
    if review.decision is ReviewDecision.APPROVED:
        return f"Approved by <@{review.decided_by}> {at}."
    if review.decision is ReviewDecision.DENIED:
        return f"Denied by <@{review.decided_by}> {at}: {literal(review.reason or '')}"
    if review.decision is ReviewDecision.EXPIRED:
        return f"Nobody decided within a day; it ended without charge {at}."
    if review.decision is ReviewDecision.WITHDRAWN:
        return f"Its member cancelled it before a decision {at}."
    return "It ended without charge: its review could not be posted."


def review_notice(job: Job, review: Review, *, queue_held: bool) -> str:
    """The reply on the member's status message when a moderator approved their job (a
    denial reaches them as the job's outcome, like any other); ``queue_held``: it goes to
    the model only when its turn comes."""
    then = (
        "it waits for its turn in the queue (`/video queue`)." if queue_held else "it's being made now."
    )
    return f"<@{job.user_id}> <@{review.decided_by}> approved your video #{job.id}: {then}"


def _footer(job: Job, first: str | None = None) -> str:
    parts = [first or f"Job #{job.id}"]
    if job.request_id:
        parts.append(f"request {job.request_id}")
    return clip(" · ".join(parts), 2048)


def _duration_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def job_links(job: Job) -> str:
    """Links to the job's status and result messages, for the member's own lists."""
    links = []
    if job.status_message_id:
        status = message_link(job.guild_id, job.channel_id, job.status_message_id)
        links.append(f"[status message]({status})")
    result = result_link(job)
    if result is not None:
        links.append(f"[result]({result})")
    return " · ".join(links)


def origin_words(job: Job) -> str | None:
    """A job's origin in a few words for lists: "continues #12", "stitch of 3 clips"."""
    if job.origin == JobOrigin.STITCH:
        return job.request.prompt.lower()
    words = {
        JobOrigin.REROLL: "re-roll of",
        JobOrigin.REMIX: "remix of",
        JobOrigin.CONTINUE: "continues",
        JobOrigin.ANIMATE: "animates an image from",
        JobOrigin.REFERENCE: "references",
    }.get(JobOrigin(job.origin))
    if words is None:
        return None
    if job.parent_job_id:
        return f"{words} #{job.parent_job_id}"
    return f"{words} a message" if job.source_message_id else None


def history_line(job: Job) -> str:
    # A stitch's prompt is its origin ("Stitch of #1, #2"): said once.
    prompt = literal(clip(job.request.prompt, 80)) if job.calls_provider else None
    parts = (
        f"{ICONS[job.phase]} **#{job.id}** {job.display_state}",
        discord_time(job.created_at),
        prompt,
        origin_words(job),
        job_links(job),
    )
    return " · ".join(part for part in parts if part)


def queue_embed(
    queue: ServerQueue, shown: list[tuple[int, Job]], *, page: int, pages: int, hidden: int
) -> discord.Embed:
    """`/video queue`: what holds the server's queue, then its jobs with their places
    (``shown``: this page's), whose, what, and since when they wait."""
    lines = [queue_holds(queue), ""]
    lines += [
        f"**{place}.** #{job.id} <@{job.user_id}> · “{literal(clip(job.request.prompt, 60))}” · "
        f"waiting since {discord_time(job.created_at)}"
        for place, job in shown
    ]
    if not queue.entries:
        lines.append("No job is waiting: each goes to the model as soon as it is ready.")
    if hidden:
        lines.append(f"\n{plural(hidden, 'more job')} in channels you can't see.")
    embed = discord.Embed(title="Queue", description=clip("\n".join(lines), 4096))
    embed.set_footer(text=f"Page {page + 1} of {pages} · {len(queue.entries)} waiting")
    return embed


def queue_holds(queue: ServerQueue) -> str:
    """Which cap holds the queue back now, if any; the server's first (its own setting)."""
    if queue.held_by_server_cap:
        return (
            f"⏸️ Held by this server's cap: {queue.in_flight} of {queue.cap} jobs are at the "
            "model; the next goes when one finishes."
        )
    if queue.held_by_bot_cap:
        return (
            f"⏸️ Held by the bot-wide cap: {queue.bot_in_flight} of {queue.bot_cap} jobs of "
            "every server are at the model; the next goes when one finishes."
        )
    if queue.provider_holding:
        return "⏸️ Held by the provider's rate limit: jobs go as fast as it allows."
    return "▶️ Nothing holds the queue: jobs go as soon as they are ready."


ORIGIN_NAMES = {
    JobOrigin.GENERATE: "new",
    JobOrigin.REROLL: "re-roll",
    JobOrigin.REMIX: "remix",
    JobOrigin.CONTINUE: "continuation",
    JobOrigin.ANIMATE: "animation",
    JobOrigin.REFERENCE: "with references",
    JobOrigin.STITCH: "stitch",
}


def made_by(job: Job) -> str:
    """``#13 by @bob (continuation)``, pinging no one where it is shown."""
    return f"#{job.id} by <@{job.user_id}> ({ORIGIN_NAMES[JobOrigin(job.origin)]})"


def chain_text(chain: list[Job], lineage: Lineage) -> str:
    """How a job came to be, oldest first: ``#10 by @a (new) → #11 by @b (continuation)``."""
    steps = [made_by(job) for job in chain]
    text = " → ".join(steps)
    if lineage.clips:
        text += "\nJoins " + " → ".join(credit_text(c) for c in lineage.clips)
    return clip(text, 1024)


# -- /video quota ------------------------------------------------------------------------

_METRIC_NOUNS = {Metric.GENERATIONS: "video", Metric.SECONDS: "second"}


def _amount(meter: Meter, value: float, currency: str) -> str:
    if meter.metric is Metric.COST:
        return f"{money(value, currency)} of estimated cost"
    return plural(value, _METRIC_NOUNS[meter.metric])


def meter_text(meter: Meter, currency: str) -> str:
    """``1 of 2 videos (set for the whole server)``, as the member reads their own."""
    limit = meter.limit or 0.0

    def amount(value: float) -> str:
        return _amount(meter, value, currency)

    if meter.used > limit:
        text = f"{amount(meter.used)}, over your limit of {amount(limit)}"
    elif meter.metric is Metric.COST:
        text = f"{money(meter.used, currency)} of {amount(limit)}"
    else:
        text = f"{meter.used:g} of {amount(limit)}"
    return f"{text} ({meter.source.for_member()})"


def standing_lines(standing: Standing, currency: str) -> list[str]:
    """What `/video quota` shows, one line per limit that applies; times as timestamps."""
    out = []
    if standing.limits.exempt:
        out.append(
            "🛡️ As a moderator you're exempt from member limits here (a server setting); "
            "the server's budget still applies."
        )
    if standing.block is not None:
        block = standing.block
        until = when(block.expires_at) if block.expires_at else "until lifted"
        out.append(f"⛔ Blocked from generating: {literal(block.reason)} ({until}).")
    for window in standing.windows:
        parts = [meter_text(m, currency) for m in window.meters if m.limit is not None]
        if parts:
            out.append(
                f"**{window.window.this.capitalize()}:** "
                + ", ".join(parts)
                + f"; resets {when(window.resets_at)}"
            )
    most = standing.limits.quantity("concurrent_jobs")
    if most is not None:
        out.append(f"In progress: {standing.active_jobs} of {most:g} at once.")
    if standing.cooldown_until is not None:
        out.append(f"Next request allowed {discord_time(standing.cooldown_until)}.")
    budget = standing.budget
    if budget.budget is not None:
        out.append(
            f"Server budget: {money(budget.spent, currency)} of "
            f"{money(budget.budget, currency)} spent this month; resets {when(budget.resets_at)}."
        )
    if not out:
        out.append("No limits apply to you here.")
    return out


def quota_embed(standing: Standing, currency: str) -> discord.Embed:
    return discord.Embed(
        title="Your video allowance",
        description=clip("\n".join(standing_lines(standing, currency)), 4096),
        colour=discord.Colour.blurple(),
    )


# -- a job's preview (price before spending) ---------------------------------------------


def left_text(meter: Meter, preview: Preview, currency: str) -> str:
    """``4 of 5 videos left``: what one limit keeps once the previewed job is counted."""
    left = meter.left_after(preview.asked) or 0.0
    if left < -1e-9:
        needs = _amount(meter, usage_of(preview.asked, meter.metric), currency)
        remaining = _amount(meter, meter.remaining or 0.0, currency)
        return f"⚠️ not enough: {remaining} left, this needs {needs}"
    if meter.metric is Metric.COST:
        return f"{money(left, currency)} of {money(meter.limit or 0.0, currency)} left"
    return f"{left:g} of {_amount(meter, meter.limit or 0.0, currency)} left"


def leaves_lines(preview: Preview, currency: str) -> list[str]:
    """What the job leaves in each window that limits the member, and of the budget."""
    standing, out = preview.standing, []
    for window in standing.windows:
        parts = [left_text(m, preview, currency) for m in window.meters if m.limit is not None]
        if parts:
            out.append(
                f"**{window.window.this.capitalize()}:** "
                + ", ".join(parts)
                + f" (resets {discord_time(window.resets_at)})"
            )
    budget = standing.budget
    left = budget.left_after(preview.preview.estimated_cost)
    if budget.budget is not None and left is not None:
        if left < -1e-9:
            out.append(
                f"**Server budget:** ⚠️ not enough: {money(budget.remaining or 0.0, currency)} "
                f"left this month, this needs {money(preview.preview.estimated_cost, currency)}"
            )
        else:
            out.append(
                f"**Server budget:** {money(left, currency)} of "
                f"{money(budget.budget, currency)} left this month"
            )
    if not out:
        out.append("No quota or budget limits this job here.")
    if standing.limits.exempt:
        out.append("🛡️ As a moderator you're exempt from member limits here.")
    return out


def preview_embed(preview: Preview, currency: str) -> discord.Embed:
    """The private answer that shows a job's price before it is stored: what it asks,
    what it costs, and what it leaves; Confirm stores it, Cancel drops it."""
    shown = preview.preview
    draft = shown.draft
    embed = discord.Embed(
        title="💰 Confirm this video?",
        description=clip(literal(draft.request.prompt), 1000),
        colour=discord.Colour.gold(),
    )
    embed.add_field(name="Settings", value=describe_settings(draft.request), inline=True)
    embed.add_field(
        name="Estimated cost", value=format_cost(shown.estimated_cost, currency), inline=True
    )
    if draft.parent_job_id is not None:
        embed.add_field(name="Builds on", value=f"#{draft.parent_job_id}", inline=True)
    if draft.first_frame_from is not None:
        embed.add_field(
            name="First frame",
            value=f"the last frame of #{draft.first_frame_from}",
            inline=False,
        )
    inputs = describe_inputs(draft.request)
    if inputs:
        embed.add_field(name="Inputs", value=inputs, inline=False)
    embed.add_field(
        name="What it leaves you",
        value=clip("\n".join(leaves_lines(preview, currency)), 1024),
        inline=False,
    )
    if preview.review_reasons:
        embed.add_field(name="Review", value=PREVIEW_REVIEW_TEXT, inline=False)
    embed.add_field(
        name="Confirm by", value=discord_time(shown.expires_at, "R"), inline=False
    )
    embed.set_footer(
        text="Nothing is stored or charged until you press Confirm; your limits are checked "
        "again then."
    )
    return embed
# -- the asset library -------------------------------------------------------------------

ASSET_KIND_WORDS = {"image": "image", "video": "video", "audio": "audio", "asset": "provider asset"}


def asset_label(asset: LibraryAsset) -> str:
    """An asset as a choice or a list shows it: its name, what it is, whether it is gone."""
    gone = ", file missing" if asset.missing_since is not None else ""
    return f"{asset.name} ({ASSET_KIND_WORDS[asset.kind]}{gone})"


def _asset_line(asset: LibraryAsset) -> str:
    line = f"**{literal(asset.name)}** · {ASSET_KIND_WORDS[asset.kind]}"
    if asset.channel_id is not None and asset.message_id is not None:
        line += f" · [file]({message_link(asset.guild_id, asset.channel_id, asset.message_id)})"
    if asset.seconds is not None:
        line += f" · {asset.seconds:.1f} s"
    line += f" · added by <@{asset.added_by}> {discord_time(asset.added_at)}"
    if asset.missing_since is not None:
        line += " · ⚠️ its file is gone from Discord: it can't be used"
    return line


def library_embed(assets: list[LibraryAsset]) -> discord.Embed:
    """The server's library, for members and moderators alike."""
    lines = [_asset_line(asset) for asset in assets]
    return discord.Embed(
        title="The server's asset library",
        description=clip(
            "\n".join(lines)
            or "The library is empty: moderators add assets with `/videoadmin asset add`.",
            4096,
        ),
        colour=discord.Colour.blurple(),
    ).set_footer(text="Use them with the asset options of /video generate references.")
