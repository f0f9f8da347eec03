"""Which limit applies to this member.

Limits are set per server (the default), per role (a member gets the most generous of
their roles' values; "unlimited" beats any number) and per member (an override that wins).
For each limit the most specific level that sets it decides: member, else roles, else
server, else the catalogue's default (no limit).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.db.database import Connection
from bot.db.limits import LimitRepository, StoredLimit
from bot.db.servers import GuildSettings, ServerSettingsRepository
from bot.moderation.requester import Requester
from bot.quotas.catalogue import (
    LIMITS,
    Cooldown,
    HighestResolution,
    LimitValue,
    Metric,
    Permission,
    Quantity,
    Window,
    window_limit,
)


@dataclass(frozen=True)
class EffectiveLimit:
    name: str
    value: LimitValue
    scope: str  # "default", "server", "role <name>", "your member override"


class EffectiveLimits:
    """Every limit as it applies to one member, with typed accessors for each kind."""

    def __init__(self, limits: dict[str, EffectiveLimit]) -> None:
        self.by_name = limits

    def __getitem__(self, name: str) -> EffectiveLimit:
        return self.by_name[name]

    def items(self) -> Iterable[tuple[str, EffectiveLimit]]:
        return self.by_name.items()

    def quantity(self, name: str) -> float | None:
        """The number a count or amount limit allows; None: unlimited."""
        value = self.by_name[name].value
        assert isinstance(value, Quantity), name
        return value.amount

    def window(self, metric: Metric, window: Window) -> EffectiveLimit:
        return self.by_name[window_limit(metric, window)]

    @property
    def cooldown_seconds(self) -> int:
        value = self.by_name["cooldown_seconds"].value
        assert isinstance(value, Cooldown)
        return value.seconds

    @property
    def highest_resolution(self) -> HighestResolution:
        value = self.by_name["max_resolution"].value
        assert isinstance(value, HighestResolution)
        return value

    def allows(self, gate: str) -> bool:
        value = self.by_name[gate].value
        assert isinstance(value, Permission), gate
        return value.allowed


def role_label(requester: Requester, role_id: int) -> str:
    """The role's name when the cog passed names, else a mention (renders as the name)."""
    for rid, name in requester.role_names:
        if rid == role_id:
            return name
    return f"<@&{role_id}>"


def resolve_limits(rows: Iterable[StoredLimit], requester: Requester) -> EffectiveLimits:
    """Member override, else the most generous of the member's roles, else the server."""
    server: dict[str, LimitValue] = {}
    member: dict[str, LimitValue] = {}
    roles: dict[str, list[tuple[int, LimitValue]]] = {}
    for row in rows:
        if row.scope == "server":
            server[row.name] = row.value
        elif row.scope == "member" and row.scope_id == requester.user_id:
            member[row.name] = row.value
        elif row.scope == "role" and row.scope_id in requester.role_ids:
            roles.setdefault(row.name, []).append((row.scope_id, row.value))
    resolved = {}
    for name, spec in LIMITS.items():
        if name in member:
            resolved[name] = EffectiveLimit(name, member[name], "your member override")
        elif name in roles:
            role_id, value = max(roles[name], key=lambda rv: (rv[1].generosity(), -rv[0]))
            resolved[name] = EffectiveLimit(name, value, f"role {role_label(requester, role_id)}")
        elif name in server:
            resolved[name] = EffectiveLimit(name, server[name], "server")
        else:
            resolved[name] = EffectiveLimit(name, spec.default, "default")
    return EffectiveLimits(resolved)


class LimitResolver:
    """Reads a server's settings and limits and resolves them for one member."""

    def __init__(self, servers: ServerSettingsRepository, limits: LimitRepository) -> None:
        self.servers = servers
        self.limits = limits

    async def for_member(
        self, requester: Requester, *, conn: Connection | None = None
    ) -> tuple[GuildSettings, EffectiveLimits]:
        assert requester.guild_id is not None
        settings = await self.servers.get(requester.guild_id, conn=conn)
        rows = await self.limits.for_member(requester.guild_id, requester.user_id, conn=conn)
        return settings, resolve_limits(rows, requester)
