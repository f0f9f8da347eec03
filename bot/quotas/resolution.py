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
from bot.moderation.requester import Requester, is_moderator
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
class LimitSource:
    """Where a limit's value comes from: the catalogue's default, the server, one of the
    member's roles, or a value a moderator set for that member alone."""

    level: str  # "default", "server", "role", "member" or "exempt"
    role: str | None = None  # the role's name (or mention), for "role"

    def __str__(self) -> str:
        """As a moderator reads it about anyone: ``server``, ``role Artists``, ``member override``."""
        if self.level == "role":
            return f"role {self.role}"
        return {"member": "member override", "exempt": "exempt as a moderator"}.get(
            self.level, self.level
        )

    def for_member(self) -> str:
        """As the member it applies to reads it: ``set by a moderator for you``."""
        return {
            "default": "the bot's default",
            "server": "set for the whole server",
            "role": f"set for the {self.role} role",
            "member": "set by a moderator for you",
            "exempt": "moderators are exempt here",
        }[self.level]


DEFAULT = LimitSource("default")
SERVER = LimitSource("server")
MEMBER = LimitSource("member")
EXEMPT = LimitSource("exempt")


@dataclass(frozen=True)
class EffectiveLimit:
    name: str
    value: LimitValue
    source: LimitSource


class EffectiveLimits:
    """Every limit as it applies to one member, with typed accessors for each kind."""

    def __init__(self, limits: dict[str, EffectiveLimit], *, exempt: bool = False) -> None:
        self.by_name = limits
        self.exempt = exempt  # a moderator the server exempts: only the defaults apply

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


def resolve_limits(
    rows: Iterable[StoredLimit], requester: Requester, settings: GuildSettings | None = None
) -> EffectiveLimits:
    """Member override, else the most generous of the member's roles, else the server;
    for a moderator of a server that exempts its moderators, only the defaults."""
    if settings is not None and settings.moderators_exempt and is_moderator(
        requester.can_manage_guild, requester.role_ids, settings
    ):
        exempt = {name: EffectiveLimit(name, spec.default, EXEMPT) for name, spec in LIMITS.items()}
        return EffectiveLimits(exempt, exempt=True)
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
            resolved[name] = EffectiveLimit(name, member[name], MEMBER)
        elif name in roles:
            role_id, value = max(roles[name], key=lambda rv: (rv[1].generosity(), -rv[0]))
            role = LimitSource("role", role_label(requester, role_id))
            resolved[name] = EffectiveLimit(name, value, role)
        elif name in server:
            resolved[name] = EffectiveLimit(name, server[name], SERVER)
        else:
            resolved[name] = EffectiveLimit(name, spec.default, DEFAULT)
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
        return settings, resolve_limits(rows, requester, settings)
