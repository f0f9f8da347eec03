"""The ``job_timings`` table: how long the provider took for each finished job, by kind.

The finish-time estimate (`bot.jobs.estimates`) is learned from it, so it survives restarts.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.db.database import Database


@dataclass(frozen=True)
class JobTiming:
    kind: str
    queue_seconds: float | None  # created -> processing, when the provider's clock says
    processing_seconds: float | None  # processing -> finished
    total_seconds: float
    finished_at: float


class TimingRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, job_id: int, timing: JobTiming) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO job_timings (job_id, kind, queue_seconds, processing_seconds, "
                "total_seconds, finished_at) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (job_id) DO NOTHING",
                (
                    job_id,
                    timing.kind,
                    timing.queue_seconds,
                    timing.processing_seconds,
                    timing.total_seconds,
                    timing.finished_at,
                ),
            )

    async def recent(self, limit: int) -> list[JobTiming]:
        """The newest ``limit`` timings of every kind, oldest first."""
        rows = await self.db.reader.fetchall(
            "SELECT * FROM (SELECT * FROM job_timings ORDER BY finished_at DESC LIMIT ?) AS recent "
            "ORDER BY finished_at",
            (limit,),
        )
        return [
            JobTiming(
                kind=r["kind"],
                queue_seconds=r["queue_seconds"],
                processing_seconds=r["processing_seconds"],
                total_seconds=r["total_seconds"],
                finished_at=r["finished_at"],
            )
            for r in rows
        ]
