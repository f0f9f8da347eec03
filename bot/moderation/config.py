"""What a server's moderators configured, as the admission reads it on every request.

Settings, limits, blocked patterns and blocks change rarely and are read on every command,
so they are kept in memory per server. Every moderator change is audited, and the audit log
drops the server's entry once the change committed, so this process never answers from
stale rules; a short time-to-live bounds how long another process's change takes to show
(several bot processes may share one database). A burst of commands from one server finding
its entry missing or expired reads it once, not once per command.
"""

from __future__ import annotations

import asyncio
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
        self._loading: dict[int, asyncio.Task[ServerConfig]] = {}

    async def get(self, guild_id: int) -> ServerConfig:
        entry = self._entries.get(guild_id)
        if entry is not None and self.clock() - entry.read_at <= TIME_TO_LIVE:
            return entry
        loading = self._loading.get(guild_id)
        if loading is None:
            loading = asyncio.create_task(self._load(guild_id), name=f"server config {guild_id}")
            self._loading[guild_id] = loading
            loading.add_done_callback(lambda task: self._loaded(guild_id, task))
        # Shielded: one waiter cancelled (its interaction gone) does not cancel the others'.
        return await asyncio.shield(loading)

    async def _load(self, guild_id: int) -> ServerConfig:
        now = self.clock()
        return ServerConfig(
            settings=await self.servers.get(guild_id),
            limits=tuple(await self.limits.listed(guild_id)),
            patterns=tuple(await self.filters.patterns(guild_id)),
            blocks={b.user_id: b for b in await self.blocks.active_in_guild(guild_id, now)},
            read_at=now,
        )

    def _loaded(self, guild_id: int, task: asyncio.Task[ServerConfig]) -> None:
        """Keep what ``task`` read, unless a change committed while it read (`invalidate`
        dropped it: the next command reads again); a failed read is not kept."""
        failed = task.cancelled() or task.exception() is not None
        if self._loading.get(guild_id) is task:
            del self._loading[guild_id]
            if not failed:
                self._entries[guild_id] = task.result()

    def invalidate(self, guild_id: int) -> None:
        self._entries.pop(guild_id, None)
        self._loading.pop(guild_id, None)
