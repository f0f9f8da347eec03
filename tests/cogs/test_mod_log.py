"""The mod-log posts each server's lines in the order they were written, in the background,
whatever Discord makes each post wait for."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import discord
import pytest

from cogs.mod_log import ModLog


class Channel:
    """A mod-log channel whose first post Discord holds until the test lets it through."""

    def __init__(self, *, fail_first: bool = False) -> None:
        self.posted: list[str] = []
        self.first_held = asyncio.Event()
        self.let_through = asyncio.Event()
        self._fail_first = fail_first
        self._changed = asyncio.Condition()

    async def send(self, text: str, **_: Any) -> None:
        if not self.first_held.is_set():
            self.first_held.set()
            await self.let_through.wait()
            if self._fail_first:
                response = SimpleNamespace(status=403, reason="Forbidden")
                raise discord.Forbidden(response, "Missing Access")  # type: ignore[arg-type]
        async with self._changed:
            self.posted.append(text)
            self._changed.notify_all()

    async def settled(self, count: int) -> None:
        async with asyncio.timeout(5), self._changed:
            await self._changed.wait_for(lambda: len(self.posted) >= count)


def bot_with(channels: dict[int, Channel], mod_log_of: dict[int, int | None]) -> Any:
    async def get(guild_id: int) -> SimpleNamespace:
        return SimpleNamespace(mod_log_channel_id=mod_log_of[guild_id])

    return SimpleNamespace(
        services=SimpleNamespace(servers=SimpleNamespace(get=get)),
        get_partial_messageable=lambda channel_id, guild_id: channels[channel_id],
    )


@pytest.mark.parametrize("first_fails", [False, True])
async def test_a_line_waits_for_the_one_written_before_it(first_fails: bool) -> None:
    channel = Channel(fail_first=first_fails)
    mod_log = ModLog(bot_with({10: channel}, {1: 10}))
    try:
        mod_log.post(1, "first")
        await asyncio.wait_for(channel.first_held.wait(), 5)
        mod_log.post(1, "second")
        mod_log.post(1, "third")
        for _ in range(20):  # the later lines have every chance to overtake
            await asyncio.sleep(0)
        assert channel.posted == []
        channel.let_through.set()
        await channel.settled(2 if first_fails else 3)
        assert channel.posted == (["second", "third"] if first_fails else ["first", "second", "third"])
    finally:
        await mod_log.close()


async def test_servers_do_not_wait_for_each_other() -> None:
    held, other = Channel(), Channel()
    other.first_held.set()  # the other server's channel posts at once
    mod_log = ModLog(bot_with({10: held, 20: other}, {1: 10, 2: 20, 3: None}))
    try:
        mod_log.post(1, "held")
        await asyncio.wait_for(held.first_held.wait(), 5)
        mod_log.post(3, "no mod-log here")
        mod_log.post(2, "posted")
        await other.settled(1)
        assert other.posted == ["posted"] and held.posted == []
    finally:
        await mod_log.close()


async def test_lines_written_while_stopping_are_dropped() -> None:
    channel = Channel()
    channel.first_held.set()
    mod_log = ModLog(bot_with({10: channel}, {1: 10}))
    await mod_log.close()
    mod_log.post(1, "too late")  # no error for the caller: the mod-log is best effort
    await asyncio.sleep(0)
    assert channel.posted == []
