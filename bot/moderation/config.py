"""What a server's moderators configured, as the admission reads it on every request.

Settings, limits, blocked patterns and blocks change rarely and are read on every command,
so they are kept in memory per server. Every moderator change is audited, and the audit log
drops the server's entry once the change committed, so this process never answers from
stale rules; a short time-to-live bounds how long another process's change takes to show
(several bot processes may share one database).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.db.blocks import BlockRepository, MemberBlock
from bot.db.filters import BlockedPattern, FilterRepository
from bot.db.limits import LimitRepository, StoredLimit
from bot.db.servers import GuildSettings, ServerSettingsRepository

TIME_TO_LIVE = 5.0


@dataclass(frozen=True)
class ServerConfig:
    settings: GuildSettings
    limits: tuple[StoredLimit, ...]  # every scope's (members' overrides included)
    patterns: tuple[BlockedPattern, ...]
    blocks: dict[int, MemberBlock]  # by member, in force when read (check the expiry)
    read_at: float

    def limits_for(self, user_id: int) -> list[StoredLimit]:
        return [r for r in self.limits if r.scope != "member" or r.scope_id == user_id]

    def block_of(self, user_id: int, now: float) -> MemberBlock | None:
        block = self.blocks.get(user_id)
        if block is None or (block.expires_at is not None and block.expires_at <= now):
            return None
        return block


class ServerConfigCache:
    def __init__(
        self,
        servers: ServerSettingsRepository,
        limits: LimitRepository,
        filters: FilterRepository,
        blocks: BlockRepository,
        clock: Clock,
    ) -> None:
        self.servers = servers
        self.limits = limits
        self.filters = filters
        self.blocks = blocks
        self.clock = clock
        self._entries: dict[int, ServerConfig] = {}

    async def get(self, guild_id: int) -> ServerConfig:
        now = self.clock()
        entry = self._entries.get(guild_id)
        if entry is None or now - entry.read_at > TIME_TO_LIVE:
            entry = ServerConfig(
                settings=await self.servers.get(guild_id),
                limits=tuple(await self.limits.listed(guild_id)),
                patterns=tuple(await self.filters.patterns(guild_id)),
                blocks={b.user_id: b for b in await self.blocks.active_in_guild(guild_id, now)},
                read_at=now,
            )
            self._entries[guild_id] = entry
        return entry

    def invalidate(self, guild_id: int) -> None:
        self._entries.pop(guild_id, None)
