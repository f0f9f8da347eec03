"""Sharding: IDENTIFY with ``shard``, GET /gateway/bot, guilds (and their events and
interactions) only on the shard Discord picks, several connections at once, 4010/4011."""

import json

import aiohttp
import discord
import pytest
from discord.ext import commands

from tests.fakecord.fixtures import run_client
from tests.fakecord.gateway import OP_HELLO, OP_IDENTIFY


class ShardedRecorder(commands.AutoShardedBot):
    def __init__(self, **kwargs) -> None:
        super().__init__(command_prefix="!", intents=discord.Intents.default(), **kwargs)
        self.pinged_on: list[int | None] = []

        @self.tree.command(description="Answers with the shard it came in on")
        async def ping(interaction: discord.Interaction) -> None:
            self.pinged_on.append(interaction.guild.shard_id if interaction.guild else None)
            await interaction.response.send_message(f"pong from shard {interaction.guild.shard_id}")

    async def setup_hook(self) -> None:
        await self.tree.sync()


def frames_of(session, event: str) -> list[dict]:
    return [f["d"] for f in session.buffer if f.get("t") == event]


async def test_guilds_spread_over_shards_reach_only_their_shard(fakecord):
    guilds = fakecord.add_guilds(4, shard_count=2, channels=("general", "art"), members=("ann", "ben"))
    assert [g.shard_id(2) for g in guilds] == [0, 1, 0, 1]
    everyone = [fakecord.default.guild, *guilds]
    on = {s: {g.id for g in everyone if g.shard_id(2) == s} for s in (0, 1)}
    first = ShardedRecorder(shard_ids=[0], shard_count=2)
    second = ShardedRecorder(shard_ids=[1], shard_count=2)
    async with run_client(fakecord, first), run_client(fakecord, second):
        assert len(fakecord.gateway.connected_sessions) == 2
        assert {g.id for g in first.guilds} == on[0] and {g.id for g in second.guilds} == on[1]
        for session in fakecord.gateway.connected_sessions:
            ready = frames_of(session, "READY")[0]
            assert ready["shard"] == session.shard
            assert {int(g["id"]) for g in ready["guilds"]} == on[session.shard_id]
            assert {int(g["id"]) for g in frames_of(session, "GUILD_CREATE")} == on[session.shard_id]

        for guild in guilds:  # each interaction goes to the guild's shard only
            ann = guild.member("ann")
            ix = await fakecord.run_command(ann, guild.channel("art"), "ping")
            await ix.wait_acknowledged()
            assert ix.original_message.content == f"pong from shard {guild.shard_id(2)}"
        assert first.pinged_on == [0, 0] and second.pinged_on == [1, 1]

        late = fakecord.add_guild("Late", shard=(1, 2))  # guild events follow the same rule
        await fakecord.wait_for(lambda: second.get_guild(late.id) is not None)
        late.add_text_channel("news")
        await fakecord.wait_for(lambda: len(second.get_guild(late.id).text_channels) == 1)
        assert first.get_guild(late.id) is None
        s0 = next(s for s in fakecord.gateway.connected_sessions if s.shard_id == 0)
        assert all(int(d.get("guild_id") or d.get("id")) != late.id
                   for event in ("GUILD_CREATE", "CHANNEL_CREATE") for d in frames_of(s0, event))


async def test_sessions_on_one_shard_each_get_every_event_or_take_interactions_in_turn(fakecord):
    w = fakecord.default
    first = ShardedRecorder(shard_ids=[0], shard_count=1)
    second = ShardedRecorder(shard_ids=[0], shard_count=1)
    async with run_client(fakecord, first), run_client(fakecord, second):
        assert len(fakecord.gateway.connected_sessions) == 2
        fakecord.gateway.balance_interactions = True
        for _ in range(4):
            ix = await fakecord.run_command(w.alice, w.channel, "ping")
            await ix.wait_acknowledged()
        assert first.pinged_on == [0, 0] and second.pinged_on == [0, 0]
        fakecord.gateway.balance_interactions = False
        w.guild.add_text_channel("news")  # a guild event still reaches both
        await fakecord.wait_for(lambda: all(
            len(bot.get_guild(w.guild.id).text_channels) == len(w.guild.text_channels)
            for bot in (first, second)))


async def test_auto_sharded_bot_asks_gateway_bot_for_url_and_shard_count(fakecord):
    fakecord.add_guilds(3, shard_count=3)
    fakecord.gateway.recommended_shards = 3
    bot = ShardedRecorder()  # no shard_count: it asks GET /gateway/bot
    async with run_client(fakecord, bot):
        assert bot.shard_count == 3 and sorted(bot.shards) == [0, 1, 2]
        assert fakecord.requests_to("GET", "/gateway/bot")
        assert sorted(s.shard for s in fakecord.gateway.connected_sessions) == [[0, 3], [1, 3], [2, 3]]
        assert len(bot.guilds) == len(fakecord.world.guilds)
        for guild in bot.guilds:
            assert guild.shard_id == (guild.id >> 22) % 3
        info = await bot.http.get_bot_gateway()
        assert info[0] == 3 and info[1] == fakecord.gateway_url
        assert info[2]["max_concurrency"] == 1 and info[2]["remaining"] == 1000 - 3


async def test_dms_go_to_shard_zero(fakecord):
    w = fakecord.default
    zero, one = ShardedRecorder(shard_ids=[0], shard_count=2), ShardedRecorder(shard_ids=[1], shard_count=2)
    async with run_client(fakecord, zero), run_client(fakecord, one):
        await fakecord.say(w.alice, fakecord.dm_channel(w.alice), "psst")
        s0, s1 = sorted(fakecord.gateway.connected_sessions, key=lambda s: s.shard_id)
        await fakecord.wait_for(lambda: frames_of(s0, "MESSAGE_CREATE"))
        assert frames_of(s1, "MESSAGE_CREATE") == []


async def identify(fakecord, shard) -> int:
    """Connect a raw websocket, IDENTIFY with ``shard``; the close code (0 if READY came)."""
    async with aiohttp.ClientSession() as session, session.ws_connect(fakecord.gateway_url) as ws:
        hello = json.loads((await ws.receive()).data)
        assert hello["op"] == OP_HELLO
        await ws.send_str(json.dumps({"op": OP_IDENTIFY, "d": {
            "token": fakecord.token, "intents": 1, "properties": {}, "shard": shard}}))
        msg = await ws.receive()
        if msg.type == aiohttp.WSMsgType.TEXT:
            assert json.loads(msg.data)["t"] == "READY"
            return 0
        return ws.close_code


async def test_wrong_shards_are_closed_with_4010_and_too_many_guilds_with_4011(fakecord):
    assert await identify(fakecord, [2, 2]) == 4010
    assert await identify(fakecord, [0, 0]) == 4010
    assert await identify(fakecord, [-1, 2]) == 4010
    assert await identify(fakecord, [1, 2]) == 0
    fakecord.add_guilds(3)
    fakecord.gateway.max_guilds_per_shard = 2
    assert await identify(fakecord, [0, 1]) == 4011
    assert await identify(fakecord, [0, 2]) in (0, 4011)  # depends on where the ids fell
    fakecord.gateway.max_guilds_per_shard = 4
    assert await identify(fakecord, [0, 1]) == 0


async def test_discord_py_stops_on_an_invalid_shard(fakecord):
    client = discord.AutoShardedClient(intents=discord.Intents.none(), shard_ids=[3], shard_count=2)
    with pytest.raises(discord.ConnectionClosed) as exc:
        async with run_client(fakecord, client, check=False):
            pass
    assert exc.value.code == 4010
