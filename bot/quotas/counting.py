"""How quotas are counted: a member's use in each window, with grants and resets, and the
server's spend against its budget.

What a job counts for is the ledger's to say (`bot.db.jobs.ledger`); this module adds the
moderators' adjustments. Grants add to a member's limits for the current window only. A
reset is a timestamp per member and window: usage counts only jobs created after it. A
timestamp (rather than a grant equal to the usage so far) stays right when a job from
before the reset is refunded later, and it does not touch the server budget, because the
money was spent all the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.db.adjustments import AdjustmentRepository
from bot.db.database import Connection
from bot.db.jobs import JobLedger, Usage
from bot.db.servers import GuildSettings
from bot.quotas.catalogue import Metric, Window
from bot.quotas.resolution import EffectiveLimits, LimitSource
from bot.quotas.windows import window_bounds


def usage_of(usage: Usage, metric: Metric) -> float:
    return {
        Metric.GENERATIONS: usage.generations,
        Metric.SECONDS: usage.seconds,
        Metric.COST: usage.cost,
    }[metric]


@dataclass(frozen=True)
class Meter:
    """One metric in one window: how much is used, allowed (grants included) and left."""

    metric: Metric
    used: float
    limit: float | None  # None: unlimited; includes `granted`
    granted: float
    source: LimitSource

    @property
    def remaining(self) -> float | None:
        return None if self.limit is None else max(0.0, self.limit - self.used)

    def left_after(self, asked: Usage) -> float | None:
        """What would be left once ``asked`` is used too; below zero, it doesn't fit."""
        return None if self.limit is None else self.limit - self.used - usage_of(asked, self.metric)


@dataclass(frozen=True)
class WindowStanding:
    window: Window
    starts_at: float
    resets_at: float
    generations: Meter
    seconds: Meter
    cost: Meter

    @property
    def meters(self) -> tuple[Meter, Meter, Meter]:
        return (self.generations, self.seconds, self.cost)


@dataclass(frozen=True)
class BudgetStanding:
    budget: float | None
    spent: float
    month_start: float
    resets_at: float

    @property
    def remaining(self) -> float | None:
        return None if self.budget is None else max(0.0, self.budget - self.spent)

    def left_after(self, cost: float) -> float | None:
        """The budget left once ``cost`` is spent too; below zero, it doesn't fit."""
        return None if self.budget is None else self.budget - self.spent - cost


class QuotaCounter:
    def __init__(self, ledger: JobLedger, adjustments: AdjustmentRepository) -> None:
        self.ledger = ledger
        self.adjustments = adjustments

    async def window(
        self,
        settings: GuildSettings,
        limits: EffectiveLimits,
        user_id: int,
        window: Window,
        now: float,
        *,
        conn: Connection | None = None,
    ) -> WindowStanding:
        start, end = window_bounds(window, now, settings.timezone, settings.reset_hour)
        extra, reset_at = await self.adjustments.in_force(
            settings.guild_id, user_id, window.value, now, conn=conn
        )
        since = max(start, reset_at) if reset_at is not None else start
        used = await self.ledger.usage(
            settings.guild_id,
            user_id,
            since,
            end,
            refunds_enabled=settings.refunds_enabled,
            conn=conn,
        )
        meters = []
        for metric in Metric:
            limit = limits.window(metric, window)
            allowed = limits.quantity(limit.name)
            granted = usage_of(extra, metric)
            total = None if allowed is None else allowed + granted
            meters.append(Meter(metric, usage_of(used, metric), total, granted, limit.source))
        return WindowStanding(window, start, end, *meters)

    async def budget(
        self, settings: GuildSettings, now: float, *, conn: Connection | None = None
    ) -> BudgetStanding:
        start, end = window_bounds(Window.MONTH, now, settings.timezone, settings.reset_hour)
        spent = await self.ledger.spent(settings.guild_id, start, end, conn=conn)
        return BudgetStanding(settings.monthly_budget, spent, start, end)
