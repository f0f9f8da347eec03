"""The in-memory copy of each server's rules: read once per burst, never hiding a change."""

from __future__ import annotations

import asyncio

import pytest

from bot.clock import ManualClock
from bot.db.blocks import BlockRepository
from bot.db.database import Database
from bot.db.filters import FilterRepository
from bot.db.limits import LimitRepository
from bot.db.servers import GuildSettings, ServerSettingsRepository
from bot.moderation.config import TIME_TO_LIVE, ServerConfigCache

GUILD = 100


class CountedServers(ServerSettingsRepository):
    """The real repository, counting its reads; a read waits, once it has read (``read``
    is set then), for the next of ``holds`` if any is left, else for ``held`` if set."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.reads = 0
        self.held: asyncio.Event | None = None
        self.holds: list[asyncio.Event] = []
        self.read = asyncio.Event()
        self.fail_next = False

    async def get(self, guild_id: int, **kwargs) -> GuildSettings:  # type: ignore[override]
        self.reads += 1
        if self.fail_next:
            self.fail_next = False
            raise OSError("disk I/O error")
        hold = self.holds.pop(0) if self.holds else self.held
        settings = await super().get(guild_id, **kwargs)
        self.read.set()
        if hold is not None:
            await hold.wait()
        return settings


@pytest.fixture
def servers(db: Database) -> CountedServers:
    return CountedServers(db)


@pytest.fixture
def cache(db: Database, servers: CountedServers, clock: ManualClock) -> ServerConfigCache:
    return ServerConfigCache(servers, LimitRepository(db), FilterRepository(db), BlockRepository(db), clock)


async def confirm_above(db: Database, servers: ServerSettingsRepository, amount: int) -> None:
    async with db.transaction() as conn:
        await servers.set_value(GUILD, "confirm_above", amount, at=0.0, conn=conn)


async def test_a_burst_from_one_server_reads_its_rules_once(cache, servers, clock):
    configs = await asyncio.gather(*(cache.get(GUILD) for _ in range(50)))
    assert servers.reads == 1
    assert all(config is configs[0] for config in configs)
    assert await cache.get(GUILD) is configs[0]  # then from memory
    clock.advance(TIME_TO_LIVE + 1)
    await asyncio.gather(*(cache.get(GUILD) for _ in range(50)))
    assert servers.reads == 2  # expired: read again, once


async def test_a_change_committed_while_the_rules_are_read_is_not_hidden(db, cache, servers):
    stale, fresh = asyncio.Event(), asyncio.Event()
    servers.holds = [stale, fresh]
    before = asyncio.create_task(cache.get(GUILD))
    await servers.read.wait()
    await confirm_above(db, servers, 3)
    cache.invalidate(GUILD)  # what the audit log does once the change committed
    servers.read.clear()
    after = asyncio.create_task(cache.get(GUILD))
    await servers.read.wait()
    fresh.set()
    assert (await after).settings.confirm_above == 3  # a read of its own, after the change
    stale.set()  # the read from before the change ends last
    assert (await before).settings.confirm_above is None  # asked before the change
    assert servers.reads == 2
    assert (await cache.get(GUILD)).settings.confirm_above == 3  # and was not kept
    assert servers.reads == 2


async def test_a_failed_read_fails_its_waiters_and_is_not_kept(cache, servers):
    servers.fail_next = True
    results = await asyncio.gather(cache.get(GUILD), cache.get(GUILD), return_exceptions=True)
    assert [type(result) for result in results] == [OSError, OSError]
    assert servers.reads == 1
    assert (await cache.get(GUILD)).settings == GuildSettings(guild_id=GUILD)
    assert servers.reads == 2


async def test_a_waiter_cancelled_does_not_cancel_the_others(cache, servers):
    servers.held = asyncio.Event()
    first = asyncio.create_task(cache.get(GUILD))
    second = asyncio.create_task(cache.get(GUILD))
    await servers.read.wait()
    first.cancel()
    servers.held.set()
    assert (await second).settings.guild_id == GUILD
    assert first.cancelled()
    assert servers.reads == 1
