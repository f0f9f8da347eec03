"""Usage reports for moderators: per member and per server, top members, spend against the
budget, and a CSV export. Figures come from the same ledger the quotas count
(`bot.db.jobs.ledger`), so a report and a refusal never disagree: videos and seconds are
what counts against quotas, the estimated spend is what the budget counts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.clock import Clock
from bot.db.jobs import JobLedger, LedgerTotals
from bot.db.jobs.ledger import TOP_ORDER
from bot.db.servers import ServerSettingsRepository
from bot.errors import InvalidInput
from bot.moderation.requester import Moderators, Requester, guild_of
from bot.quotas.catalogue import Window
from bot.quotas.counting import BudgetStanding
from bot.quotas.standing import Standings
from bot.quotas.windows import window_bounds

__all__ = ["TOP_ORDER", "MemberUsage", "Period", "ServerUsage", "UsageReports"]

# Names for the CSV: (user ids, channel ids) -> {id: name}; the cog asks Discord.
NameLookup = Callable[[set[int], set[int]], Awaitable[tuple[dict[int, str], dict[int, str]]]]


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
class MemberUsage:
    user_id: int
    period: Period
    totals: LedgerTotals


@dataclass(frozen=True)
class ServerUsage:
    guild_id: int
    period: Period
    totals: LedgerTotals
    members: int
    budget: BudgetStanding


class UsageReports:
    def __init__(
        self,
        *,
        ledger: JobLedger,
        servers: ServerSettingsRepository,
        standings: Standings,
        moderators: Moderators,
        clock: Clock,
    ) -> None:
        self.ledger = ledger
        self.servers = servers
        self.standings = standings
        self.moderators = moderators
        self.clock = clock

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
                raise InvalidInput("The period must end after it starts.")
            return Period(start, end, "custom")
        settings = await self.servers.get(guild_id)
        which = Window(window)
        begin, finish = window_bounds(which, self.clock(), settings.timezone, settings.reset_hour)
        if previous:
            begin, finish = window_bounds(which, begin - 1, settings.timezone, settings.reset_hour)
        return Period(begin, finish, which.value, previous)

    async def member_usage(
        self, actor: Requester, user_id: int, period: Period | None = None
    ) -> MemberUsage:
        """Moderators may ask about anyone; members only about themselves."""
        if user_id != actor.user_id:
            await self.moderators.require(actor)
        guild_id = guild_of(actor)
        period = period or await self.period(guild_id)
        refunds = (await self.servers.get(guild_id)).refunds_enabled
        totals = await self.ledger.member_totals(
            guild_id, user_id, period.start, period.end, refunds_enabled=refunds
        )
        return MemberUsage(user_id, period, totals)

    async def server_usage(self, actor: Requester, period: Period | None = None) -> ServerUsage:
        await self.moderators.require(actor)
        guild_id = guild_of(actor)
        period = period or await self.period(guild_id)
        refunds = (await self.servers.get(guild_id)).refunds_enabled
        totals, members = await self.ledger.server_totals(
            guild_id, period.start, period.end, refunds_enabled=refunds
        )
        return ServerUsage(guild_id, period, totals, members, await self.standings.budget(guild_id))

    async def top_members(
        self, actor: Requester, period: Period | None = None, *, by: str = "cost", limit: int = 10
    ) -> list[MemberUsage]:
        await self.moderators.require(actor)
        if by not in TOP_ORDER:
            raise InvalidInput(f"Order by one of {', '.join(TOP_ORDER)}.")
        guild_id = guild_of(actor)
        period = period or await self.period(guild_id)
        refunds = (await self.servers.get(guild_id)).refunds_enabled
        top = await self.ledger.top_members(
            guild_id, period.start, period.end, refunds_enabled=refunds, by=by, limit=limit
        )
        return [MemberUsage(user_id, period, totals) for user_id, totals in top]

    async def export_csv(
        self, actor: Requester, period: Period | None = None, *, names: NameLookup | None = None
    ) -> bytes:
        """One row per job in the period (deleted ones included), UTF-8 with a header; who
        and where by name (from ``names``) as well as by id, times in ISO 8601 UTC."""
        await self.moderators.require(actor)
        guild_id = guild_of(actor)
        period = period or await self.period(guild_id)
        refunds = (await self.servers.get(guild_id)).refunds_enabled
        entries = await self.ledger.entries(
            guild_id, period.start, period.end, refunds_enabled=refunds
        )
        users: dict[int, str] = {}
        channels: dict[int, str] = {}
        if names is not None and entries:
            users, channels = await names(
                {e.user_id for e in entries}, {e.channel_id for e in entries}
            )
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            [
                "job_id",
                "created_at_utc",
                "user_id",
                "user",
                "channel_id",
                "channel",
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
        for e in entries:
            writer.writerow(
                [
                    e.job_id,
                    datetime.fromtimestamp(e.created_at, UTC).isoformat(timespec="seconds"),
                    e.user_id,
                    users.get(e.user_id, ""),
                    e.channel_id,
                    channels.get(e.channel_id, ""),
                    e.status,
                    e.origin,
                    int(e.counted),
                    int(e.billed),
                    e.seconds,
                    e.resolution,
                    f"{e.estimated_cost:.4f}",
                    int(e.deleted),
                ]
            )
        return out.getvalue().encode("utf-8")
