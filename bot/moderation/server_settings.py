"""What moderators set for the whole server: the moderator role, the mod-log channel, when
windows reset, refunds, the monthly budget, whether moderators are exempt from member
limits, the channels where members may generate, where results go (the channel or a
thread per job, and a gallery channel), how many of its jobs may be at the provider at
once, above which estimated cost members confirm a job before it is stored, and which jobs
need a moderator's review and where reviews go."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.clock import Clock
from bot.db.audit import AuditEntry
from bot.db.database import Database
from bot.db.servers import GuildSettings, ServerSettingsRepository
from bot.errors import InvalidInput, PermissionDenied
from bot.jobs.destinations import ResultsIn
from bot.moderation.audit import AuditAction, AuditLog
from bot.moderation.requester import Moderators, Requester, guild_of

_ACTIONS = {
    "mod_role_id": AuditAction.MOD_ROLE,
    "mod_log_channel_id": AuditAction.MOD_LOG,
    "timezone": AuditAction.TIMEZONE,
    "reset_hour": AuditAction.RESET_HOUR,
    "refunds_enabled": AuditAction.REFUNDS,
    "monthly_budget": AuditAction.BUDGET,
    "moderators_exempt": AuditAction.MODERATORS_EXEMPT,
    "results_in": AuditAction.RESULTS_IN,
    "gallery_channel_id": AuditAction.GALLERY,
    "confirm_above": AuditAction.CONFIRM_ABOVE,
    "review_channel_id": AuditAction.REVIEW_CHANNEL,
    "review_cost_above": AuditAction.REVIEW_COST,
    "review_reference_videos": AuditAction.REVIEW_VIDEOS,
    "review_unless_role_id": AuditAction.REVIEW_ROLE,
    "max_in_flight": AuditAction.IN_FLIGHT_CAP,
}


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(
            f"`{name}` is not a time zone I know: use an IANA name such as "
            "`Europe/Paris`, `America/New_York` or `UTC`."
        ) from exc
    return name


class ServerSettings:
    def __init__(
        self,
        db: Database,
        servers: ServerSettingsRepository,
        moderators: Moderators,
        audit: AuditLog,
        clock: Clock,
    ) -> None:
        self.db = db
        self.servers = servers
        self.moderators = moderators
        self.audit = audit
        self.clock = clock

    async def get(self, guild_id: int) -> GuildSettings:
        return await self.servers.get(guild_id)

    async def set_mod_role(self, actor: Requester, role_id: int | None) -> AuditEntry:
        """Only Manage Server may name the moderator role (a moderator can't pass it on)."""
        await self.moderators.require(actor)
        if not actor.can_manage_guild:
            raise PermissionDenied("Only members with Manage Server can set the moderator role.")
        return await self._set(actor, "mod_role_id", role_id)

    async def set_mod_log_channel(self, actor: Requester, channel_id: int | None) -> AuditEntry:
        return await self._set(actor, "mod_log_channel_id", channel_id)

    async def set_timezone(self, actor: Requester, timezone: str) -> AuditEntry:
        return await self._set(actor, "timezone", check_timezone(timezone.strip()))

    async def set_reset_hour(self, actor: Requester, hour: int) -> AuditEntry:
        if not 0 <= hour <= 23:
            raise InvalidInput("The reset hour must be 0 to 23 (local time of the server).")
        return await self._set(actor, "reset_hour", int(hour))

    async def set_refunds(self, actor: Requester, enabled: bool) -> AuditEntry:
        return await self._set(actor, "refunds_enabled", 1 if enabled else 0)

    async def set_moderators_exempt(self, actor: Requester, exempt: bool) -> AuditEntry:
        """Only Manage Server may exempt moderators: a moderator can't lift their own limits."""
        await self.moderators.require(actor)
        if not actor.can_manage_guild:
            raise PermissionDenied(
                "Only members with Manage Server can exempt moderators from limits."
            )
        return await self._set(actor, "moderators_exempt", 1 if exempt else 0)

    async def set_monthly_budget(self, actor: Requester, amount: float | None) -> AuditEntry:
        if amount is not None and amount < 0:
            raise InvalidInput("The budget can't be negative; use no amount to remove it.")
        return await self._set(actor, "monthly_budget", amount)

    async def set_confirm_above(self, actor: Requester, amount: float | None) -> AuditEntry:
        """Members confirm every job estimated above ``amount`` (None: only when they ask)."""
        if amount is not None and amount < 0:
            raise InvalidInput("The amount can't be negative; use no amount to stop asking.")
        return await self._set(actor, "confirm_above", amount)

    async def set_results_in(self, actor: Requester, where: str) -> AuditEntry:
        """In the channel (a reply to each status message) or in a thread per job."""
        if where not in set(ResultsIn):
            raise InvalidInput(f"Results go {' or '.join(ResultsIn)}, not `{where}`.")
        return await self._set(actor, "results_in", where)

    async def set_gallery_channel(self, actor: Requester, channel_id: int | None) -> AuditEntry:
        """The channel that gets a copy of every finished video (None: no gallery)."""
        return await self._set(actor, "gallery_channel_id", channel_id)

    async def set_max_in_flight(self, actor: Requester, cap: int | None) -> AuditEntry:
        """The most jobs of this server at the provider at once (None: no cap of its own);
        the others wait their turn (`bot.jobs.turns`)."""
        if cap is not None and cap < 1:
            raise InvalidInput("The cap is at least 1 job; leave it empty to remove it.")
        return await self._set(actor, "max_in_flight", cap)

    # -- the approval lane (`bot.moderation.reviews`) ------------------------------------

    async def set_review_channel(self, actor: Requester, channel_id: int | None) -> AuditEntry:
        """Where jobs that need a moderator's review are posted (None: nowhere, so such a
        job ends at once, without charge, and says why)."""
        return await self._set(actor, "review_channel_id", channel_id)

    async def set_review_cost_above(self, actor: Requester, amount: float | None) -> AuditEntry:
        """Jobs estimated to cost more than ``amount`` need a review (None: no such rule)."""
        if amount is not None and amount < 0:
            raise InvalidInput("The amount can't be negative; use no amount to remove the rule.")
        return await self._set(actor, "review_cost_above", amount)

    async def set_review_reference_videos(self, actor: Requester, required: bool) -> AuditEntry:
        """Whether jobs with reference videos need a review."""
        return await self._set(actor, "review_reference_videos", 1 if required else 0)

    async def set_review_unless_role(self, actor: Requester, role_id: int | None) -> AuditEntry:
        """Members without this role need a review for every job (None: no such rule)."""
        return await self._set(actor, "review_unless_role_id", role_id)

    async def _set(self, actor: Requester, column: str, value: Any) -> AuditEntry:
        await self.moderators.require(actor)
        guild_id = guild_of(actor)
        now = self.clock()
        async with self.db.transaction() as conn:
            old = getattr(await self.servers.get(guild_id, conn=conn), column)
            if isinstance(old, bool):
                old = int(old)
            await self.servers.set_value(guild_id, column, value, at=now, conn=conn)
            return await self.audit.record(
                conn,
                guild_id=guild_id,
                actor_id=actor.user_id,
                action=_ACTIONS[column],
                target="server",
                old=old,
                new=value,
                at=now,
            )

    async def allow_channel(self, actor: Requester, channel_id: int) -> AuditEntry:
        """Add a channel where generation is allowed (with none listed, all are)."""
        return await self._change_channel(actor, channel_id, add=True)

    async def disallow_channel(self, actor: Requester, channel_id: int) -> AuditEntry:
        return await self._change_channel(actor, channel_id, add=False)

    async def _change_channel(self, actor: Requester, channel_id: int, *, add: bool) -> AuditEntry:
        await self.moderators.require(actor)
        guild_id = guild_of(actor)
        now = self.clock()
        async with self.db.transaction() as conn:
            if add:
                await self.servers.add_channel(guild_id, channel_id, conn=conn)
            elif not await self.servers.remove_channel(guild_id, channel_id, conn=conn):
                raise InvalidInput(f"<#{channel_id}> is not in the allowed channels.")
            return await self.audit.record(
                conn,
                guild_id=guild_id,
                actor_id=actor.user_id,
                action=AuditAction.CHANNEL_ALLOW if add else AuditAction.CHANNEL_DISALLOW,
                target=f"channel:{channel_id}",
                at=now,
            )
