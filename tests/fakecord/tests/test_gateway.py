"""The Gateway: READY/GUILD_CREATE, heartbeats, RESUME after RECONNECT or a drop (with replay of
missed events), INVALID_SESSION, member chunks, intents, and a second guild."""

import discord
import pytest

from tests.fakecord.samplebot import SampleBot


@pytest.fixture
async def bot(fakecord, connect_bot):
    return await connect_bot(SampleBot(sync_guild_id=fakecord.default.guild.id))


class Recorder(discord.Client):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.events: list[str] = []
        self.messages: list[str] = []

    async def on_resumed(self) -> None:
        self.events.append("resumed")

    async def on_ready(self) -> None:
        self.events.append("ready")

    async def on_message(self, message: discord.Message) -> None:
        self.messages.append(message.content)


async def test_ready_guild_create_and_heartbeat(fakecord, bot):
    w = fakecord.default
    guild = bot.get_guild(w.guild.id)
    assert guild.owner_id == w.owner.id
    assert guild.default_role.id == w.guild.id
    assert {c.name for c in guild.text_channels} == {"general"}
    assert guild.get_thread(w.thread.id).parent_id == w.channel.id
    assert guild.me.guild_permissions.attach_files
    assert guild.filesize_limit == 10 * 1024 * 1024
    assert fakecord.gateway.heartbeats >= 1  # the client beats right after HELLO; we ACK
    assert bot.latency >= 0


async def test_reconnect_resumes_and_replays_missed_events(fakecord, connect_bot):
    w = fakecord.default
    intents = discord.Intents.default()
    intents.message_content = True
    client = await connect_bot(Recorder(intents=intents))
    sessions = fakecord.gateway.send_reconnect()
    await fakecord.say(w.bob, w.channel, "sent while reconnecting")  # buffered for the session
    before = sessions[0].resumed
    await fakecord.wait_for(lambda: sessions[0].resumed > before and sessions[0].connection)
    await fakecord.wait_for(lambda: client.messages == ["sent while reconnecting"])
    await fakecord.gateway_reconnect()
    await fakecord.wait_for(lambda: client.events.count("resumed") == 2)
    await fakecord.say(w.bob, w.channel, "after")
    await fakecord.wait_for(lambda: client.messages == ["sent while reconnecting", "after"])
    assert fakecord.gateway.identifies == 1


async def test_dropped_socket_resumes(fakecord, bot):
    w = fakecord.default
    session = fakecord.gateway.connected_sessions[0]
    await fakecord.drop_connections()
    await fakecord.wait_for(lambda: session.resumed == 1 and session.connection)
    ix = await fakecord.run_command(w.alice, w.channel, "ping")
    await ix.wait_acknowledged()


async def test_invalid_session_makes_the_client_identify_again(fakecord, connect_bot):
    w = fakecord.default
    client = await connect_bot(SampleBot(sync_guild_id=w.guild.id))
    await fakecord.invalid_session(resumable=False)
    assert fakecord.gateway.identifies == 2
    assert len(fakecord.gateway.live_sessions) == 1
    await fakecord.wait_for(lambda: client.is_ready() and client.get_guild(w.guild.id))
    ix = await fakecord.run_command(w.alice, w.channel, "ping")
    await ix.wait_acknowledged()
    await fakecord.invalid_session(resumable=True)
    assert fakecord.gateway.identifies == 2


async def test_members_intent_gets_member_updates_and_chunks(fakecord, connect_bot):
    w = fakecord.default
    intents = discord.Intents.default()
    intents.members = True
    client = await connect_bot(Recorder(intents=intents))
    guild = client.get_guild(w.guild.id)
    assert guild.chunked and guild.get_member(w.alice.id).name == "alice"
    w.bob.add_role(w.mods)
    await fakecord.wait_for(lambda: w.mods.id in [r.id for r in guild.get_member(w.bob.id).roles])
    members = await guild.chunk()
    assert {m.name for m in members} >= {"alice", "bob", "mo", "owner"}


async def test_second_guild_and_guild_join(fakecord, connect_bot):
    other = fakecord.add_guild("Other", boost_tier=3)
    chan = other.add_text_channel("lobby")
    fan = other.add_member("fan")
    bot = await connect_bot(SampleBot())
    assert bot.get_guild(other.id).filesize_limit == 100 * 1024 * 1024
    ix = await fakecord.run_command(fan, chan, "ping")
    await ix.wait_acknowledged()
    late = fakecord.add_guild("Late")
    await fakecord.wait_for(lambda: bot.get_guild(late.id) is not None)
    with pytest.raises(AssertionError, match="not a member"):
        await fakecord.run_command(fan, fakecord.default.channel, "ping")
