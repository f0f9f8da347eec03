"""The emulator against the real discord.py client: login, gateway, sync, a first command."""

from tests.fakecord.samplebot import SampleBot


async def test_ping_round_trip(fakecord, connect_bot):
    w = fakecord.default
    bot = await connect_bot(SampleBot(sync_guild_id=w.guild.id))
    assert bot.user.id == fakecord.bot_user.id
    assert bot.get_guild(w.guild.id).get_channel(w.channel.id).name == "general"
    ix = await fakecord.run_command(w.alice, w.channel, "ping")
    await ix.wait_acknowledged()
    assert ix.response_type == 4
    assert [m.content for m in w.channel.messages] == ["pong"]
    assert ix.original_message.author.id == fakecord.bot_user.id
