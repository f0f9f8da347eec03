"""Counts over the jobs table for the operator's metrics: read-only, cheap, one query each."""

from __future__ import annotations

from dataclasses import dataclass

from bot.db.database import Database
from bot.db.jobs.repository import COUNT_DUE_BY
from bot.jobs.lifecycle import JobState


@dataclass(frozen=True)
class SettledJob:
    id: int
    finished_at: float | None
    delivered_at: float
    delivered_via: str | None


class JobCounts:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def by_state(self) -> dict[JobState, int]:
        """How many jobs are in each state now (every state present, zero included)."""
        rows = await self.db.reader.fetchall("SELECT state, COUNT(*) FROM jobs GROUP BY state")
        counts = dict.fromkeys(JobState, 0)
        counts.update({JobState(row[0]): int(row[1]) for row in rows})
        return counts

    async def due(self, now: float) -> int:
        """Jobs whose next step is due and not taken yet: the scheduler's backlog (a job
        held for review is no part of it; a leased one counts from when its lease ends)."""
        return int(await self.db.reader.fetchval(COUNT_DUE_BY, (now,)))

    async def settled_after(
        self, delivered_at: float, job_id: int, *, limit: int = 1000
    ) -> list[SettledJob]:
        """Jobs settled (delivered, or given up) after the mark ``(delivered_at, job_id)``,
        in that order: a caller that keeps the last one as its mark sees each job once."""
        rows = await self.db.reader.fetchall(
            "SELECT id, finished_at, delivered_at, delivered_via FROM jobs "
            "WHERE delivered_at > ? OR (delivered_at = ? AND id > ?) "
            "ORDER BY delivered_at, id LIMIT ?",
            (delivered_at, delivered_at, job_id, limit),
        )
        return [SettledJob(row[0], row[1], float(row[2]), row[3]) for row in rows]
