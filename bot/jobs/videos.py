"""The video a job made, wherever it can be had.

A provider's result link lasts about a day (asked afresh once when it died); the file the
bot posted in Discord lasts as long as its message. Delivery wants the job's own new video
(`JobVideos.made_by`: the provider's, or a stitch's clips joined); building on a finished
job (continuing it, stitching it) wants `JobVideos.of`: the provider's original while its
link lives, else the posted file.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import aiohttp

from bot.db.jobs import JobRepository
from bot.jobs.model import Job
from bot.media import FFmpeg, stitch

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=120, sock_connect=10, sock_read=30)
# A source video larger than this is not fetched (it could not be fitted in memory sanely):
# a provider's 15 s 1080p result is 10-30 MiB.
MAX_SOURCE_BYTES = 256 * 2**20
# Statuses of a storage link that will not work again, whatever the retries.
GONE_STATUSES = frozenset({401, 403, 404, 410})


class VideoUnavailable(Exception):
    """The video can't be had now; ``permanent`` when it never will be (from there)."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        self.permanent = permanent
        super().__init__(reason)


class VideoTooLarge(VideoUnavailable):
    def __init__(self, size: int | None) -> None:
        self.size = size
        super().__init__("too large", permanent=True)

    @property
    def size_text(self) -> str:
        return mib(self.size) if self.size else f"over {mib(MAX_SOURCE_BYTES)}"


def mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


class PostedVideos(Protocol):
    """The chat side: the video file of a job's result message, as Discord serves it now."""

    async def posted_video(self, job: Job) -> bytes | None:
        """The file (read with a fresh link), or None when the result has none any more."""


async def download(session: aiohttp.ClientSession, url: str, cap: int) -> bytes:
    """The bytes at ``url``, at most ``cap`` of them (`VideoTooLarge` past it)."""
    try:
        async with session.get(url, timeout=DOWNLOAD_TIMEOUT) as response:
            if response.status in GONE_STATUSES:
                raise VideoUnavailable(f"HTTP {response.status}", permanent=True)
            if response.status >= 400:
                raise VideoUnavailable(f"HTTP {response.status}", permanent=False)
            if response.content_length is not None and response.content_length > cap:
                raise VideoTooLarge(response.content_length)
            chunks: list[bytes] = []
            total = 0
            async for chunk in response.content.iter_chunked(256 * 1024):
                total += len(chunk)
                if total > cap:
                    raise VideoTooLarge(None)
                chunks.append(chunk)
            return b"".join(chunks)
    except (TimeoutError, aiohttp.ClientError) as error:
        raise VideoUnavailable(type(error).__name__, permanent=False) from error


class JobVideos:
    """``fresh_link`` asks the provider for a job's result link again (links expire)."""

    def __init__(
        self,
        jobs: JobRepository,
        session: aiohttp.ClientSession,
        ffmpeg: FFmpeg,
        posted: PostedVideos,
        *,
        fresh_link: Callable[[Job], Awaitable[str | None]],
    ) -> None:
        self.jobs = jobs
        self.session = session
        self.ffmpeg = ffmpeg
        self.posted = posted
        self.fresh_link = fresh_link

    async def made_by(self, job: Job) -> bytes:
        """What delivery posts: the provider's video, or a stitch's clips joined.

        `VideoUnavailable` (`VideoTooLarge`) when it can't be had; `MediaError` when the
        clips can't be joined."""
        if job.calls_provider:
            return await self.from_provider(job)
        clips = await self.jobs.clips(job.id)
        videos = []
        for clip in clips:
            source = await self.jobs.get(clip.job_id)
            if source is None:
                raise VideoUnavailable(f"clip #{clip.job_id} was deleted", permanent=True)
            videos.append(await self.of(source))
        return await stitch(self.ffmpeg, videos)

    async def of(self, job: Job) -> bytes:
        """The video of a finished job, to build on: the provider's original while its link
        works, else the file posted in Discord. `VideoUnavailable` when neither is there."""
        if job.calls_provider and job.result_url:
            try:
                return await self.from_provider(job)
            except VideoUnavailable as error:
                log.info("job %d: provider's video unavailable (%s); using the posted one", job.id, error)
        posted = await self.posted.posted_video(job)
        if posted is None:
            raise VideoUnavailable(f"the video of #{job.id} is no longer posted", permanent=True)
        return posted

    async def from_provider(self, job: Job, cap: int = MAX_SOURCE_BYTES) -> bytes:
        """The provider's video, asking it for a fresh link once if the stored one died."""
        if not job.result_url:
            raise VideoUnavailable("the provider gave no video", permanent=True)
        try:
            return await download(self.session, job.result_url, cap)
        except VideoUnavailable as failed:
            if not failed.permanent or isinstance(failed, VideoTooLarge):
                raise
            fresh = await self.fresh_link(job)
            if not fresh or fresh == job.result_url:
                raise
            log.info("job %d: the result link had expired; using a fresh one", job.id)
            await self.jobs.transition(job.id, from_states={job.state}, result_url=fresh)
            return await download(self.session, fresh, cap)

