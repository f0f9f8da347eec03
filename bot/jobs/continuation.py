"""Continuing a video: the new job starts from the exact last frame of the one before.

A continuation is accepted like any job, naming its source (``first_frame_from``). Just
before it is sent, the scheduler's submit step takes the source's last frame
(`bot.media.last_frame`, a PNG of the original when the provider's link still works), has
the chat make it public (Discord: attached to the job's status message, whose CDN link the
provider fetches as ``first_frame``), and writes it into the job's request and payload. A
crash anywhere in between only means the frame is taken again.
"""

from __future__ import annotations

from typing import Protocol

from bot.db.jobs import JobRepository
from bot.jobs.model import Job
from bot.jobs.sources import SourceFailed
from bot.jobs.videos import JobVideos, VideoUnavailable
from bot.media import FFmpeg, MediaError, last_frame
from bot.media.sniff import sniff
from bot.params import MediaInput


class FramePublisher(Protocol):
    """The chat side: where the frame becomes a public link."""

    async def publish_frame(self, job: Job, image: bytes, filename: str) -> str:
        """Put ``image`` where the provider can fetch it; return its public URL. Raise
        `bot.jobs.delivery.DeliveryRetry` when it may work later."""


class FrameUnavailableForNow(Exception):
    """The source's video could not be fetched just now; try again later."""


class FirstFrames:
    def __init__(
        self, jobs: JobRepository, videos: JobVideos, ffmpeg: FFmpeg, publisher: FramePublisher
    ) -> None:
        self.jobs = jobs
        self.videos = videos
        self.ffmpeg = ffmpeg
        self.publisher = publisher

    async def attach(self, job: Job) -> Job | None:
        """``job`` with the last frame of its (posted) source as its first frame; None if
        the job was no longer waiting to be sent. `SourceFailed` when the frame can't be
        had; `FrameUnavailableForNow` or `DeliveryRetry` when it may work later."""
        assert job.first_frame_from is not None
        source = await self.jobs.get(job.first_frame_from)
        if source is None:
            raise SourceFailed(f"#{job.first_frame_from}, the video this continues, was deleted.")
        try:
            video = await self.videos.of(source)
        except VideoUnavailable as error:
            if not error.permanent:
                raise FrameUnavailableForNow(str(error)) from error
            raise SourceFailed(
                f"The video of #{source.id} can no longer be had, so there is no last frame "
                "to start from."
            ) from error
        try:
            image = await last_frame(self.ffmpeg, video)
        except MediaError as error:
            raise SourceFailed(f"I couldn't take the last frame of #{source.id}: {error}.") from error
        filename = f"last-frame-of-{source.id}.png"
        url = await self.publisher.publish_frame(job, image, filename)
        found = sniff(image)
        frame = MediaInput(
            url=url,
            filename=filename,
            content_type="image/png",
            size=len(image),
            width=found.width if found else None,
            height=found.height if found else None,
            detected=str(found.format) if found else None,
        )
        return await self.jobs.set_first_frame(job.id, frame)
