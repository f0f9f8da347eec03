"""Posting a job's outcome exactly once, whatever crashes in between.

The protocol: move the job to POSTING (counting the attempt) *before* posting; a job found
in POSTING may already have reached the chat, so the chat is searched for it first (the
result message carries a marker naming its job). Only then is it posted, and where it went
recorded. A server's gallery gets its copy the same way (its own count of attempts, and a
search of the gallery before a second one), then the job is DELIVERED. The chat itself is
behind `ResultChannel`, so this logic runs in tests without Discord.

What is posted is checked first: an expired result link is fetched again from the
provider, and bytes that are not a playable video (`bot.media.probe`) are never uploaded.
A video over the upload limit is fitted under it (`bot.media.fit`: two-pass H.264 + AAC),
with the provider's original linked beside it until it expires; only when it can't be
fitted does the bot post the link alone, saying why. A video that can't be had is LOST:
the member is told plainly and gets the quota back. An outcome that can be posted nowhere
(no right to post in the channel, DMs closed) is UNDELIVERABLE, refunded too, and the
moderators hear of it.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from bot.chaos import crash_point
from bot.clock import Clock
from bot.db.jobs import JobRepository
from bot.jobs.destinations import Destinations, ResultsIn
from bot.jobs.lifecycle import UNPOSTED_STATES, JobOutcome, JobState
from bot.jobs.lineage import NO_LINEAGE, Lineage, Lineages
from bot.jobs.model import Job
from bot.jobs.videos import JobVideos, VideoTooLarge, VideoUnavailable, mib
from bot.media import FFmpeg, MediaError, fit, probe

log = logging.getLogger(__name__)

# Upstream result URLs last about a day; say so when we post a link instead of a file.
RESULT_URL_LIFETIME = 24 * 3600.0
MAX_DOWNLOAD_ATTEMPTS = 3
# A gallery that keeps refusing its copy is given up on after this many attempts: the
# result itself is posted, and the job must not wait on the gallery for ever.
MAX_GALLERY_ATTEMPTS = 3

DeliveredVia = Literal["channel", "dm", "undeliverable"]


@dataclass(frozen=True)
class Outcome:
    """What the result message shows: the video (fitted under the limit if it had to be),
    or a link when it could not be attached; and whose work it builds on."""

    job: Job
    video: bytes | None = None
    # The provider's video: instead of the file, or beside a fitted file as its original.
    link: str | None = None
    link_expires_at: float | None = None
    note: str | None = None  # how the file was fitted, why there is a link, or why nothing
    lineage: Lineage = NO_LINEAGE
    seconds: float | None = None  # how long the video is, when the bot read it

    @property
    def filename(self) -> str:
        return f"seedance-{self.job.id}.mp4"

    @property
    def fitted(self) -> bool:
        """The file is a re-encoded copy; ``link`` is the original."""
        return self.video is not None and self.link is not None

    @classmethod
    def link_instead(
        cls, job: Job, now: float, note: str | None = None, lineage: Lineage = NO_LINEAGE
    ) -> Outcome:
        """The provider's link, with when it expires, for a video that can't be attached."""
        return cls(
            job, link=job.result_url, link_expires_at=link_expiry(job, now), note=note,
            lineage=lineage,
        )  # fmt: skip


def link_expiry(job: Job, now: float) -> float:
    return (job.finished_at or now) + RESULT_URL_LIFETIME


@dataclass(frozen=True)
class Posted:
    message_id: int | None
    via: DeliveredVia
    channel_id: int | None = None  # where: the job's channel, a thread from its status, a DM


class ResultChannel(Protocol):
    """The chat side of delivery (Discord in production)."""

    async def upload_limit(self, job: Job) -> int:
        """Largest file the result may attach where it will be posted (0: no files)."""

    async def find_posted(self, job: Job) -> Posted | None:
        """An earlier attempt's message for this job, if one reached the chat (the job's
        thread, its channel, or the requester's DMs)."""

    async def post(self, job: Job, outcome: Outcome, results_in: ResultsIn) -> Posted:
        """Post the outcome; raise `DeliveryRetry` when it may work later."""

    async def find_gallery_copy(self, job: Job, gallery_id: int) -> int | None:
        """An earlier attempt's copy of this job's result in the gallery channel."""

    async def post_gallery_copy(self, job: Job, outcome: Outcome, gallery_id: int) -> int | None:
        """Copy the result into the gallery; None if the gallery can't take it (the
        moderators are told); `DeliveryRetry` when it may work later."""

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


class Delivery:
    """Implements the scheduler's `JobReporter` on top of a `ResultChannel`. ``on_settled``
    hears of every job whose outcome is posted (or never can be): what waits for it."""

    def __init__(
        self,
        jobs: JobRepository,
        channel: ResultChannel,
        videos: JobVideos,
        clock: Clock,
        *,
        ffmpeg: FFmpeg,
        destinations: Destinations,
        lineages: Lineages,
        on_settled: Callable[[Job], None] = lambda job: None,
    ) -> None:
        self.jobs = jobs
        self.channel = channel
        self.videos = videos
        self.clock = clock
        self.ffmpeg = ffmpeg
        self.destinations = destinations
        self.lineages = lineages
        self.on_settled = on_settled

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
        outcome: Outcome | None = None
        if job.state is JobState.POSTING and job.delivered_via is None:
            earlier = await self.channel.find_posted(job)
            if earlier is not None:
                log.info("job %d: found the result posted by an earlier attempt", job.id)
                job = await self._record(job, earlier) or job
        if job.delivered_via is None:
            posting = await self.jobs.transition(
                job.id, from_states={job.state}, to_state=JobState.POSTING, count_delivery=True
            )
            if posting is None:
                return
            outcome = await self._outcome(posting)
            results_in = await self.destinations.results_in(outcome.job)
            posted = await self.channel.post(outcome.job, outcome, results_in)
            crash_point("after_posting")
            job = await self._record(outcome.job, posted) or outcome.job
        if job.delivered_via == "channel":
            await self._copy_to_gallery(job, outcome)
        await self._settle(job)

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

    async def _record(self, job: Job, posted: Posted) -> Job | None:
        """Where the result went (so a retry only has the gallery left to do)."""
        return await self.jobs.transition(
            job.id,
            from_states={JobState.POSTING},
            result_message_id=posted.message_id,
            result_channel_id=posted.channel_id,
            delivered_via=posted.via,
        )

    async def _settle(self, job: Job) -> None:
        settled = await self.jobs.transition(
            job.id,
            from_states={JobState.POSTING},
            to_state=(
                JobState.UNDELIVERABLE if job.delivered_via == "undeliverable" else JobState.DELIVERED
            ),
            delivered_at=self.clock(),
            next_check_at=None,
        )
        if settled is None:
            return
        if settled.state is JobState.UNDELIVERABLE:
            await self.channel.undeliverable(settled)
        elif await self.jobs.wake_dependents(settled.id):
            log.info("job %d: delivered; the jobs waiting for it are due", settled.id)
        self.job_updated(settled)
        self.on_settled(settled)

    async def _copy_to_gallery(self, job: Job, outcome: Outcome | None) -> None:
        """A copy of the result in the server's gallery, exactly once like the result."""
        if job.gallery_message_id is not None:
            return
        gallery = await self.destinations.gallery_for(job)
        if gallery is None:
            return
        if job.gallery_attempts >= MAX_GALLERY_ATTEMPTS:
            log.warning("job %d: gave up copying it to gallery %d", job.id, gallery)
            return
        if job.gallery_attempts:
            found = await self.channel.find_gallery_copy(job, gallery)
            if found is not None:
                await self._gallery_copy_made(job, gallery, found)
                return
        counted = await self.jobs.transition(job.id, from_states={JobState.POSTING}, count_gallery=True)
        if counted is None:
            return
        copy = outcome or await self._posted_outcome(counted)
        if copy is None:
            return
        message_id = await self.channel.post_gallery_copy(counted, copy, gallery)
        if message_id is not None:
            await self._gallery_copy_made(counted, gallery, message_id)

    async def _gallery_copy_made(self, job: Job, gallery_id: int, message_id: int) -> None:
        await self.jobs.transition(
            job.id,
            from_states={JobState.POSTING},
            gallery_channel_id=gallery_id,
            gallery_message_id=message_id,
        )

    async def _posted_outcome(self, job: Job) -> Outcome | None:
        """The result as posted by an earlier attempt, for its gallery copy."""
        lineage = await self.lineages.of(job)
        video = await self.videos.posted.posted_video(job)
        if video is not None:
            return Outcome(job, video=video, lineage=lineage)
        if job.result_url:
            return Outcome.link_instead(job, self.clock(), lineage=lineage)
        return None

    async def _outcome(self, job: Job) -> Outcome:
        lineage = await self.lineages.of(job)
        if not job.succeeded:
            return Outcome(job, lineage=lineage)
        if job.calls_provider and not job.result_url:
            return await self._lost(job, lineage, "The provider reported success but gave no video.")
        limit = await self.channel.upload_limit(job)
        now = self.clock()
        if limit <= 0:
            return Outcome.link_instead(job, now, lineage=lineage)
        try:
            video = await self.videos.made_by(job)
        except VideoTooLarge as too_large:
            return Outcome.link_instead(
                job, now, lineage=lineage,
                note=f"The video is {too_large.size_text}, too large for me to fit under this "
                f"channel's {limit_text(limit)} upload limit, so here is a link instead.",
            )  # fmt: skip
        except VideoUnavailable as failed:
            if failed.permanent:
                return await self._lost(job, lineage, _unavailable_reason(job, failed))
            if job.delivery_attempts >= MAX_DOWNLOAD_ATTEMPTS:
                return Outcome.link_instead(
                    job, now, lineage=lineage,
                    note="I couldn't fetch the video to upload it, so here is the provider's link.",
                )  # fmt: skip
            raise DeliveryRetry(f"video download failed: {failed}") from failed
        except MediaError as error:
            return await self._lost(job, lineage, f"I couldn't join the clips: {error}.")
        try:
            seconds = (await probe(self.ffmpeg, video)).duration
        except MediaError as rejected:
            log.warning("job %d: the result is not a playable video (%s)", job.id, rejected)
            return await self._lost(
                job, lineage, "The provider's result was not a playable video, so nothing was posted."
            )
        if len(video) <= limit:
            return Outcome(job, video=video, lineage=lineage, seconds=seconds)
        return replace(await self._fitted(job, video, limit, lineage), seconds=seconds)

    async def _fitted(self, job: Job, video: bytes, limit: int, lineage: Lineage) -> Outcome:
        """The video re-encoded under ``limit``, its original linked; the link alone (with
        why) if it can't be fitted."""
        now = self.clock()
        try:
            fitted = await fit(self.ffmpeg, video, limit)
        except MediaError as error:
            log.warning("job %d: could not fit %s under %d bytes: %s", job.id, mib(len(video)), limit, error)
            return Outcome.link_instead(
                job, now, lineage=lineage,
                note=f"The video is {mib(len(video))}, over this channel's {limit_text(limit)} "
                f"upload limit, and I couldn't make it fit ({error}), so here is a link instead.",
            )  # fmt: skip
        log.info(
            "job %d: fitted %s to %s (%dx%d) in %.1f s",
            job.id, mib(len(video)), mib(fitted.size), fitted.width, fitted.height, fitted.seconds,
        )  # fmt: skip
        size = f"{fitted.width}×{fitted.height}"
        return Outcome(
            job,
            video=fitted.data,
            link=job.result_url,
            link_expires_at=link_expiry(job, now) if job.result_url else None,
            note=f"Re-encoded from {mib(len(video))} to {mib(fitted.size)} ({size}) to fit "
            f"this channel's {limit_text(limit)} upload limit.",
            lineage=lineage,
        )

    async def _lost(self, job: Job, lineage: Lineage, reason: str) -> Outcome:
        """The provider made the video but it can't be had: say so, and refund it."""
        corrected = await self.jobs.transition(
            job.id, from_states={JobState.POSTING}, outcome=JobOutcome.LOST, error=reason
        )
        lost = corrected or replace(job, outcome=JobOutcome.LOST, error=reason)
        return Outcome(lost, lineage=lineage)


def limit_text(limit: int) -> str:
    return f"{limit / 2**20:.0f} MiB"


def _unavailable_reason(job: Job, failed: VideoUnavailable) -> str:
    if job.calls_provider:
        return (
            "The provider finished the video, but its link no longer works and it gave no new one."
        )
    return f"I couldn't join the clips: {failed}."
