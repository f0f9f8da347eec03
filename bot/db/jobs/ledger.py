"""What counts: the one ledger behind member quotas, the server budget and usage reports.

Accounting reads the job tables themselves: a job row *is* its reservation. Every job ever
accepted in a server is in the ledger, deleted ones included (``deleted_jobs`` keeps what
they counted, so deleting never gives back quota or budget). Two flags per job:

* ``is_counted``: it uses the member's quota (generations, seconds, cost). Failed,
  cancelled, timed-out and lost jobs are refunded while the server's refunds are on; a
  job whose outcome could be posted nowhere always is (the member got nothing).
* ``is_billed``: its estimated cost is money spent, for the server's monthly budget and the
  reports' estimated spend. The provider has no cancel call, so a cancelled or timed-out
  job that reached it (``request_id`` set) is still generated and billed; only jobs the
  provider reported failed are free. Running jobs count as reserved.

A stitch (clips joined with ffmpeg, never sent to the provider) is not in the ledger at all.

A cancelled or timed-out job that never reached the provider counts nowhere, whatever the
refund setting: nothing was generated or spent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.db.database import Connection, Database, Row
from bot.jobs.lifecycle import (
    ABANDONED_OUTCOMES,
    ACTIVE_STATES,
    REFUNDED_OUTCOMES,
    JobOutcome,
    JobState,
)
from bot.jobs.model import JobOrigin


def _values(states: Iterable[JobState | JobOutcome]) -> str:
    return ", ".join(f"'{s.value}'" for s in sorted(states))


_LEDGER = f"""
    WITH ledger_jobs AS (
        SELECT id AS job_id, user_id, channel_id, outcome, COALESCE(outcome, state) AS status,
               origin, created_at, request_id, duration, resolution, estimated_cost,
               CASE WHEN state = 'undeliverable' THEN 1 ELSE 0 END AS undeliverable,
               0 AS deleted
        FROM jobs WHERE guild_id = :guild AND origin != '{JobOrigin.STITCH.value}'
        UNION ALL
        SELECT job_id, user_id, channel_id, outcome, outcome, 'deleted', created_at, request_id,
               duration, resolution, estimated_cost, undeliverable, 1
        FROM deleted_jobs WHERE guild_id = :guild
    ),
    ledger AS (
        SELECT *,
               CASE WHEN request_id IS NULL AND outcome IN ({_values(ABANDONED_OUTCOMES)}) THEN 0
                    WHEN undeliverable = 1 THEN 0
                    WHEN :refunds = 1 AND outcome IN ({_values(REFUNDED_OUTCOMES)}) THEN 0
                    ELSE 1 END AS is_counted,
               CASE WHEN request_id IS NULL AND outcome IN ({_values(ABANDONED_OUTCOMES)}) THEN 0
                    WHEN outcome = '{JobOutcome.FAILED.value}' THEN 0
                    ELSE 1 END AS is_billed
        FROM ledger_jobs
    )
"""  # noqa: S608 - outcome names come from JobOutcome; values are parameters


def _ledger_sql(columns: str, rest: str = "") -> str:
    return f"{_LEDGER} SELECT {columns} FROM ledger {rest}"  # noqa: S608


_PERIOD = "created_at >= :since AND created_at < :until"
_USAGE_SQL = _ledger_sql(
    "COALESCE(SUM(is_counted), 0), COALESCE(SUM(duration * is_counted), 0), "
    "COALESCE(SUM(estimated_cost * is_counted), 0)",
    f"WHERE user_id = :user AND {_PERIOD}",
)
_SPENT_SQL = _ledger_sql(
    "COALESCE(SUM(estimated_cost * is_billed), 0)", f"WHERE {_PERIOD}"
)
_LAST_JOB_SQL = _ledger_sql("MAX(created_at)", "WHERE user_id = :user")
_ACTIVE_JOBS_SQL = (
    "SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND user_id = ? "  # noqa: S608
    f"AND state IN ({_values(ACTIVE_STATES)}) AND origin != '{JobOrigin.STITCH.value}'"
)
_TOTALS = """
    COUNT(*) AS jobs,
    COALESCE(SUM(is_counted), 0) AS counted,
    COALESCE(SUM(1 - is_counted), 0) AS refunded,
    COALESCE(SUM(outcome = 'succeeded'), 0) AS succeeded,
    COALESCE(SUM(duration * is_counted), 0) AS seconds,
    COALESCE(SUM(estimated_cost * is_billed), 0) AS estimated_cost
"""
_MEMBER_TOTALS_SQL = _ledger_sql(_TOTALS, f"WHERE {_PERIOD} AND user_id = :user")
_SERVER_TOTALS_SQL = _ledger_sql(
    f"{_TOTALS}, COUNT(DISTINCT user_id) AS members", f"WHERE {_PERIOD}"
)
TOP_ORDER = {"cost": "estimated_cost", "generations": "counted", "seconds": "seconds"}
_TOP_SQL = {
    key: _ledger_sql(
        f"user_id, {_TOTALS}",
        f"WHERE {_PERIOD} GROUP BY user_id ORDER BY {column} DESC, counted DESC, user_id "
        "LIMIT :limit",
    )
    for key, column in TOP_ORDER.items()
}
_EXPORT_SQL = _ledger_sql("*", f"WHERE {_PERIOD} ORDER BY created_at, job_id")


@dataclass(frozen=True)
class Usage:
    """What one member used in a window, as quotas count it."""

    generations: int = 0
    seconds: int = 0
    cost: float = 0.0


@dataclass(frozen=True)
class LedgerTotals:
    jobs: int  # every accepted job
    counted: int  # jobs that use quota (refunded ones excluded when refunds are on)
    refunded: int  # jobs that don't (incl. cancelled ones that were never sent)
    succeeded: int
    seconds: int  # seconds of video of counted jobs
    estimated_cost: float  # money spent (see is_billed); refunds don't change it


@dataclass(frozen=True)
class LedgerEntry:
    """One job of the ledger, as the CSV export lists it."""

    job_id: int
    created_at: float
    user_id: int
    channel_id: int
    status: str  # how it ended, or where it is while it runs
    origin: str
    counted: bool
    billed: bool
    seconds: int
    resolution: str
    estimated_cost: float
    deleted: bool


class JobLedger:
    """Read-only accounting over the job tables. Methods that run inside the admission's
    transaction take its connection: the count and the insert it guards must agree."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def usage(
        self,
        guild_id: int,
        user_id: int,
        since: float,
        until: float,
        *,
        refunds_enabled: bool,
        conn: Connection | None = None,
    ) -> Usage:
        """What counts against one member's quota among their jobs created in [since, until)."""
        params = {
            "guild": guild_id,
            "refunds": int(refunds_enabled),
            "user": user_id,
            "since": since,
            "until": until,
        }
        row = await self.db.read(conn).fetchone(_USAGE_SQL, params)
        assert row is not None
        count, seconds, cost = row
        return Usage(int(count), int(seconds), float(cost))

    async def spent(self, guild_id: int, since: float, until: float, *, conn: Connection | None = None) -> float:
        """Estimated money spent by the server on jobs created in [since, until)."""
        params = {"guild": guild_id, "refunds": 1, "since": since, "until": until}
        return float(await self.db.read(conn).fetchval(_SPENT_SQL, params))

    async def last_job_at(self, guild_id: int, user_id: int, *, conn: Connection | None = None) -> float | None:
        """When the member last asked for a video here (for cooldowns)."""
        params = {"guild": guild_id, "refunds": 1, "user": user_id}
        value = await self.db.read(conn).fetchval(_LAST_JOB_SQL, params)
        return None if value is None else float(value)

    async def active_jobs(self, guild_id: int, user_id: int, *, conn: Connection | None = None) -> int:
        """The member's jobs in progress, for ``concurrent_jobs``: active states only. A
        cancelled or timed-out job the provider may still be generating no longer counts here
        (it still counts in the budget): simple, and the member can't see it any more."""
        return int(await self.db.read(conn).fetchval(_ACTIVE_JOBS_SQL, (guild_id, user_id)))

    async def member_totals(
        self, guild_id: int, user_id: int, since: float, until: float, *, refunds_enabled: bool
    ) -> LedgerTotals:
        params = _report_params(guild_id, since, until, refunds_enabled, user=user_id)
        row = await self.db.reader.fetchone(_MEMBER_TOTALS_SQL, params)
        assert row is not None
        return _totals(row)

    async def server_totals(
        self, guild_id: int, since: float, until: float, *, refunds_enabled: bool
    ) -> tuple[LedgerTotals, int]:
        """The server's totals and how many members generated."""
        params = _report_params(guild_id, since, until, refunds_enabled)
        row = await self.db.reader.fetchone(_SERVER_TOTALS_SQL, params)
        assert row is not None
        return _totals(row), int(row["members"])

    async def top_members(
        self,
        guild_id: int,
        since: float,
        until: float,
        *,
        refunds_enabled: bool,
        by: str,
        limit: int,
    ) -> list[tuple[int, LedgerTotals]]:
        params = _report_params(guild_id, since, until, refunds_enabled, limit=limit)
        rows = await self.db.reader.fetchall(_TOP_SQL[by], params)
        return [(int(r["user_id"]), _totals(r)) for r in rows]

    async def entries(
        self, guild_id: int, since: float, until: float, *, refunds_enabled: bool
    ) -> list[LedgerEntry]:
        params = _report_params(guild_id, since, until, refunds_enabled)
        rows = await self.db.reader.fetchall(_EXPORT_SQL, params)
        return [
            LedgerEntry(
                job_id=r["job_id"],
                created_at=r["created_at"],
                user_id=r["user_id"],
                channel_id=r["channel_id"],
                status=r["status"],
                origin=r["origin"],
                counted=bool(r["is_counted"]),
                billed=bool(r["is_billed"]),
                seconds=r["duration"],
                resolution=r["resolution"],
                estimated_cost=r["estimated_cost"],
                deleted=bool(r["deleted"]),
            )
            for r in rows
        ]


def _report_params(
    guild_id: int, since: float, until: float, refunds_enabled: bool, **extra: object
) -> dict[str, object]:
    return {
        "guild": guild_id,
        "refunds": int(refunds_enabled),
        "since": since,
        "until": until,
        **extra,
    }


def _totals(row: Row) -> LedgerTotals:
    return LedgerTotals(
        jobs=row["jobs"],
        counted=row["counted"],
        refunded=row["refunded"],
        succeeded=row["succeeded"],
        seconds=row["seconds"],
        estimated_cost=round(row["estimated_cost"], 6),
    )
