"""Keeping every job's status message true, within Discord's per-channel edit limit.

Discord lets a bot edit about 5 messages per 5 seconds in one channel. Requests to refresh
a job's status message are queued per channel and coalesced (a job is edited once with its
newest state, however many changes piled up; a change waits `SETTLE_SECONDS` for the ones
right behind it, so a job that rushes through its states is edited once, not once a
state), ended jobs go first (their final look matters most), an edit is skipped when what
it would show is what is shown, and a failed edit is retried: a running job's look a few
times (a newer one comes anyway), a settled job's final look for as long as its result
post would be (a day), since nothing else would ever correct it. Other edits of status
messages (a continuation's first frame) take their slot here too. Nothing here ever
blocks the job's pipeline:
`request` only queues. Once a settled job's final look is on screen the job records it
(``status_shown``), so after a crash the stale ones are found and repaired.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import discord

from bot.backoff import full_jitter
from bot.chaos import crash_point
from bot.clock import Clock
from bot.db.jobs import JobRepository
from bot.jobs.delivery import RESULT_URL_LIFETIME
from bot.jobs.model import Job
from bot.tasks import BackgroundTasks
from cogs.shared import NO_MENTIONS

log = logging.getLogger(__name__)

EDITS_PER_WINDOW = 5
EDIT_WINDOW = 5.0
SETTLE_SECONDS = 0.25
MAX_TRIES = 5  # consecutive failures of a running job's look before it is left
RETRY_CAP = 30.0  # seconds between tries, at most

@dataclass(frozen=True)
class StatusLook:
    """What a status message shows: while the job runs, an embed (and its Cancel button);
    once it is settled, one line of text pointing at the result, and nothing else (the
    frame a continuation started from, attached while it ran, goes too)."""

    content: str | None = None
    embed: discord.Embed | None = None
    view: discord.ui.View | None = None

    def key(self) -> str:
        """To tell whether an edit would change anything."""
        buttons = [getattr(i, "custom_id", None) for i in self.view.children] if self.view else []
        return repr((self.content, self.embed.to_dict() if self.embed else None, buttons))

    def edit(self) -> dict[str, Any]:
        changes: dict[str, Any] = {"content": self.content, "embed": self.embed, "view": self.view}
        if self.embed is None:
            changes["attachments"] = []
        return changes


Render = Callable[[Job], Awaitable[StatusLook]]


class Shown(Protocol):
    """What asking for an edit needs of a job (a `Job`, or a place in a queue)."""

    @property
    def id(self) -> int: ...
    @property
    def channel_id(self) -> int: ...
    @property
    def status_message_id(self) -> int | None: ...
    @property
    def has_ended(self) -> bool: ...


class StatusEditor:
    def __init__(
        self, client: discord.Client, jobs: JobRepository, render: Render, clock: Clock
    ) -> None:
        self.client = client
        self.jobs = jobs
        self.render = render
        self.clock = clock
        # Per channel, the jobs whose message waits for an edit, oldest request first; the
        # ended ones also in `_ended`, as they go first (a result is waiting to be seen).
        self._pending: dict[int, dict[int, None]] = {}
        self._ended: dict[int, dict[int, None]] = {}
        self._recent: dict[int, deque[float]] = {}  # channel -> monotonic times of edits
        self._locks: dict[int, asyncio.Lock] = {}  # channel -> one edit at a time
        self._shown: dict[int, str] = {}  # job -> the look last put on screen
        self._tries: dict[int, int] = {}
        self._workers = BackgroundTasks("status-edits")
        self.edits = 0

    def request(self, job: Shown) -> None:
        """Bring ``job``'s status message up to date as soon as the channel allows."""
        if job.status_message_id is None or self._workers.closed:
            return
        self._pending.setdefault(job.channel_id, {})[job.id] = None
        if job.has_ended:
            self._ended.setdefault(job.channel_id, {})[job.id] = None
        if self._workers.running(job.channel_id) is None:
            self._workers.spawn(
                self._work(job.channel_id), name=f"channel-{job.channel_id}", key=job.channel_id
            )

    async def close(self) -> None:
        await self._workers.close()

    async def _work(self, channel_id: int) -> None:
        pending = self._pending[channel_id]
        ended = self._ended.setdefault(channel_id, {})
        while pending:
            await asyncio.sleep(SETTLE_SECONDS)
            job_id = next(iter(ended or pending))
            del pending[job_id]
            ended.pop(job_id, None)
            job = await self.jobs.get(job_id)
            if job is not None and job.status_message_id is not None:
                await self._edit(job)
        # No await since the queue was seen empty: a request from now on starts a worker.
        self._workers.release(channel_id)

    @contextlib.asynccontextmanager
    async def slot(self, channel_id: int) -> AsyncIterator[None]:
        """Room for one edit in this channel within Discord's limit: one edit at a time per
        channel, each counted when Discord has answered it (it arrived no later, so the
        window counted here never ends before Discord's does)."""
        lock = self._locks.setdefault(channel_id, asyncio.Lock())
        async with lock:
            recent = self._recent.setdefault(channel_id, deque(maxlen=EDITS_PER_WINDOW))
            if len(recent) == EDITS_PER_WINDOW:
                wait = recent[0] + EDIT_WINDOW - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            try:
                yield
            finally:
                recent.append(time.monotonic())

    async def _edit(self, job: Job) -> None:
        shown = await self.render(job)
        look = shown.key()
        if self._shown.get(job.id) == look:
            await self._settled(job)
            return
        assert job.status_message_id is not None
        message = self.client.get_partial_messageable(
            job.channel_id, guild_id=job.guild_id
        ).get_partial_message(job.status_message_id)
        try:
            async with self.slot(job.channel_id):
                await message.edit(**shown.edit(), allowed_mentions=NO_MENTIONS)
        except (discord.NotFound, discord.Forbidden) as error:
            log.info("job %d: status message can't be edited (%s)", job.id, error)
            self._forget(job.id)
            return
        except discord.HTTPException as error:
            self._retry(job, error)
            return
        crash_point("during_status_edits")
        self.edits += 1
        self._shown[job.id] = look
        self._tries.pop(job.id, None)
        await self._settled(job)

    async def _settled(self, job: Job) -> None:
        """A settled job's final look is on screen: record it and forget the job."""
        if job.is_delivered:
            await self.jobs.set_status_shown(job.id, job.state)
            self._forget(job.id)

    def _retry(self, job: Job, error: discord.HTTPException) -> None:
        tries = self._tries.get(job.id, 0) + 1
        if job.is_delivered:
            gives_up = self.clock() > (job.delivered_at or self.clock()) + RESULT_URL_LIFETIME
        else:
            gives_up = tries >= MAX_TRIES
        if gives_up:
            log.warning("job %d: giving up on its status message (%s)", job.id, error)
            self._forget(job.id)
            return
        self._tries[job.id] = tries
        delay = full_jitter(tries, base=1.0, cap=RETRY_CAP)
        log.info("job %d: status edit failed (%s); again in %.1f s", job.id, error, delay)
        self._workers.spawn(self._again(job, delay), name=f"retry-{job.id}")

    async def _again(self, job: Job, delay: float) -> None:
        await asyncio.sleep(delay)
        self.request(job)

    def _forget(self, job_id: int) -> None:
        self._shown.pop(job_id, None)
        self._tries.pop(job_id, None)
