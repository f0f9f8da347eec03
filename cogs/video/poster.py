"""Discord's side of delivery: result replies, the DM fallback, status messages.

Results are posted as ordinary channel messages (a reply to the status message), never
through the interaction token, which dies after 15 minutes. Status messages are kept true
by `StatusEditor`, within Discord's per-channel edit limit.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast

import discord

from bot.clock import Clock
from bot.db.jobs import JobRepository
from bot.jobs.delivery import DeliveryRetry, Outcome, Posted, StatusSearch
from bot.jobs.model import Job

from .messages import result_content, result_embed, result_marker, status_marker
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


def missing_post_permissions(perms: discord.Permissions, *, is_thread: bool) -> list[str]:
    """Names of the permissions the bot lacks to post results in a channel."""
    needed = list(NEEDED_TO_POST)
    if is_thread:
        needed[needed.index("send_messages")] = "send_messages_in_threads"
    return [name for name in needed if not getattr(perms, name)]


class DiscordResultChannel:
    def __init__(
        self,
        client: discord.Client,
        jobs: JobRepository,
        *,
        editor: StatusEditor,
        view_for_result: Callable[[Job], discord.ui.View | None],
        on_undeliverable: Callable[[Job], Awaitable[None]],
        clock: Clock,
    ) -> None:
        self.client = client
        self.jobs = jobs
        self.editor = editor
        self.view_for_result = view_for_result
        self.on_undeliverable = on_undeliverable
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
        found = await self._search(channel, status_marker(job.id), job.created_at)
        return StatusSearch.NEVER_SHOWN if found is None else found

    async def undeliverable(self, job: Job) -> None:
        await self.on_undeliverable(job)

    # -- result --------------------------------------------------------------------------

    async def find_posted(self, job: Job) -> Posted | None:
        marker = result_marker(job.id)
        since = job.finished_at or job.created_at
        channel = await self._channel(job)
        if channel is not None:
            found = await self._search(channel, marker, since)
            if found is not None:
                return Posted(found, "channel")
        user = await self._user(job.user_id)
        if user is not None:
            dm = user.dm_channel or await user.create_dm()
            found = await self._search(dm, marker, since)
            if found is not None:
                return Posted(found, "dm")
        return None

    async def _search(
        self, channel: discord.abc.Messageable, marker: str, since: float
    ) -> int | None:
        """Our message whose footer starts with ``marker``, among every message posted
        since ``since`` (less a minute of clock skew), oldest first, however many there
        are; `DeliveryRetry` if that takes longer than `SEARCH_SECONDS`."""
        after = discord.utils.time_snowflake(datetime.fromtimestamp(since - 60, UTC))
        me = self.client.user
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
            return None  # unreadable now: the result will go by DM, which is searched next
        except TimeoutError as error:
            raise DeliveryRetry("the search for an earlier post took too long") from error
        except discord.HTTPException as error:
            raise DeliveryRetry(f"could not check for an earlier post: {error}") from error
        return None

    async def _user(self, user_id: int) -> discord.User | None:
        user = self.client.get_user(user_id)
        if user is None:
            try:
                user = await self.client.fetch_user(user_id)
            except discord.HTTPException:
                return None
        return user

    async def post(self, job: Job, outcome: Outcome) -> Posted:
        channel = await self._usable_channel(job)
        if channel is not None:
            try:
                return Posted(await self._send(channel, job, outcome, via_dm=False), "channel")
            except discord.Forbidden:
                log.warning("job %d: lost the right to post in channel %d", job.id, job.channel_id)
            except discord.NotFound:
                log.warning("job %d: channel %d is gone", job.id, job.channel_id)
        user = await self._user(job.user_id)
        if user is None:
            return Posted(None, "undeliverable")
        try:
            return Posted(await self._send(user, job, outcome, via_dm=True), "dm")
        except discord.Forbidden:
            log.warning("job %d: the requester does not accept DMs; result not posted", job.id)
            return Posted(None, "undeliverable")

    async def _send(
        self, target: discord.abc.Messageable, job: Job, outcome: Outcome, *, via_dm: bool
    ) -> int:
        """Send once; a 413 falls back to the link, other server errors are retried later."""
        reference = None
        if not via_dm and job.status_message_id:
            reference = discord.MessageReference(
                message_id=job.status_message_id,
                channel_id=job.channel_id,
                fail_if_not_exists=False,
            )
        content = result_content(
            job, outcome, via_dm=via_dm, channel_mention=f"<#{job.channel_id}>"
        )
        kwargs: dict[str, Any] = dict(
            content=content,
            embed=result_embed(job, outcome),
            allowed_mentions=discord.AllowedMentions(
                everyone=False, roles=False, users=[discord.Object(job.user_id)], replied_user=False
            ),
            nonce=f"job-{job.id}",
        )
        view = self.view_for_result(job)
        if view is not None:
            kwargs["view"] = view
        if reference is not None:
            kwargs["reference"] = reference
        if outcome.video is not None:
            kwargs["file"] = discord.File(io.BytesIO(outcome.video), filename=outcome.filename)
        try:
            message = await target.send(**kwargs)
        except discord.HTTPException as error:
            if error.status == 413 and outcome.video is not None:
                link_only = Outcome.link_instead(
                    job,
                    self.clock(),
                    note="The video was too large to upload here, so here is a link instead.",
                )
                return await self._send(target, job, link_only, via_dm=via_dm)
            if isinstance(error, (discord.Forbidden, discord.NotFound)):
                raise
            raise DeliveryRetry(f"Discord refused the post: {error.status} {error.text}") from error
        return message.id


def _marked(footer: str | None, marker: str) -> bool:
    """The footer names this job (``Job #1`` must not match ``Job #12 · ...``)."""
    text = footer or ""
    return text == marker or text.startswith(marker + " ")
