"""Where a job comes from: its parent, the clips of a stitch, the chain it belongs to.

Every job records its origin (`JobOrigin`) and its parent; a continuation also records the
job whose last frame it starts from, and a stitch its clips. From those, a result credits
who it builds on ("continues #12 by @alice"), `/video status` shows the chain that led to
a job, and Stitch finds the clips a chain of continuations is made of.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.db.jobs import JobRepository
from bot.jobs.model import Credit, Job

# How far back a chain is followed: enough for any film members make by hand, and a bound
# on the lookups a single answer makes.
MAX_CHAIN = 20


@dataclass(frozen=True)
class Lineage:
    """Whose work a job's result builds on, for its credits."""

    parent: Credit | None = None
    clips: tuple[Credit, ...] = ()  # a stitch's, in the order they play

    @property
    def members(self) -> list[int]:
        """Everyone credited, once each, in order of appearance."""
        ids = [c.user_id for c in self.clips] or ([self.parent.user_id] if self.parent else [])
        return list(dict.fromkeys(ids))


NO_LINEAGE = Lineage()


class Lineages:
    def __init__(self, jobs: JobRepository) -> None:
        self.jobs = jobs

    async def of(self, job: Job) -> Lineage:
        parent = await self.jobs.get(job.parent_job_id) if job.parent_job_id else None
        clips = () if job.calls_provider else tuple(await self.jobs.clips(job.id))
        return Lineage(Credit(parent.id, parent.user_id) if parent else None, clips)

    async def ancestry(self, job: Job, limit: int = MAX_CHAIN) -> list[Job]:
        """The jobs that led to ``job`` through their parents, oldest first, ending with
        ``job`` (at most ``limit``; a deleted ancestor ends the chain)."""
        return await self._chain(job, lambda j: j.parent_job_id, limit)

    async def continued_from(self, job: Job, limit: int = MAX_CHAIN) -> list[Job]:
        """The chain of continuations ending at ``job``: each starts from the last frame of
        the one before, oldest first, ending with ``job`` (at most ``limit``)."""
        return await self._chain(job, lambda j: j.first_frame_from, limit)

    async def _chain(
        self, job: Job, before: Callable[[Job], int | None], limit: int
    ) -> list[Job]:
        chain = [job]
        while len(chain) < limit and (earlier_id := before(chain[0])) is not None:
            earlier = await self.jobs.get(earlier_id)
            if earlier is None or earlier.id in {j.id for j in chain}:
                break
            chain.insert(0, earlier)
        return chain
