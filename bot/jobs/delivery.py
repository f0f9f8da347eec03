"""Posting a job's outcome exactly once, whatever crashes in between.

The protocol: move the job to POSTING (counting the attempt) *before* posting; a job found
in POSTING may already have reached the chat, so the chat is searched for it first (the
result message carries a marker naming its job). Only then is it posted, and the message
id recorded with the move to DELIVERED. The chat itself is behind `ResultChannel`, so this
logic runs in tests without Discord.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal, Protocol

import aiohttp

from bot.clock import Clock
from bot.db.jobs import JobRepository
from bot.jobs.lifecycle import UNPOSTED_STATES, JobState
from bot.jobs.model import Job

log = logging.getLogger(__name__)

# Upstream result URLs last about a day; say so when we post a link instead of a file.
RESULT_URL_LIFETIME = 24 * 3600.0
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=120, sock_connect=10, sock_read=30)
MAX_DOWNLOAD_ATTEMPTS = 3

DeliveredVia = Literal["channel", "dm", "undeliverable"]


@dataclass(frozen=True)
class Outcome:
    """What the result message shows: the video bytes when they fit, otherwise a link."""

    job: Job
    video: bytes | None = None
    link: str | None = None
    link_expires_at: float | None = None
    note: str | None = None  # why there is a link instead of a file, or why nothing

    @property
    def filename(self) -> str:
        return f"seedance-{self.job.id}.mp4"

    @classmethod
    def link_instead(cls, job: Job, now: float, note: str | None = None) -> Outcome:
        """The provider's link, with when it expires, for a video that can't be attached."""
        expires = (job.finished_at or now) + RESULT_URL_LIFETIME
        return cls(job, link=job.result_url, link_expires_at=expires, note=note)


@dataclass(frozen=True)
class Posted:
    message_id: int | None
    via: DeliveredVia


class ResultChannel(Protocol):
    """The chat side of delivery (Discord in production)."""

    async def upload_limit(self, job: Job) -> int:
        """Largest file the result may attach where it will be posted (0: no files)."""

    async def find_posted(self, job: Job) -> Posted | None:
        """An earlier attempt's message for this job, if one reached the chat."""

    async def post(self, job: Job, outcome: Outcome) -> Posted:
        """Post the outcome; raise `DeliveryRetry` when it may work later."""

    async def show_state(self, job: Job) -> None:
        """Refresh the job's status message (best effort, may be throttled)."""


class DeliveryRetry(Exception):
    """Posting failed for a reason that may pass (Discord 5xx, rate limit, network)."""


class Delivery:
    """Implements the scheduler's `JobReporter` on top of a `ResultChannel`."""

    def __init__(
        self,
        jobs: JobRepository,
        channel: ResultChannel,
        session: aiohttp.ClientSession,
        clock: Clock,
    ) -> None:
        self.jobs = jobs
        self.channel = channel
        self.session = session
        self.clock = clock

    async def job_updated(self, job: Job) -> None:
        try:
            await self.channel.show_state(job)
        except Exception:
            log.exception("job %d: could not refresh its status message", job.id)

    async def deliver(self, job: Job) -> None:
        if job.state not in UNPOSTED_STATES:
            return
        if job.state is JobState.POSTING:
            earlier = await self.channel.find_posted(job)
            if earlier is not None:
                log.info("job %d: found the result posted by an earlier attempt", job.id)
                await self._mark_delivered(job, earlier)
                return
        posting = await self.jobs.transition(
            job.id, from_states={job.state}, to_state=JobState.POSTING, count_delivery=True
        )
        if posting is None:
            return
        outcome = await self._outcome(posting)
        posted = await self.channel.post(posting, outcome)
        delivered = await self._mark_delivered(posting, posted)
        await self.job_updated(delivered or posting)

    async def _mark_delivered(self, job: Job, posted: Posted) -> Job | None:
        settled = JobState.UNDELIVERABLE if posted.via == "undeliverable" else JobState.DELIVERED
        return await self.jobs.transition(
            job.id,
            from_states={JobState.POSTING},
            to_state=settled,
            delivered_at=self.clock(),
            delivered_via=posted.via,
            result_message_id=posted.message_id,
            next_check_at=None,
        )

    async def _outcome(self, job: Job) -> Outcome:
        if not job.succeeded:
            return Outcome(job)
        if not job.result_url:
            return Outcome(job, note="The provider reported success but gave no video link.")
        limit = await self.channel.upload_limit(job)
        if limit <= 0:
            return Outcome.link_instead(job, self.clock())
        try:
            video = await self._download(job.result_url, limit)
        except _TooLarge as too_large:
            return Outcome.link_instead(
                job,
                self.clock(),
                note=f"The video is {too_large.size_text}, over this channel's "
                f"{limit / 2**20:.0f} MiB upload limit, so here is a link instead.",
            )
        except _DownloadFailed as failed:
            if failed.permanent or job.delivery_attempts >= MAX_DOWNLOAD_ATTEMPTS:
                return Outcome.link_instead(
                    job,
                    self.clock(),
                    note="I couldn't fetch the video to upload it, so here is the provider's link.",
                )
            raise DeliveryRetry(f"video download failed: {failed}") from failed
        return Outcome(job, video=video)

    async def _download(self, url: str, limit: int) -> bytes:
        try:
            async with self.session.get(url, timeout=DOWNLOAD_TIMEOUT) as response:
                if response.status in (401, 403, 404, 410):
                    raise _DownloadFailed(f"HTTP {response.status}", permanent=True)
                if response.status >= 400:
                    raise _DownloadFailed(f"HTTP {response.status}", permanent=False)
                if response.content_length is not None and response.content_length > limit:
                    raise _TooLarge(response.content_length)
                chunks: list[bytes] = []
                total = 0
                async for chunk in response.content.iter_chunked(256 * 1024):
                    total += len(chunk)
                    if total > limit:
                        raise _TooLarge(None)
                    chunks.append(chunk)
                return b"".join(chunks)
        except (TimeoutError, aiohttp.ClientError) as error:
            raise _DownloadFailed(type(error).__name__, permanent=False) from error


class _TooLarge(Exception):
    def __init__(self, size: int | None) -> None:
        self.size_text = f"{size / 2**20:.1f} MiB" if size else "too large"
        super().__init__(self.size_text)


class _DownloadFailed(Exception):
    def __init__(self, reason: str, *, permanent: bool) -> None:
        self.permanent = permanent
        super().__init__(reason)
