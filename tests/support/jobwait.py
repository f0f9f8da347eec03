"""Waiting (bounded) on a job's stored state, for tests that watch the database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.db.jobs import JobRepository
from bot.jobs.model import Job


async def wait_until_gone(jobs: JobRepository, job_id: int, within: float = 5.0) -> None:
    """Return once the job is no longer stored; TimeoutError after ``within`` s."""
    async with asyncio.timeout(within):
        while await jobs.get(job_id) is not None:  # noqa: ASYNC110 - a row has no event
            await asyncio.sleep(0.01)


async def wait_for_job(
    jobs: JobRepository, job_id: int, predicate: Callable[[Job], bool], within: float = 10.0
) -> Job:
    """Return the job once ``predicate`` holds for it; TimeoutError after ``within`` s."""
    async with asyncio.timeout(within):
        while True:
            job = await jobs.get(job_id)
            if job is not None and predicate(job):
                return job
            await asyncio.sleep(0.01)
