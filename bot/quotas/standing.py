"""What `/video quota` shows a member: what is used and left in each window, and why."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.db.blocks import BlockRepository, MemberBlock
from bot.db.jobs import JobLedger
from bot.db.servers import ServerSettingsRepository
from bot.errors import InvalidInput
from bot.moderation.requester import Requester
from bot.quotas.catalogue import Window
from bot.quotas.counting import BudgetStanding, QuotaCounter, WindowStanding
from bot.quotas.resolution import EffectiveLimits, LimitResolver


@dataclass(frozen=True)
class Standing:
    guild_id: int
    user_id: int
    windows: tuple[WindowStanding, ...]
    active_jobs: int
    limits: EffectiveLimits
    cooldown_until: float | None
    block: MemberBlock | None
    budget: BudgetStanding


class Standings:
    def __init__(
        self,
        *,
        resolver: LimitResolver,
        servers: ServerSettingsRepository,
        counter: QuotaCounter,
        ledger: JobLedger,
        blocks: BlockRepository,
        clock: Clock,
    ) -> None:
        self.resolver = resolver
        self.servers = servers
        self.counter = counter
        self.ledger = ledger
        self.blocks = blocks
        self.clock = clock

    async def of_member(self, requester: Requester) -> Standing:
        if requester.guild_id is None:
            raise InvalidInput("Quotas apply inside a server.")
        guild_id, user_id, now = requester.guild_id, requester.user_id, self.clock()
        settings, limits = await self.resolver.for_member(requester)
        windows = tuple(
            [await self.counter.window(settings, limits, user_id, w, now) for w in Window]
        )
        cooldown = limits.cooldown_seconds
        last = await self.ledger.last_job_at(guild_id, user_id)
        cooldown_until = last + cooldown if cooldown and last and last + cooldown > now else None
        return Standing(
            guild_id=guild_id,
            user_id=user_id,
            windows=windows,
            active_jobs=await self.ledger.active_jobs(guild_id, user_id),
            limits=limits,
            cooldown_until=cooldown_until,
            block=await self.blocks.active(guild_id, user_id, now),
            budget=await self.counter.budget(settings, now),
        )

    async def budget(self, guild_id: int) -> BudgetStanding:
        settings = await self.servers.get(guild_id)
        return await self.counter.budget(settings, self.clock())
