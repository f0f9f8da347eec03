"""The job store: one SQLite file (WAL), versioned migrations, parameterised SQL only.

A job is written before anything is sent to the provider, and every later step is a
compare-and-set on its state, so a crash at any instant leaves a row the scheduler can
pick up again, and two coroutines can never both move the same job forward.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from bot.jobs import Job, JobState, NewJob
from bot.migrations import MIGRATIONS
from bot.params import GenerationRequest

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Admission = Callable[[aiosqlite.Connection, NewJob, float], Awaitable[None]]

# Columns a caller may set through `transition`; names never come from user input.
_UPDATABLE = frozenset(
    {
        "request_id",
        "status_message_id",
        "provider_status",
        "error",
        "result_url",
        "thumbnail_url",
        "result_message_id",
        "delivered_via",
        "submitted_at",
        "finished_at",
        "delivered_at",
        "next_check_at",
        "failed_checks",
    }
)


class JobStore:
    def __init__(self, conn: aiosqlite.Connection, clock: Clock = time.time) -> None:
        self.conn = conn
        self.clock = clock
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path, clock: Clock = time.time) -> JobStore:
        """Open (creating if needed) the database and bring its schema up to date."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=5000")
        store = cls(conn, clock)
        await store.migrate()
        return store

    async def close(self) -> None:
        await self.conn.close()

    async def migrate(self, migrations: Sequence[str] | None = None) -> int:
        """Apply the migrations this file has not seen yet; return the schema version."""
        migrations = MIGRATIONS if migrations is None else migrations
        async with self.conn.execute("PRAGMA user_version") as cur:
            (version,) = await cur.fetchone()
        for number, script in enumerate(migrations[version:], start=version + 1):
            async with self.transaction() as conn:
                for statement in _statements(script):
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version = {int(number)}")
            log.info("database migrated to schema version %d", number)
        return max(version, len(migrations))

    @asynccontextmanager
    async def transaction(self):
        """One writer at a time; ``BEGIN IMMEDIATE`` takes SQLite's write lock up front so
        a check and the write that depends on it cannot be interleaved by another process."""
        async with self._write_lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            else:
                await self.conn.execute("COMMIT")

    # -- accepting ---------------------------------------------------------------------

    async def accept(
        self,
        new: NewJob,
        *,
        deadline_seconds: float,
        admission: Admission | None = None,
    ) -> Job:
        """Store a job in state ACCEPTED, due ``new.first_step_after`` seconds from now.

        ``admission`` runs inside the same transaction (quota checks and reservations); if it
        raises, nothing is written and the exception propagates.
        """
        now = self.clock()
        async with self.transaction() as conn:
            if admission is not None:
                await admission(conn, new, now)
            cursor = await conn.execute(
                """
                INSERT INTO jobs (guild_id, channel_id, user_id, model, params_json,
                                  payload_json, origin, parent_job_id, estimated_cost, state,
                                  created_at, updated_at, next_check_at, deadline_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                (
                    new.guild_id,
                    new.channel_id,
                    new.user_id,
                    new.model,
                    new.request.to_json(),
                    canonical_payload(new.request.to_payload()),
                    new.origin,
                    new.parent_job_id,
                    new.estimated_cost,
                    JobState.ACCEPTED.value,
                    now,
                    now,
                    now + new.first_step_after,
                    now + deadline_seconds,
                ),
            )
            job_id = cursor.lastrowid
        job = await self.get(job_id)
        assert job is not None
        return job

    # -- reading -----------------------------------------------------------------------

    async def get(self, job_id: int) -> Job | None:
        async with self.conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)) as cur:
            row = await cur.fetchone()
        return _job(row) if row else None

    async def get_by_request_id(self, request_id: str) -> Job | None:
        async with self.conn.execute(
            "SELECT * FROM jobs WHERE request_id = ?", (request_id,)
        ) as cur:
            row = await cur.fetchone()
        return _job(row) if row else None

    async def claim_due(self, now: float, limit: int, lease_seconds: float) -> list[Job]:
        """Take the jobs whose next step is due (unfinished ones and finished-but-unposted
        ones) and push their due time ``lease_seconds`` ahead, so that a crash while one is
        being handled only delays it: the lease runs out and the job is taken again."""
        async with self.transaction() as conn:
            async with conn.execute(
                "SELECT id FROM jobs WHERE next_check_at IS NOT NULL AND next_check_at <= ? "
                "ORDER BY next_check_at LIMIT ?",
                (now, limit),
            ) as cur:
                ids = [row[0] for row in await cur.fetchall()]
            await conn.executemany(
                "UPDATE jobs SET next_check_at = ? WHERE id = ?",
                [(now + lease_seconds, job_id) for job_id in ids],
            )
        jobs = [await self.get(job_id) for job_id in ids]
        return [job for job in jobs if job is not None]

    async def make_all_due(self, now: float) -> int:
        """At start: every job with a next step is due now (its lease belonged to a process
        that is gone). Returns how many jobs will resume."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE jobs SET next_check_at = ? WHERE next_check_at IS NOT NULL", (now,)
            )
            return cursor.rowcount

    async def next_due_at(self) -> float | None:
        async with self.conn.execute(
            "SELECT MIN(next_check_at) FROM jobs WHERE next_check_at IS NOT NULL"
        ) as cur:
            (value,) = await cur.fetchone()
        return value

    async def known_request_ids(self, request_ids: Iterable[str]) -> set[str]:
        ids = list(request_ids)
        if not ids:
            return set()
        placeholders = ",".join("?" for _ in ids)
        async with self.conn.execute(
            f"SELECT request_id FROM jobs WHERE request_id IN ({placeholders})",  # noqa: S608
            ids,
        ) as cur:
            return {row[0] for row in await cur.fetchall()}

    async def recent_for_user(
        self, user_id: int, guild_id: int | None, *, limit: int, offset: int = 0
    ) -> list[Job]:
        async with self.conn.execute(
            "SELECT * FROM jobs WHERE user_id = ? AND guild_id IS ? "
            "ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            (user_id, guild_id, limit, offset),
        ) as cur:
            rows = await cur.fetchall()
        return [_job(r) for r in rows]

    async def recent_in_guild(self, guild_id: int, *, limit: int) -> list[Job]:
        async with self.conn.execute(
            "SELECT * FROM jobs WHERE guild_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
            (guild_id, limit),
        ) as cur:
            rows = await cur.fetchall()
        return [_job(r) for r in rows]

    async def count_for_user(self, user_id: int, guild_id: int | None) -> int:
        async with self.conn.execute(
            "SELECT COUNT(*) FROM jobs WHERE user_id = ? AND guild_id IS ?", (user_id, guild_id)
        ) as cur:
            (count,) = await cur.fetchone()
        return count

    # -- moving a job forward ----------------------------------------------------------

    async def transition(
        self,
        job_id: int,
        *,
        from_states: Iterable[JobState],
        to_state: JobState | None = None,
        count_attempt: bool = False,
        count_poll: bool = False,
        count_delivery: bool = False,
        **fields: Any,
    ) -> Job | None:
        """Compare-and-set: apply the change only if the job is still in one of
        ``from_states``. Returns the updated job, or ``None`` if someone else moved it first."""
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        assignments = ["updated_at = ?"]
        values: list[Any] = [self.clock()]
        if to_state is not None:
            assignments.append("state = ?")
            values.append(to_state.value)
        if count_attempt:
            assignments.append("attempts = attempts + 1")
        if count_poll:
            assignments.append("poll_count = poll_count + 1")
        if count_delivery:
            assignments.append("delivery_attempts = delivery_attempts + 1")
        for name, value in fields.items():
            assignments.append(f"{name} = ?")
            values.append(value)
        states = [s.value for s in from_states]
        placeholders = ",".join("?" for _ in states)
        sql = (
            f"UPDATE jobs SET {', '.join(assignments)} "  # noqa: S608 - names are whitelisted
            f"WHERE id = ? AND state IN ({placeholders})"
        )
        async with self.transaction() as conn:
            cursor = await conn.execute(sql, [*values, job_id, *states])
            changed = cursor.rowcount
        return await self.get(job_id) if changed else None

    async def delete_unsent(self, job_id: int) -> bool:
        """Remove a job that was never sent to the provider; False if it already was."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM jobs WHERE id = ? AND state = ?", (job_id, JobState.ACCEPTED.value)
            )
            return cursor.rowcount > 0

    async def set_status_message(self, job_id: int, message_id: int) -> None:
        """Record the job's public status message; a job still waiting for it is due now."""
        now = self.clock()
        async with self.transaction() as conn:
            await conn.execute(
                "UPDATE jobs SET status_message_id = ?, updated_at = ?, "
                "next_check_at = CASE WHEN state = ? THEN ? ELSE next_check_at END WHERE id = ?",
                (message_id, now, JobState.ACCEPTED.value, now, job_id),
            )


def canonical_payload(payload: dict[str, Any]) -> str:
    """The payload as stored and compared during reconciliation: key order never matters."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _job(row: aiosqlite.Row) -> Job:
    return Job(
        id=row["id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        user_id=row["user_id"],
        request=GenerationRequest.from_json(row["params_json"]),
        payload_json=row["payload_json"],
        model=row["model"],
        state=JobState(row["state"]),
        origin=row["origin"],
        parent_job_id=row["parent_job_id"],
        estimated_cost=row["estimated_cost"],
        request_id=row["request_id"],
        status_message_id=row["status_message_id"],
        provider_status=row["provider_status"],
        error=row["error"],
        result_url=row["result_url"],
        thumbnail_url=row["thumbnail_url"],
        result_message_id=row["result_message_id"],
        delivered_via=row["delivered_via"],
        attempts=row["attempts"],
        poll_count=row["poll_count"],
        failed_checks=row["failed_checks"],
        delivery_attempts=row["delivery_attempts"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        submitted_at=row["submitted_at"],
        finished_at=row["finished_at"],
        delivered_at=row["delivered_at"],
        next_check_at=row["next_check_at"],
        deadline_at=row["deadline_at"],
    )
