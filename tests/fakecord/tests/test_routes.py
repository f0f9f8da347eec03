"""Every REST route the emulator serves is reached through discord.py's own API calls."""

import asyncio
import io

import discord
import pytest

from tests.fakecord.emulator import CLIENT_CLOSED_REQUEST
from tests.fakecord.samplebot import SampleBot


async def test_every_route_is_served_to_discord_py(fakecord, connect_bot):
    w = fakecord.default
    bot = await connect_bot(SampleBot(sync_guild_id=w.guild.id))
    guild = bot.get_guild(w.guild.id)

    # identity, gateway, guild
    assert (await bot.application_info()).id == fakecord.application_id
    await bot.http.request(discord.http.Route("GET", "/applications/@me"))
    assert (await bot.http.request(discord.http.Route("GET", "/gateway")))["url"] == fakecord.gateway_url
    assert (await bot.http.get_bot_gateway())[0] == 1  # what AutoShardedClient asks
    assert (await bot.fetch_guild(w.guild.id)).name == "Test Server"
    assert {c.name for c in await guild.fetch_channels()} == {"general"}
    assert (await guild.fetch_member(w.alice.id)).name == "alice"
    assert {r.name for r in await guild.fetch_roles()} >= {"@everyone", "Artists", "Mods"}
    w.guild.bot_member.add_role(w.guild.add_role("Helpers", manage_roles=True))
    await bot.http.add_role(w.guild.id, w.bob.id, w.artists.id)
    assert (await bot.fetch_user(w.bob.id)).name == "bob"
    dm = await (await bot.fetch_user(w.alice.id)).create_dm()
    await dm.send("hi")
    assert fakecord.dms(w.alice)[0].content == "hi"

    # commands: global and guild, fetch, upsert one, delete one
    synced = await bot.tree.fetch_commands(guild=guild)
    assert "video" in {c.name for c in synced}
    await bot.tree.sync()
    assert {c.name for c in await bot.tree.fetch_commands()} >= {"ping", "video"}
    extra = await bot.http.upsert_global_command(fakecord.application_id, {
        "name": "extra", "description": "one more", "type": 1})
    await bot.http.delete_global_command(fakecord.application_id, extra["id"])
    extra = await bot.http.upsert_guild_command(fakecord.application_id, guild.id, {
        "name": "extra", "description": "one more", "type": 1})
    await bot.http.delete_guild_command(fakecord.application_id, guild.id, extra["id"])

    # interactions: callback, @original, followups by id
    ix = await fakecord.run_command(w.alice, w.channel, "ping")
    await ix.wait_acknowledged()
    inter = next(i for i in bot.seen_interactions if i.id == ix.id)
    await inter.original_response()
    await inter.edit_original_response(content="edited")
    follow = await inter.followup.send("f", wait=True)
    await inter.followup.fetch_message(follow.id)
    await follow.edit(content="f2")
    await follow.delete()
    await inter.delete_original_response()

    # channel messages
    chan = guild.get_channel(w.channel.id)
    await bot.fetch_channel(chan.id)
    async with chan.typing():
        pass
    msg = await chan.send("m", file=discord.File(io.BytesIO(b"x"), filename="x.txt"))
    await chan.fetch_message(msg.id)
    [m async for m in chan.history(limit=5)]
    await msg.edit(content="m2")
    await msg.add_reaction("👍")
    assert w.channel.messages[-1].reactions == ["👍"]
    assert (await chan.fetch_message(msg.id)).reactions[0].emoji == "👍"
    await msg.remove_reaction("👍", guild.me)
    assert w.channel.messages[-1].reactions == []
    thread = await msg.create_thread(name="about m")
    assert thread.id == msg.id
    await fakecord.wait_for(lambda: bot.get_channel(thread.id) is not None)  # THREAD_CREATE
    await msg.delete()

    served = {(method, route) for method, route, _ in fakecord.rest.routes()}
    used = {(r.method, r.route) for r in fakecord.requests}
    assert served - used == set()


async def test_giving_a_member_a_role_needs_manage_roles_and_a_higher_role(fakecord, connect_bot):
    w = fakecord.default
    bot = await connect_bot(SampleBot(sync_guild_id=w.guild.id))
    fakecord.expect_violation(50013, 10011)
    champions = w.guild.add_role("Champions")
    with pytest.raises(discord.Forbidden) as refused:  # no Manage Roles yet
        await bot.http.add_role(w.guild.id, w.bob.id, champions.id)
    assert refused.value.code == 50013
    below = w.guild.add_role("Helpers", manage_roles=True)  # Manage Roles, but below
    champions.position, below.position = below.position, champions.position
    w.guild.bot_member.add_role(below)
    with pytest.raises(discord.Forbidden):
        await bot.http.add_role(w.guild.id, w.bob.id, champions.id)
    champions.position, below.position = below.position, champions.position
    await bot.http.add_role(w.guild.id, w.bob.id, champions.id)
    await bot.http.add_role(w.guild.id, w.bob.id, champions.id)  # again: a no-op
    assert [r.name for r in w.bob.roles] == ["Champions"]
    with pytest.raises(discord.NotFound) as unknown:
        await bot.http.add_role(w.guild.id, w.bob.id, 12345)
    assert unknown.value.code == 10011


async def test_a_client_that_hangs_up_mid_upload_is_recorded_not_reported_as_a_bug(fakecord):
    """A bot killed while its upload is on the wire leaves the emulator half a body."""
    channel = fakecord.default.channel
    host, port = fakecord.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = (
        f"POST /api/v10/channels/{channel.id}/messages HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bot {fakecord.token}\r\n"
        "Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: 100000\r\n\r\n"
        "--xyz\r\nContent-Disposition: form-data; name=\"payload_json\"\r\n"
    )
    writer.write(head.encode())
    await writer.drain()
    await fakecord.wait_for(lambda: fakecord.requests_by_route()[("POST", "/channels/{channel_id}/messages")])
    writer.close()
    await writer.wait_closed()
    (request,) = [r for r in fakecord.requests if r.route == "/channels/{channel_id}/messages"]
    await fakecord.wait_for(lambda: request.status == CLIENT_CLOSED_REQUEST, 5, "the hang-up noticed")
    assert fakecord.internal_errors == []
    assert channel.messages == []
