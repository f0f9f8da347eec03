"""A job built on other jobs' videos waits for them: a continuation for the video it
continues, a stitch for its clips.

So a whole storyboard can be accepted at once: each shot waits until the shot before it is
posted, then starts from its last frame. A source that ended without a video ends the job
that needed it, with a reason the member reads.
"""

from __future__ import annotations

from bot.db.jobs import JobRepository
from bot.jobs.model import Job


class SourceFailed(Exception):
    """A job this one builds on has no video to give, and never will (the member's words)."""


def source_ids(job: Job, clip_ids: list[int]) -> list[int]:
    frame = [job.first_frame_from] if job.awaits_first_frame and job.first_frame_from else []
    return frame + clip_ids


async def sources_ready(jobs: JobRepository, job: Job) -> bool:
    """Whether every job ``job`` builds on has its video posted; `SourceFailed` if one
    ended without a video (or was deleted)."""
    clips = [] if job.calls_provider else [c.job_id for c in await jobs.clips(job.id)]
    for source_id in source_ids(job, clips):
        source = await jobs.get(source_id)
        if source is None:
            raise SourceFailed(f"#{source_id}, which this video builds on, was deleted.")
        if not source.is_delivered:
            return False
        if not source.succeeded:
            raise SourceFailed(
                f"#{source.id}, which this video builds on, ended without a video "
                f"({source.display_state.lower()})."
            )
    return True
