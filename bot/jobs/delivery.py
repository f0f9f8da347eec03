"""Posting a job's outcome exactly once, whatever crashes in between.

The protocol: move the job to POSTING (counting the attempt) *before* posting; a job found
in POSTING may already have reached the chat, so the chat is searched for it first (the
result message carries a marker naming its job). Only then is it posted, and the message
id recorded with the move to DELIVERED. The chat itself is behind `ResultChannel`, so this
logic runs in tests without Discord.

What is posted is checked first: an expired result link is fetched again from the
provider, and bytes that are not a video are never uploaded. A video that can't be had is
LOST: the member is told plainly and gets the quota back. An outcome that can be posted
nowhere (no right to post in the channel, DMs closed) is UNDELIVERABLE, refunded too, and
the moderators hear of it.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Literal, Protocol

import aiohttp

from bot.chaos import crash_point
from bot.clock import Clock
from bot.db.jobs import JobRepository
from bot.jobs.lifecycle import UNPOSTED_STATES, JobOutcome, JobState
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

    def show_state(self, job: Job) -> None:
        """Bring the job's status message up to date, soon (never blocks the caller)."""

    async def find_status_message(self, job: Job) -> int | StatusSearch:
        """The job's status message, or why there is none (see `JobReporter`)."""

    async def undeliverable(self, job: Job) -> None:
        """Tell the moderators that a job's outcome could be posted nowhere."""


class StatusSearch(enum.Enum):
    """What a search for a job's unrecorded status message can answer besides its id."""

    NEVER_SHOWN = "never shown"  # the member never saw the job (their interaction failed)
    UNKNOWN = "unknown"  # can't be told (the channel is unreadable): run it all the same


class DeliveryRetry(Exception):
    """Posting failed for a reason that may pass (Discord 5xx, rate limit, network)."""


class VideoRejected(Exception):
    """What the provider served is not a video."""


def looks_like_mp4(data: bytes) -> None:
    """The cheapest check: an MP4 or MOV file starts with an ``ftyp`` box."""
    if len(data) < 12 or data[4:8] != b"ftyp":
        raise VideoRejected("not an MP4 file")


class Delivery:
    """Implements the scheduler's `JobReporter` on top of a `ResultChannel`.

    ``fresh_link`` asks the provider for the job's result link again (it expires);
    ``check_video`` raises `VideoRejected` for bytes that are not a playable video."""

    def __init__(
        self,
        jobs: JobRepository,
        channel: ResultChannel,
        session: aiohttp.ClientSession,
        clock: Clock,
        *,
        fresh_link: Callable[[Job], Awaitable[str | None]],
        check_video: Callable[[bytes], Awaitable[None]] | None = None,
    ) -> None:
        self.jobs = jobs
        self.channel = channel
        self.session = session
        self.clock = clock
        self.fresh_link = fresh_link
        self.check_video = check_video

    def job_updated(self, job: Job) -> None:
        try:
            self.channel.show_state(job)
        except Exception:
            log.exception("job %d: could not schedule a status refresh", job.id)

    async def find_status_message(self, job: Job) -> int | StatusSearch:
        return await self.channel.find_status_message(job)

    async def deliver(self, job: Job) -> None:
        if job.state not in UNPOSTED_STATES:
            return
        job = await self._with_status_message(job)
        if job.state is JobState.POSTING:
            earlier = await self.channel.find_posted(job)
            if earlier is not None:
                log.info("job %d: found the result posted by an earlier attempt", job.id)
                self.job_updated(await self._mark_delivered(job, earlier) or job)
                return
        posting = await self.jobs.transition(
            job.id, from_states={job.state}, to_state=JobState.POSTING, count_delivery=True
        )
        if posting is None:
            return
        outcome = await self._outcome(posting)
        posted = await self.channel.post(outcome.job, outcome)
        crash_point("after_posting")
        delivered = await self._mark_delivered(outcome.job, posted) or outcome.job
        if delivered.state is JobState.UNDELIVERABLE:
            await self.channel.undeliverable(delivered)
        self.job_updated(delivered)

    async def _with_status_message(self, job: Job) -> Job:
        """A job that ended before its unrecorded status message was looked up (cancelled
        from it after a crash between answering and recording): find it now, so that the
        result replies to it and it shows how the job ended."""
        if job.status_message_id is not None:
            return job
        found = await self.channel.find_status_message(job)
        if isinstance(found, StatusSearch):
            return job
        await self.jobs.set_status_message(job.id, found)
        return replace(job, status_message_id=found)

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
            return await self._lost(job, "The provider reported success but gave no video.")
        limit = await self.channel.upload_limit(job)
        if limit <= 0:
            return Outcome.link_instead(job, self.clock())
        try:
            video = await self._download_fresh(job, limit)
        except _TooLarge as too_large:
            return Outcome.link_instead(
                job,
                self.clock(),
                note=f"The video is {too_large.size_text}, over this channel's "
                f"{limit / 2**20:.0f} MiB upload limit, so here is a link instead.",
            )
        except _DownloadFailed as failed:
            if failed.permanent:
                return await self._lost(
                    job,
                    "The provider finished the video, but its link no longer works and it "
                    "gave no new one.",
                )
            if job.delivery_attempts >= MAX_DOWNLOAD_ATTEMPTS:
                return Outcome.link_instead(
                    job,
                    self.clock(),
                    note="I couldn't fetch the video to upload it, so here is the provider's link.",
                )
            raise DeliveryRetry(f"video download failed: {failed}") from failed
        check = self.check_video or _signature_only
        try:
            await check(video)
        except VideoRejected as rejected:
            log.warning("job %d: the provider's result is not a video (%s)", job.id, rejected)
            return await self._lost(
                job, "The provider's result was not a playable video, so nothing was posted."
            )
        return Outcome(job, video=video)

    async def _download_fresh(self, job: Job, limit: int) -> bytes:
        """The video, asking the provider for a fresh link once if the stored one died."""
        assert job.result_url is not None
        try:
            return await self._download(job.result_url, limit)
        except _DownloadFailed as failed:
            if not failed.permanent:
                raise
            fresh = await self.fresh_link(job)
            if not fresh or fresh == job.result_url:
                raise
            log.info("job %d: the result link had expired; using a fresh one", job.id)
            await self.jobs.transition(job.id, from_states={JobState.POSTING}, result_url=fresh)
            return await self._download(fresh, limit)

    async def _lost(self, job: Job, reason: str) -> Outcome:
        """The provider made the video but it can't be had: say so, and refund it."""
        corrected = await self.jobs.transition(
            job.id, from_states={JobState.POSTING}, outcome=JobOutcome.LOST, error=reason
        )
        return Outcome(corrected or replace(job, outcome=JobOutcome.LOST, error=reason))

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


async def _signature_only(data: bytes) -> None:
    looks_like_mp4(data)


class _TooLarge(Exception):
    def __init__(self, size: int | None) -> None:
        self.size_text = f"{size / 2**20:.1f} MiB" if size else "too large"
        super().__init__(self.size_text)


class _DownloadFailed(Exception):
    def __init__(self, reason: str, *, permanent: bool) -> None:
        self.permanent = permanent
        super().__init__(reason)
