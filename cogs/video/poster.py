"""Discord's side of delivery: result replies (or threads), the DM fallback, the gallery
copy, status messages, and the files other jobs build on.

Results are posted as ordinary channel messages (a reply to the status message, or the
first post of a thread started from it), never through the interaction token, which dies
after 15 minutes. A thread started from a message takes the message's id, and Discord
refuses a second one (160004), so starting it again after a crash finds the first. Status
messages are kept true by `StatusEditor`, within Discord's per-channel edit limit. A
continuation's first frame is attached to its own status message: Discord's CDN link to it
is what the provider fetches.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal, cast

import discord

from bot.clock import Clock
from bot.db.jobs import JobRepository
from bot.jobs.delivery import DeliveryRetry, Outcome, Posted, StatusSearch
from bot.jobs.destinations import ResultsIn
from bot.jobs.model import Job
from bot.jobs.sources import SourceFailed
from bot.jobs.videos import VideoUnavailable
from cogs.shared import NO_MENTIONS, clip

from .messages import (
    gallery_content,
    message_link,
    pings_requester,
    result_content,
    result_embed,
    result_marker,
    status_marker,
)
from .status_edits import StatusEditor

log = logging.getLogger(__name__)

DM_UPLOAD_LIMIT = discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES
# However busy the channel, a search for an earlier post reads every message since the job
# finished, for at most this long; past it the post waits (Discord's nonce only dedupes
# within 5 minutes, so posting blind could post twice).
SEARCH_SECONDS = 30.0
# An interaction token lives 15 minutes; use it only while it surely still works.
TOKEN_LIFETIME = 14 * 60.0
# The permissions a result post needs in the job's channel; without them it goes by DM.
NEEDED_TO_POST = (
    "view_channel",
    "send_messages",
    "embed_links",
    "attach_files",
    "read_message_history",
)
# Results in a thread need these too in the channel where the job runs.
NEEDED_FOR_THREADS = ("create_public_threads", "send_messages_in_threads")
THREAD_ARCHIVE_MINUTES: Literal[1440] = 1440  # a day without a message, then archived
THREAD_ALREADY_CREATED = 160004
# Reading a posted result back (its message, then its file of at most 100 MiB).
POSTED_VIDEO_SECONDS = 120.0


def missing_post_permissions(perms: discord.Permissions, *, is_thread: bool) -> list[str]:
    """Names of the permissions the bot lacks to post results in a channel."""
    needed = list(NEEDED_TO_POST)
    if is_thread:
        needed[needed.index("send_messages")] = "send_messages_in_threads"
    return [name for name in needed if not getattr(perms, name)]


def missing_thread_permissions(perms: discord.Permissions) -> list[str]:
    """Names of the permissions the bot lacks to start result threads in a channel."""
    return [name for name in NEEDED_FOR_THREADS if not getattr(perms, name)]


def thread_name(job: Job) -> str:
    return clip(f"#{job.id} {job.request.prompt}".replace("\n", " "), 100)


class DiscordResultChannel:
    def __init__(
        self,
        client: discord.Client,
        jobs: JobRepository,
        *,
        editor: StatusEditor,
        view_for_result: Callable[[Job], Awaitable[discord.ui.View | None]],
        on_undeliverable: Callable[[Job], Awaitable[None]],
        on_gallery_refused: Callable[[Job, int, str], Awaitable[None]],
        clock: Clock,
    ) -> None:
        self.client = client
        self.jobs = jobs
        self.editor = editor
        self.view_for_result = view_for_result
        self.on_undeliverable = on_undeliverable
        self.on_gallery_refused = on_gallery_refused
        self.clock = clock

    # -- where a job's messages go -------------------------------------------------------

    async def _channel(self, job: Job) -> discord.abc.Messageable | None:
        channel = self.client.get_channel(job.channel_id)
        if channel is None:
            try:
                channel = await self.client.fetch_channel(job.channel_id)
            except (discord.NotFound, discord.Forbidden):
                return None
        return channel if isinstance(channel, discord.abc.Messageable) else None

    async def _usable_channel(self, job: Job) -> discord.abc.Messageable | None:
        """The job's channel if the bot may post results there, else ``None`` (use a DM).

        A server on a shard this process doesn't connect (a job taken over from a process
        that is gone) has no gateway state here to compute permissions from: the channel
        is fetched over REST and used as it is; if Discord refuses the post, the result
        goes by DM as usual. Its upload limit is then the unboosted one."""
        channel = await self._channel(job)
        if not isinstance(channel, discord.abc.GuildChannel | discord.Thread):
            return channel
        if self.client.get_guild(channel.guild.id) is None:
            return channel
        perms = channel.permissions_for(channel.guild.me)
        if missing_post_permissions(perms, is_thread=isinstance(channel, discord.Thread)):
            return None
        return channel

    async def upload_limit(self, job: Job) -> int:
        channel = await self._usable_channel(job)
        guild = getattr(channel, "guild", None)
        return guild.filesize_limit if guild is not None else DM_UPLOAD_LIMIT

    # -- status message ------------------------------------------------------------------

    def show_state(self, job: Job) -> None:
        self.editor.request(job)

    async def repair_status_messages(self, since: float) -> int:
        """After a restart: status messages of jobs settled since ``since`` that may not
        show it (a crash or a failed edit) are brought up to date."""
        stale = await self.jobs.with_stale_status(since, limit=1000)
        for job in stale:
            self.editor.request(job)
        return len(stale)

    async def find_status_message(self, job: Job) -> int | StatusSearch:
        """The job's status message when its id was never recorded (a crash between
        answering and recording). While the interaction token lives, Discord says whether
        the answer exists; later, the channel is searched for it."""
        application_id = self.client.application_id
        if job.interaction_token and application_id and self.clock() < job.created_at + TOKEN_LIFETIME:
            webhook = discord.Webhook.partial(application_id, job.interaction_token, client=self.client)
            try:
                # "@original" names the interaction's answer; discord.py types ids as int.
                message = await webhook.fetch_message(cast(int, "@original"))
            except discord.NotFound:
                return StatusSearch.NEVER_SHOWN
            except discord.HTTPException as error:
                raise DeliveryRetry(f"could not look up the answer: {error.status}") from error
            marker = status_marker(job.id)
            if any(_marked(embed.footer.text, marker) for embed in message.embeds):
                return message.id
            return StatusSearch.NEVER_SHOWN  # the member was answered, but not with this job
        channel = await self._channel(job)
        if channel is None:
            return StatusSearch.UNKNOWN
        found = await find_marked(self.client, channel, status_marker(job.id), job.created_at)
        return StatusSearch.NEVER_SHOWN if found is None else found

    async def undeliverable(self, job: Job) -> None:
        await self.on_undeliverable(job)

    # -- result --------------------------------------------------------------------------

    async def find_posted(self, job: Job) -> Posted | None:
        marker = result_marker(job.id)
        since = job.finished_at or job.created_at
        channel = await self._channel(job)
        if channel is not None:
            thread = await self._existing_thread(job, channel)
            for place in (thread, channel):
                found = await find_marked(self.client, place, marker, since) if place is not None else None
                if found is not None:
                    return Posted(found, "channel", getattr(place, "id", job.channel_id))
        user = await self._user(job.user_id)
        if user is not None:
            dm = user.dm_channel or await user.create_dm()
            found = await find_marked(self.client, dm, marker, since)
            if found is not None:
                return Posted(found, "dm", dm.id)
        return None

    async def _existing_thread(
        self, job: Job, channel: discord.abc.Messageable
    ) -> discord.Thread | None:
        """The thread an earlier attempt started from the job's status message, if any."""
        if job.status_message_id is None or not isinstance(channel, discord.TextChannel):
            return None
        try:
            status = await channel.fetch_message(job.status_message_id)
        except (discord.NotFound, discord.Forbidden):
            return None  # gone or unreadable: there is no thread of it to search
        except discord.HTTPException as error:
            raise DeliveryRetry(f"could not read the status message: {error.status}") from error
        return status.thread

    async def _user(self, user_id: int) -> discord.User | None:
        user = self.client.get_user(user_id)
        if user is None:
            try:
                user = await self.client.fetch_user(user_id)
            except discord.HTTPException:
                return None
        return user

    async def post(self, job: Job, outcome: Outcome, results_in: ResultsIn) -> Posted:
        channel = await self._usable_channel(job)
        if channel is not None:
            place = channel
            if results_in is ResultsIn.THREAD:
                place = await self._thread_for(job, channel) or channel
            try:
                message_id = await self._send_result(place, job, outcome, via_dm=False)
                return Posted(message_id, "channel", getattr(place, "id", job.channel_id))
            except discord.Forbidden:
                log.warning("job %d: lost the right to post in channel %d", job.id, job.channel_id)
            except discord.NotFound:
                log.warning("job %d: channel %d is gone", job.id, job.channel_id)
        user = await self._user(job.user_id)
        if user is None:
            return Posted(None, "undeliverable")
        try:
            dm = user.dm_channel or await user.create_dm()
            return Posted(await self._send_result(dm, job, outcome, via_dm=True), "dm", dm.id)
        except discord.Forbidden:
            log.warning("job %d: the requester does not accept DMs; result not posted", job.id)
            return Posted(None, "undeliverable")

    async def _thread_for(
        self, job: Job, channel: discord.abc.Messageable
    ) -> discord.Thread | None:
        """The job's thread, started from its status message (or found, if an earlier
        attempt started it); None where there can be none: the job runs in a thread
        already, or the bot may not start threads here (the result goes in the channel)."""
        if job.status_message_id is None or not isinstance(channel, discord.TextChannel):
            return None
        missing = missing_thread_permissions(channel.permissions_for(channel.guild.me))
        if missing:
            log.warning("job %d: can't start a thread in %d (missing %s)", job.id, channel.id, missing)
            return None
        status = channel.get_partial_message(job.status_message_id)
        try:
            return await status.create_thread(
                name=thread_name(job), auto_archive_duration=THREAD_ARCHIVE_MINUTES
            )
        except discord.HTTPException as error:
            if error.code == THREAD_ALREADY_CREATED:
                return await self._existing_thread(job, channel)
            if isinstance(error, discord.Forbidden | discord.NotFound):
                log.warning("job %d: no thread for it (%s)", job.id, error)
                return None
            raise DeliveryRetry(f"Discord refused the thread: {error.status} {error.text}") from error

    async def _send_result(
        self, target: discord.abc.Messageable, job: Job, outcome: Outcome, *, via_dm: bool
    ) -> int:
        """The result: a reply to the status message in its channel (in a thread or a DM
        there is nothing to reply to), pinging the requester and only them."""
        reference = None
        if not via_dm and job.status_message_id and getattr(target, "id", None) == job.channel_id:
            reference = discord.MessageReference(
                message_id=job.status_message_id,
                channel_id=job.channel_id,
                fail_if_not_exists=False,
            )
        content = result_content(
            job, outcome, via_dm=via_dm, channel_mention=f"<#{job.channel_id}>"
        )
        pinged = [discord.Object(job.user_id)] if pings_requester(job) else []
        mentions = discord.AllowedMentions(
            everyone=False, roles=False, users=pinged, replied_user=False
        )
        return await self._send(
            target, job, outcome, content=content, mentions=mentions, reference=reference,
            nonce=f"job-{job.id}",
        )  # fmt: skip

    async def _send(
        self,
        target: discord.abc.Messageable,
        job: Job,
        outcome: Outcome,
        *,
        content: str,
        mentions: discord.AllowedMentions,
        reference: discord.MessageReference | None,
        nonce: str,
    ) -> int:
        """Send once; a 413 falls back to the link, other server errors are retried later."""
        kwargs: dict[str, Any] = dict(
            content=content,
            embed=result_embed(job, outcome),
            allowed_mentions=mentions,
            nonce=nonce,
        )
        view = await self.view_for_result(job)
        if view is not None:
            kwargs["view"] = view
        if reference is not None:
            kwargs["reference"] = reference
        if outcome.video is not None:
            kwargs["file"] = discord.File(io.BytesIO(outcome.video), filename=outcome.filename)
        try:
            message = await target.send(**kwargs)
        except discord.HTTPException as error:
            if error.status == 413 and outcome.video is not None and job.result_url:
                link_only = Outcome.link_instead(
                    job,
                    self.clock(),
                    note="The video was too large to upload here, so here is a link instead.",
                    lineage=outcome.lineage,
                )
                return await self._send(
                    target, job, link_only, content=content, mentions=mentions,
                    reference=reference, nonce=nonce,
                )  # fmt: skip
            if isinstance(error, (discord.Forbidden, discord.NotFound)):
                raise
            raise DeliveryRetry(f"Discord refused the post: {error.status} {error.text}") from error
        return message.id

    # -- the gallery ---------------------------------------------------------------------

    async def find_gallery_copy(self, job: Job, gallery_id: int) -> int | None:
        gallery = self.client.get_partial_messageable(gallery_id, guild_id=job.guild_id)
        return await find_marked(self.client, gallery, result_marker(job.id), job.finished_at or job.created_at)

    async def post_gallery_copy(self, job: Job, outcome: Outcome, gallery_id: int) -> int | None:
        gallery = self.client.get_channel(gallery_id)
        if not isinstance(gallery, discord.TextChannel):
            await self.on_gallery_refused(job, gallery_id, "it is not a text channel I can see")
            return None
        missing = missing_post_permissions(
            gallery.permissions_for(gallery.guild.me), is_thread=False
        )
        if missing:
            await self.on_gallery_refused(job, gallery_id, f"I'm missing {', '.join(missing)} there")
            return None
        source = None
        if job.result_message_id is not None:
            where = job.result_channel_id or job.channel_id
            source = message_link(job.guild_id, where, job.result_message_id)
        try:
            return await self._send(
                gallery, job, outcome,
                content=gallery_content(job, outcome, source_link=source),
                mentions=NO_MENTIONS, reference=None, nonce=f"gallery-{job.id}",
            )  # fmt: skip
        except (discord.Forbidden, discord.NotFound) as error:
            await self.on_gallery_refused(job, gallery_id, f"Discord said {error.text}")
            return None

    # -- what other jobs build on --------------------------------------------------------

    async def posted_video(self, job: Job) -> bytes | None:
        if job.result_message_id is None or job.delivered_via not in ("channel", "dm"):
            return None
        channel = self.client.get_partial_messageable(
            job.result_channel_id or job.channel_id, guild_id=job.guild_id
        )
        try:
            async with asyncio.timeout(POSTED_VIDEO_SECONDS):
                message = await channel.fetch_message(job.result_message_id)
                for attachment in message.attachments:
                    if (attachment.content_type or "").startswith("video/"):
                        return await attachment.read()
        except (discord.NotFound, discord.Forbidden):
            return None
        except discord.HTTPException as error:
            raise VideoUnavailable(f"Discord: {error.status}", permanent=False) from error
        except TimeoutError as error:
            raise VideoUnavailable("Discord's CDN was too slow", permanent=False) from error
        return None

    async def publish_frame(self, job: Job, image: bytes, filename: str) -> str:
        """Attach the frame to the job's own status message; its CDN link is public."""
        if job.status_message_id is None:
            raise SourceFailed("Its status message is gone, so its first frame can't be posted.")
        status = self.client.get_partial_messageable(
            job.channel_id, guild_id=job.guild_id
        ).get_partial_message(job.status_message_id)
        try:
            async with self.editor.slot(job.channel_id):
                shown = await status.edit(
                    attachments=[discord.File(io.BytesIO(image), filename)]
                )
        except (discord.NotFound, discord.Forbidden) as error:
            raise SourceFailed(
                f"I couldn't attach its first frame to its status message ({error.text})."
            ) from error
        except discord.HTTPException as error:
            raise DeliveryRetry(f"could not attach the frame: {error.status}") from error
        return shown.attachments[0].url


def _marked(footer: str | None, marker: str) -> bool:
    """The footer names this job (``Job #1`` must not match ``Job #12 · ...``)."""
    text = footer or ""
    return text == marker or text.startswith(marker + " ")


async def find_marked(
    client: discord.Client, channel: discord.abc.Messageable, marker: str, since: float
) -> int | None:
    """The bot's message whose footer starts with ``marker``, among every message posted
    since ``since`` (less a minute of clock skew), oldest first, however many there are;
    `DeliveryRetry` if that takes longer than `SEARCH_SECONDS`. None if there is none, or
    the channel can't be read."""
    after = discord.utils.time_snowflake(datetime.fromtimestamp(since - 60, UTC))
    me = client.user
    try:
        async with asyncio.timeout(SEARCH_SECONDS):
            async for message in channel.history(
                limit=None, after=discord.Object(after), oldest_first=True
            ):
                if message.author.id != getattr(me, "id", None):
                    continue
                if any(_marked(e.footer.text, marker) for e in message.embeds):
                    return message.id
    except discord.Forbidden:
        return None
    except TimeoutError as error:
        raise DeliveryRetry("the search for an earlier post took too long") from error
    except discord.HTTPException as error:
        raise DeliveryRetry(f"could not check for an earlier post: {error}") from error
    return None
