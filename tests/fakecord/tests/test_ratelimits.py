"""Discord's rate limits: per-route buckets per channel, the global limit, 429s, and discord.py
honouring them (it waits instead of failing)."""

import asyncio
import time

import discord
import pytest

from tests.fakecord import FakeDiscord
from tests.fakecord.ratelimits import Limit
from tests.fakecord.samplebot import SampleBot
from tests.fakecord.tests.http import exchange, raw

CREATE = ("POST", "/channels/{channel_id}/messages")
EDIT = ("PATCH", "/channels/{channel_id}/messages/{message_id}")


@pytest.fixture
async def bot(fakecord, connect_bot):
    return await connect_bot(SampleBot(sync_guild_id=fakecord.default.guild.id))


async def test_message_buckets_are_per_channel_with_discords_headers(fakecord):
    w = fakecord.default
    path = f"/channels/{w.channel.id}/messages"
    remaining, buckets = [], set()
    for i in range(5):
        status, data, headers = await exchange(fakecord, "POST", path, {"content": f"m{i}"})
        assert status == 200
        assert headers["X-RateLimit-Limit"] == "5"
        assert 0 < float(headers["X-RateLimit-Reset-After"]) <= 5
        assert float(headers["X-RateLimit-Reset"]) == pytest.approx(
            fakecord.clock.time() + float(headers["X-RateLimit-Reset-After"]), abs=0.5)
        remaining.append(headers["X-RateLimit-Remaining"])
        buckets.add(headers["X-RateLimit-Bucket"])
    assert remaining == ["4", "3", "2", "1", "0"]

    status, data, headers = await exchange(fakecord, "POST", path, {"content": "sixth"})
    assert status == 429
    assert data == {"message": "You are being rate limited.", "retry_after": data["retry_after"],
                    "global": False, "code": 0}
    assert 0 < data["retry_after"] <= 5
    assert headers["X-RateLimit-Scope"] == "user" and headers["X-RateLimit-Remaining"] == "0"
    assert int(headers["Retry-After"]) >= data["retry_after"]
    assert [m.content for m in w.channel.messages] == [f"m{i}" for i in range(5)]

    # Another channel (the thread) has its own bucket, with the same bucket hash.
    status, _, headers = await exchange(fakecord, "POST", f"/channels/{w.thread.id}/messages", {"content": "t"})
    assert status == 200 and headers["X-RateLimit-Remaining"] == "4"
    buckets.add(headers["X-RateLimit-Bucket"])
    assert len(buckets) == 1
    # Edits count in a bucket of their own.
    msg = w.channel.messages[0]
    status, _, headers = await exchange(fakecord, "PATCH", f"{path}/{msg.id}", {"content": "edited"})
    assert status == 200 and headers["X-RateLimit-Remaining"] == "4"
    assert headers["X-RateLimit-Bucket"] not in buckets

    fakecord.clock.advance(5)  # the window ends: the bucket is full again
    status, _, headers = await exchange(fakecord, "POST", path, {"content": "later"})
    assert status == 200 and headers["X-RateLimit-Remaining"] == "4"
    assert fakecord.rate_limited_by_route() == {CREATE: 1}
    [hit] = fakecord.rate_limit_hits
    assert (hit.scope, hit.method, hit.route) == ("user", *CREATE)
    assert fakecord.violations == []  # a 429 is an answer, not a broken rule


async def test_discord_py_waits_out_the_channel_limit_instead_of_getting_429s(fakecord, bot):
    w = fakecord.default
    general = bot.get_channel(w.channel.id)
    started = time.monotonic()
    await asyncio.gather(*(general.send(f"burst {i}") for i in range(7)))  # 5 per 5 s per channel
    assert time.monotonic() - started >= 4.5
    assert sorted(m.content for m in w.channel.messages) == sorted(f"burst {i}" for i in range(7))
    assert fakecord.rate_limited_by_route() == {}
    assert fakecord.requests_by_route()[CREATE] == 7


async def test_edits_are_limited_per_channel_and_counted(fakecord, bot):
    w = fakecord.default
    fakecord.rate_limits.set(*EDIT, limit=2, per=0.5)  # tightened: the same rule, a faster test
    general = bot.get_channel(w.channel.id)
    first = await general.send("progress 0")
    other = await bot.get_channel(w.thread.id).send("elsewhere")
    started = time.monotonic()
    for i in range(1, 7):
        await first.edit(content=f"progress {i}")
    await other.edit(content="elsewhere, edited")
    assert time.monotonic() - started >= 1.0  # 6 edits at 2 per 0.5 s
    assert w.channel.messages[0].content == "progress 6"
    assert fakecord.rate_limited_by_route() == {}
    assert fakecord.max_channel_edits == 6  # all six within 5 s: the counter's window is 5 s
    assert fakecord.edits.busiest_channel == w.channel.id


async def test_edit_counter_measures_any_five_second_window(fakecord):
    fakecord.rate_limits.enabled = False
    chan = fakecord.default.channel
    msg = await fakecord.say(fakecord.default.alice, chan, "x")
    for _ in range(3):
        fakecord.edits.record(chan.id)
    fakecord.clock.advance(4)
    fakecord.edits.record(chan.id)
    assert fakecord.max_channel_edits == 4
    fakecord.clock.advance(1.5)  # the first three are now more than 5 s old
    fakecord.edits.record(chan.id)
    fakecord.edits.record(chan.id)
    assert fakecord.max_channel_edits == 4
    assert fakecord.counters()["max_channel_edits_5s"] == 4
    assert msg.edits == 0


async def test_global_limit_is_per_bot_and_spares_interaction_callbacks(fakecord, bot):
    w = fakecord.default
    fakecord.rate_limits.global_limit = Limit(10, 1.0)  # tightened from 50 / s
    fakecord.rate_limits.default = Limit(100, 1.0)
    fakecord.clock.advance(1)  # a fresh global window, without the bot's start-up requests
    for _ in range(10):
        assert (await raw(fakecord, "GET", f"/users/{w.alice.id}"))[0] == 200
    status, data, headers = await exchange(fakecord, "GET", f"/guilds/{w.guild.id}")
    assert status == 429 and data["global"] is True and data["code"] == 0
    assert headers["X-RateLimit-Global"] == "true" and headers["X-RateLimit-Scope"] == "global"
    assert "Retry-After" in headers
    ix = await fakecord.run_command(w.alice, w.channel, "ping")  # callbacks are exempt
    await ix.wait_acknowledged()
    callback = fakecord.requests_to("POST", "/interactions/{webhook_id}/{webhook_token}/callback")
    assert [r.status for r in callback] == [200]
    assert [h.scope for h in fakecord.rate_limit_hits] == ["global"]


async def test_discord_py_waits_out_a_global_429(fakecord, bot):
    w = fakecord.default
    fakecord.rate_limits.global_limit = Limit(10, 1.0)
    fakecord.rate_limits.default = Limit(100, 1.0)
    users = await asyncio.gather(*(bot.fetch_user(w.bob.id) for _ in range(25)))
    assert {u.name for u in users} == {"bob"}
    assert any(h.scope == "global" for h in fakecord.rate_limit_hits)
    assert all(r.status == 200 for r in fakecord.requests_to("GET", "/users/{user_id}")
               if r.status != 429)
    assert fakecord.counters()["rate_limit_hits"]["global"] >= 1


async def test_rate_limits_can_be_switched_off():
    async with FakeDiscord(rate_limits=False) as emu:
        guild = emu.add_guild("G")
        chan = guild.add_text_channel("c")
        for i in range(8):
            status, _, headers = await exchange(emu, "POST", f"/channels/{chan.id}/messages", {"content": str(i)})
            assert status == 200 and headers["X-RateLimit-Limit"] == "5"
        assert len(chan.messages) == 8 and emu.rate_limit_hits == []


async def test_injected_429_names_the_routes_real_bucket(fakecord, bot):
    general = bot.get_channel(fakecord.default.channel.id)
    await general.send("first")
    bucket = fakecord.rate_limits.bucket(*CREATE)
    fakecord.fail_next(*CREATE, status=429, retry_after=0.05)
    status, data, headers = await exchange(fakecord, "POST", f"/channels/{general.id}/messages", {"content": "x"})
    assert status == 429 and headers["X-RateLimit-Bucket"] == bucket and data["global"] is False
    fakecord.fail_next(*CREATE, status=429, retry_after=0.05)
    sent = await general.send("eventually")  # discord.py sleeps retry_after and tries again
    assert isinstance(sent, discord.Message)
    assert fakecord.rate_limited_by_route() == {CREATE: 2}
    assert fakecord.rate_limit_hits == []  # injected, not reached
