"""What a moderator may change about limits: set and clear them per server, role or member,
list them, see what applies to a member, and grant extra quota or a fresh start."""

from __future__ import annotations

import json

from bot.clock import Clock
from bot.db.adjustments import AdjustmentRepository
from bot.db.audit import AuditEntry
from bot.db.database import Connection, Database
from bot.db.jobs import Usage
from bot.db.limits import SCOPES, LimitRepository, StoredLimit
from bot.errors import InvalidInput
from bot.moderation.audit import AuditAction, AuditLog, user_target
from bot.moderation.requester import Moderators, Requester, guild_of
from bot.quotas.catalogue import LimitValue, Window, limit_spec
from bot.quotas.counting import QuotaCounter
from bot.quotas.resolution import EffectiveLimits, LimitResolver, resolve_limits
from bot.quotas.windows import window_bounds


class LimitAdministration:
    def __init__(
        self,
        *,
        db: Database,
        limits: LimitRepository,
        adjustments: AdjustmentRepository,
        resolver: LimitResolver,
        counter: QuotaCounter,
        moderators: Moderators,
        audit: AuditLog,
        clock: Clock,
    ) -> None:
        self.db = db
        self.limits = limits
        self.adjustments = adjustments
        self.resolver = resolver
        self.counter = counter
        self.moderators = moderators
        self.audit = audit
        self.clock = clock

    async def set_limit(
        self, actor: Requester, scope: str, scope_id: int | None, name: str, value: str
    ) -> AuditEntry:
        """Set one limit for the server (scope_id ignored), a role or a member."""
        await self.moderators.require(actor)
        parsed = limit_spec(name).parse(value)
        return await self._write(actor, scope, scope_id, name, parsed)

    async def clear_limit(
        self, actor: Requester, scope: str, scope_id: int | None, name: str
    ) -> AuditEntry:
        """Remove a limit at this level, so the next level decides again."""
        await self.moderators.require(actor)
        limit_spec(name)
        return await self._write(actor, scope, scope_id, name, None)

    async def _write(
        self,
        actor: Requester,
        scope: str,
        scope_id: int | None,
        name: str,
        value: LimitValue | None,  # None: clear
    ) -> AuditEntry:
        if scope not in SCOPES:
            raise InvalidInput(f"The scope must be one of {', '.join(SCOPES)}.")
        if scope != "server" and scope_id is None:
            raise InvalidInput(f"Name the {scope} this limit is for.")
        sid = 0 if scope == "server" else int(scope_id or 0)
        guild_id = guild_of(actor)
        now = self.clock()
        async with self.db.transaction() as conn:
            old = await self.limits.stored_text(guild_id, scope, sid, name, conn=conn)
            if value is None:
                if not await self.limits.remove(guild_id, scope, sid, name, conn=conn):
                    raise InvalidInput(f"`{name}` is not set for this {scope}.")
            else:
                await self.limits.put(
                    guild_id, scope, sid, name, value, by=actor.user_id, at=now, conn=conn
                )
            target = "server" if scope == "server" else f"{'user' if scope == 'member' else 'role'}:{sid}"
            return await self.audit.record(
                conn,
                guild_id=guild_id,
                actor_id=actor.user_id,
                action=AuditAction.LIMIT_CLEAR if value is None else AuditAction.LIMIT_SET,
                subject=name,
                target=target,
                old=old,
                new=None if value is None else str(value),
                at=now,
            )

    async def list_limits(
        self, actor: Requester, scope: str | None = None, scope_id: int | None = None
    ) -> list[StoredLimit]:
        await self.moderators.require(actor)
        return await self.limits.listed(guild_of(actor), scope, scope_id)

    async def effective_limits(self, actor: Requester, member: Requester) -> EffectiveLimits:
        """What applies to one member (build ``member`` from that member's roles)."""
        await self.moderators.require(actor)
        _, limits = await self.resolver.for_member(member)
        return limits

    async def grant(
        self,
        actor: Requester,
        user_id: int,
        window: Window | str,
        *,
        generations: int = 0,
        seconds: int = 0,
        cost: float = 0.0,
    ) -> AuditEntry:
        """Extra allowance for the member in the current ``window`` only."""
        await self.moderators.require(actor)
        which = Window.parse(window)
        if min(generations, seconds, cost) < 0 or not (generations or seconds or cost):
            raise InvalidInput("Grant a positive number of generations, seconds or cost.")
        async with self.db.transaction() as conn:
            return await self.grant_in(
                conn,
                guild_of(actor),
                actor.user_id,
                user_id,
                which,
                Usage(generations, seconds, cost),
                self.clock(),
            )

    async def grant_in(
        self,
        conn: Connection,
        guild_id: int,
        actor_id: int,
        user_id: int,
        window: Window,
        extra: Usage,
        now: float,
    ) -> AuditEntry:
        """The grant and its audit entry inside the caller's transaction, for a grant a
        moderator decided earlier (a challenge's reward, at its close)."""
        settings = await self.resolver.servers.get(guild_id, conn=conn)
        start, end = window_bounds(window, now, settings.timezone, settings.reset_hour)
        await self.adjustments.add(
            guild_id,
            user_id,
            kind="grant",
            window=window.value,
            window_start=start,
            expires_at=end,
            extra=extra,
            actor_id=actor_id,
            at=now,
            conn=conn,
        )
        return await self.audit.record(
            conn,
            guild_id=guild_id,
            actor_id=actor_id,
            action=AuditAction.QUOTA_GRANT,
            subject=window.value,
            target=user_target(user_id),
            new=json.dumps(
                {"generations": extra.generations, "seconds": extra.seconds, "cost": extra.cost}
            ),
            at=now,
        )

    async def reset(
        self, actor: Requester, user_id: int, window: Window | str | None = None
    ) -> AuditEntry:
        """Start the member's count afresh in ``window`` (all windows when None)."""
        await self.moderators.require(actor)
        windows = list(Window) if window is None else [Window.parse(window)]
        guild_id = guild_of(actor)
        now = self.clock()
        async with self.db.transaction() as conn:
            settings = await self.resolver.servers.get(guild_id, conn=conn)
            no_limits = resolve_limits([], Requester(user_id, guild_id, 0))
            before = {}
            for which in windows:
                standing = await self.counter.window(
                    settings, no_limits, user_id, which, now, conn=conn
                )
                before[which.value] = {
                    "generations": standing.generations.used,
                    "seconds": standing.seconds.used,
                    "cost": standing.cost.used,
                }
                await self.adjustments.add(
                    guild_id,
                    user_id,
                    kind="reset",
                    window=which.value,
                    window_start=standing.starts_at,
                    expires_at=standing.resets_at,
                    extra=Usage(),
                    actor_id=actor.user_id,
                    at=now,
                    conn=conn,
                )
            return await self.audit.record(
                conn,
                guild_id=guild_id,
                actor_id=actor.user_id,
                action=AuditAction.QUOTA_RESET,
                subject="/".join(w.value for w in windows),
                target=user_target(user_id),
                old=json.dumps(before),
                new="0",
                at=now,
            )
