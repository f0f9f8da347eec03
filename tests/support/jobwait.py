"""Waiting (bounded) on a job's stored state, for tests that watch the database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.db.jobs import JobRepository
from bot.jobs.model import Job


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
