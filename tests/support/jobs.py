"""Moving jobs along their lifecycle by hand, as the scheduler would, for domain tests."""

from __future__ import annotations

from typing import Any

from bot.db.jobs import JobRepository
from bot.jobs.lifecycle import JobOutcome, JobState
from bot.jobs.model import Job


async def finish(
    store: JobRepository,
    job_id: int,
    outcome: JobOutcome,
    *,
    from_state: JobState = JobState.ACCEPTED,
    **fields: Any,
) -> Job:
    """The job ends with ``outcome`` (its result not posted yet)."""
    job = await store.transition(
        job_id, from_states={from_state}, to_state=JobState.FINISHED, outcome=outcome, **fields
    )
    assert job is not None, f"job {job_id} was not {from_state}"
    return job


async def posted(store: JobRepository, job_id: int, *, message_id: int | None = None) -> Job:
    """The ended job's outcome is in the channel."""
    await store.transition(job_id, from_states={JobState.FINISHED}, to_state=JobState.POSTING)
    job = await store.transition(
        job_id,
        from_states={JobState.POSTING},
        to_state=JobState.DELIVERED,
        delivered_at=store.clock(),
        delivered_via="channel",
        result_message_id=message_id,
        next_check_at=None,
    )
    assert job is not None
    return job


async def sent(store: JobRepository, job_id: int, request_id: str) -> Job:
    """The provider has the job, as ``request_id``."""
    await store.transition(job_id, from_states={JobState.ACCEPTED}, to_state=JobState.SUBMITTING)
    job = await store.transition(
        job_id, from_states={JobState.SUBMITTING}, to_state=JobState.QUEUED, request_id=request_id
    )
    assert job is not None
    return job
