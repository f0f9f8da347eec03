"""Usage reports for moderators: per member and per server, top members, spend against the
budget, and a CSV export. Figures come from the same ledger the quotas count
(`bot.quotas.LEDGER`: jobs plus deleted jobs, and what each counts), so a report and a
refusal never disagree: videos and seconds are what counts against quotas, the estimated
spend is what the budget counts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import aiosqlite

from bot.moderation import Moderation, PermissionDenied, Requester, load_guild_settings
from bot.quotas import LEDGER, BudgetStanding, Quotas, Window, window_bounds
from bot.store import JobStore

Clock = Callable[[], float]

TOP_ORDER = {
    "cost": "estimated_cost",
    "generations": "counted",
    "seconds": "seconds",
}

_TOTALS = """
    COUNT(*) AS jobs,
    COALESCE(SUM(is_counted), 0) AS counted,
    COALESCE(SUM(1 - is_counted), 0) AS refunded,
    COALESCE(SUM(state = 'succeeded'), 0) AS succeeded,
    COALESCE(SUM(seconds * is_counted), 0) AS seconds,
    COALESCE(SUM(estimated_cost * is_billed), 0) AS estimated_cost
"""


def _report_sql(columns: str, rest: str = "") -> str:
    """A query over the ledger's jobs created in the period (``:start`` to ``:end``)."""
    period = "created_at >= :start AND created_at < :end"
    return f"{LEDGER} SELECT {columns} FROM ledger WHERE {period} {rest}"  # noqa: S608


_MEMBER_SQL = _report_sql(_TOTALS, "AND user_id = :user")
_SERVER_SQL = _report_sql(f"{_TOTALS}, COUNT(DISTINCT user_id) AS members")
_TOP_SQL = {
    key: _report_sql(
        f"user_id, {_TOTALS}",
        f"GROUP BY user_id ORDER BY {column} DESC, counted DESC, user_id LIMIT :limit",
    )
    for key, column in TOP_ORDER.items()
}
_EXPORT_SQL = _report_sql("*", "ORDER BY created_at, job_id")


@dataclass(frozen=True)
class Period:
    start: float
    end: float
    window: str  # "day", "week", "month", or "custom"
    previous: bool = False  # the window before the current one

    @property
    def label(self) -> str:
        """How a report names it: "today", "yesterday", "this week", "last month"..."""
        if self.window == "custom":
            return "in the chosen period"
        window = Window(self.window)
        return window.last if self.previous else window.this


@dataclass(frozen=True)
class UsageTotals:
    jobs: int  # every accepted job
    counted: int  # jobs that use quota (refunded ones excluded when refunds are on)
    refunded: int  # jobs that don't (incl. cancelled ones that were never sent)
    succeeded: int
    seconds: int  # seconds of video of counted jobs
    # Estimated spend: jobs that reached the provider (or are on their way), cancelled and
    # timed-out ones included, except those it reported failed; refunds don't change it.
    estimated_cost: float


@dataclass(frozen=True)
class MemberUsage:
    user_id: int
    period: Period
    totals: UsageTotals


@dataclass(frozen=True)
class ServerUsage:
    guild_id: int
    period: Period
    totals: UsageTotals
    members: int
    budget: BudgetStanding


class UsageReports:
    def __init__(self, store: JobStore, quotas: Quotas, clock: Clock | None = None) -> None:
        self.store = store
        self.quotas = quotas
        self.clock = clock or store.clock
        self.moderation = Moderation(store, self.clock)

    async def period(
        self,
        guild_id: int,
        window: Window | str = Window.MONTH,
        *,
        previous: bool = False,
        start: float | None = None,
        end: float | None = None,
    ) -> Period:
        """The current (or previous) day/week/month of the server, or ``start``..``end``."""
        if start is not None and end is not None:
            if end <= start:
                raise ValueError("the period must end after it starts")
            return Period(start, end, "custom")
        settings = await load_guild_settings(self.store.conn, guild_id)
        window = Window(window)
        begin, finish = window_bounds(window, self.clock(), settings.timezone, settings.reset_hour)
        if previous:
            begin, finish = window_bounds(window, begin - 1, settings.timezone, settings.reset_hour)
        return Period(begin, finish, window.value, previous)

    async def member_usage(
        self, actor: Requester, user_id: int, period: Period | None = None
    ) -> MemberUsage:
        """Moderators may ask about anyone; members only about themselves."""
        if user_id != actor.user_id:
            await self.moderation.require_moderator(actor)
        guild_id = _guild(actor)
        period = period or await self.period(guild_id)
        row = await self._one(_MEMBER_SQL, guild_id, period, user=user_id)
        return MemberUsage(user_id, period, _totals(row))

    async def server_usage(self, actor: Requester, period: Period | None = None) -> ServerUsage:
        await self.moderation.require_moderator(actor)
        guild_id = _guild(actor)
        period = period or await self.period(guild_id)
        row = await self._one(_SERVER_SQL, guild_id, period)
        return ServerUsage(
            guild_id, period, _totals(row), row["members"], await self.quotas.budget(guild_id)
        )

    async def top_members(
        self, actor: Requester, period: Period | None = None, *, by: str = "cost", limit: int = 10
    ) -> list[MemberUsage]:
        await self.moderation.require_moderator(actor)
        if by not in TOP_ORDER:
            raise ValueError(f"order by one of {', '.join(TOP_ORDER)}")
        guild_id = _guild(actor)
        period = period or await self.period(guild_id)
        params = await self._params(guild_id, period, limit=limit)
        async with self.store.conn.execute(_TOP_SQL[by], params) as cur:
            rows = await cur.fetchall()
        return [MemberUsage(r["user_id"], period, _totals(r)) for r in rows]

    async def export_csv(self, actor: Requester, period: Period | None = None) -> bytes:
        """One row per job in the period (deleted ones included), UTF-8 with a header."""
        await self.moderation.require_moderator(actor)
        guild_id = _guild(actor)
        period = period or await self.period(guild_id)
        params = await self._params(guild_id, period)
        async with self.store.conn.execute(_EXPORT_SQL, params) as cur:
            rows = await cur.fetchall()
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            [
                "job_id",
                "created_at_utc",
                "user_id",
                "channel_id",
                "state",
                "origin",
                "counted",
                "billed",
                "seconds",
                "resolution",
                "estimated_cost",
                "deleted",
            ]
        )
        for r in rows:
            writer.writerow(
                [
                    r["job_id"],
                    datetime.fromtimestamp(r["created_at"], UTC).isoformat(timespec="seconds"),
                    r["user_id"],
                    r["channel_id"],
                    r["state"],
                    r["origin"],
                    r["is_counted"],
                    r["is_billed"],
                    r["seconds"],
                    r["resolution"],
                    f"{r['estimated_cost']:.4f}",
                    r["deleted"],
                ]
            )
        return out.getvalue().encode("utf-8")

    async def _params(self, guild_id: int, period: Period, **extra: object) -> dict[str, object]:
        settings = await load_guild_settings(self.store.conn, guild_id)
        return {
            "guild": guild_id,
            "refunds": int(settings.refunds_enabled),
            "start": period.start,
            "end": period.end,
            **extra,
        }

    async def _one(self, sql: str, guild_id: int, period: Period, **extra: object) -> aiosqlite.Row:
        params = await self._params(guild_id, period, **extra)
        async with self.store.conn.execute(sql, params) as cur:
            return await cur.fetchone()


def _guild(actor: Requester) -> int:
    if actor.guild_id is None:
        raise PermissionDenied("Usage reports work only inside a server.")
    return actor.guild_id


def _totals(row: aiosqlite.Row) -> UsageTotals:
    return UsageTotals(
        jobs=row["jobs"],
        counted=row["counted"],
        refunded=row["refunded"],
        succeeded=row["succeeded"],
        seconds=row["seconds"],
        estimated_cost=round(row["estimated_cost"], 6),
    )
