"""Discord's side of delivery: status edits, result replies, the DM fallback.

Results are posted as ordinary channel messages (a reply to the status message), never
through the interaction token, which dies after 15 minutes. Status edits are throttled
per job so progress never trips Discord's edit rate limits.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import discord

from bot.clock import Clock
from bot.db.jobs import JobRepository
from bot.jobs.delivery import DeliveryRetry, Outcome, Posted
from bot.jobs.model import Job
from bot.tasks import BackgroundTasks

from .messages import result_content, result_embed, result_marker, status_embed

log = logging.getLogger(__name__)

DM_UPLOAD_LIMIT = discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES
HISTORY_SEARCH_LIMIT = 200
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
        view_for_status: Callable[[Job], discord.ui.View | None],
        view_for_result: Callable[[Job], discord.ui.View | None],
        currency: str,
        edit_interval: float,
        clock: Clock,
    ) -> None:
        self.client = client
        self.jobs = jobs
        self.view_for_status = view_for_status
        self.view_for_result = view_for_result
        self.currency = currency
        self.edit_interval = edit_interval
        self.clock = clock
        self._last_edit: dict[int, float] = {}
        self._pending_edits = BackgroundTasks("status-edit")

    async def close(self) -> None:
        await self._pending_edits.close()

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
        """The job's channel if the bot may post results there, else ``None`` (use a DM)."""
        channel = await self._channel(job)
        if not isinstance(channel, discord.abc.GuildChannel | discord.Thread):
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

    async def show_state(self, job: Job) -> None:
        if job.status_message_id is None:
            return
        wait = self._last_edit.get(job.id, 0.0) + self.edit_interval - self.clock()
        if job.has_ended or wait <= 0:
            self._pending_edits.cancel(job.id)
            await self._edit_status(job)
        elif self._pending_edits.running(job.id) is None:
            self._pending_edits.spawn(
                self._edit_later(job.id, wait), name=f"job-{job.id}", key=job.id
            )

    async def _edit_later(self, job_id: int, wait: float) -> None:
        await asyncio.sleep(wait)
        self._pending_edits.release(job_id)  # a change from now on schedules its own edit
        job = await self.jobs.get(job_id)
        if job is not None:
            await self._edit_status(job)

    async def _edit_status(self, job: Job) -> None:
        channel = await self._channel(job)
        if channel is None or job.status_message_id is None:
            return
        self._last_edit[job.id] = self.clock()
        message = self.client.get_partial_messageable(
            job.channel_id, guild_id=job.guild_id
        ).get_partial_message(job.status_message_id)
        view = None if job.has_ended else self.view_for_status(job)
        try:
            await message.edit(
                embed=status_embed(job, currency=self.currency, now=self.clock()), view=view
            )
        except discord.HTTPException as error:
            log.info("job %d: status message not updated (%s)", job.id, error)
        if job.has_ended:
            self._last_edit.pop(job.id, None)

    # -- result --------------------------------------------------------------------------

    async def find_posted(self, job: Job) -> Posted | None:
        channel = await self._channel(job)
        if channel is not None:
            found = await self._search(channel, job)
            if found is not None:
                return Posted(found, "channel")
        user = await self._user(job.user_id)
        if user is not None:
            dm = user.dm_channel or await user.create_dm()
            found = await self._search(dm, job)
            if found is not None:
                return Posted(found, "dm")
        return None

    async def _search(self, channel: discord.abc.Messageable, job: Job) -> int | None:
        """Our result message for ``job``, looked for from the moment the job finished
        (any earlier post came after that), oldest first."""
        marker = result_marker(job.id)
        since = discord.utils.time_snowflake(
            datetime.fromtimestamp((job.finished_at or job.created_at) - 60, UTC)
        )
        me = self.client.user
        try:
            async for message in channel.history(
                limit=HISTORY_SEARCH_LIMIT, after=discord.Object(since), oldest_first=True
            ):
                if message.author.id != getattr(me, "id", None):
                    continue
                if any((e.footer.text or "").startswith(marker) for e in message.embeds):
                    return message.id
        except discord.Forbidden:
            return None  # unreadable now: the result will go by DM, which is searched next
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
