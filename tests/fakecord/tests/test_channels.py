"""Channel messages, history, mentions, permissions, threads, DMs, 404s and injected failures."""

import io

import aiohttp
import discord
import pytest

from tests.fakecord import ScenarioError
from tests.fakecord.samplebot import SampleBot


@pytest.fixture
async def bot(fakecord, connect_bot):
    return await connect_bot(SampleBot(sync_guild_id=fakecord.default.guild.id))


@pytest.fixture
def general(fakecord, bot) -> discord.TextChannel:
    return bot.get_channel(fakecord.default.channel.id)


async def test_create_with_files_edit_fetch_delete(fakecord, bot, general):
    w = fakecord.default
    sent = await general.send("hello", files=[discord.File(io.BytesIO(b"one"), filename="1.txt"),
                                              discord.File(io.BytesIO(b"two"), filename="2.png")])
    [msg] = w.channel.messages
    assert msg.id == sent.id and msg.content == "hello"
    assert [(a.filename, a.bytes, a.content_type) for a in msg.attachments] == [
        ("1.txt", b"one", "text/plain"), ("2.png", b"two", "image/png")]
    assert await sent.attachments[1].read() == b"two"  # served at its CDN-style URL
    assert "/attachments/" in sent.attachments[0].url and "hm=" in sent.attachments[0].url
    edited = await sent.edit(content="hello again", attachments=[sent.attachments[1]])
    assert edited.edited_at is not None
    assert msg.content == "hello again" and [a.filename for a in msg.attachments] == ["2.png"]
    fetched = await general.fetch_message(sent.id)
    assert fetched.content == "hello again"
    await fetched.delete()
    assert w.channel.messages == []
    fakecord.expect_violation(10008)
    with pytest.raises(discord.NotFound) as exc:
        await general.fetch_message(sent.id)
    assert exc.value.code == 10008


async def test_a_member_deletes_a_message_as_the_client_lets_them(fakecord, bot, general):
    w = fakecord.default
    sent = await general.send("the bot's", file=discord.File(io.BytesIO(b"x"), filename="a.png"))
    own = await fakecord.say(w.alice, w.channel, "alice's")
    with pytest.raises(ScenarioError, match="may not delete others' messages"):
        fakecord.delete(w.alice, sent.id)
    fakecord.delete(w.alice, own)
    fakecord.delete(w.mod, sent.id)  # the Mods role has Manage Messages
    assert w.channel.messages == []
    fakecord.expect_violation(10008)
    with pytest.raises(discord.NotFound) as exc:
        await general.fetch_message(sent.id)
    assert exc.value.code == 10008
    with pytest.raises(ScenarioError, match="was deleted"):
        fakecord.delete(w.mod, sent.id)


async def test_attachment_links_expire_like_signed_cdn_links(fakecord, bot, general):
    sent = await general.send(file=discord.File(io.BytesIO(b"bytes"), filename="f.bin"))
    url = sent.attachments[0].url
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as resp:
            assert resp.status == 200 and await resp.read() == b"bytes"
        async with session.get(url.replace("hm=", "hm=0")) as resp:
            assert resp.status == 404
        fakecord.clock.advance(25 * 3600)
        async with session.get(url) as resp:
            assert resp.status == 404


async def test_history_limit_before_after_around(fakecord, bot, general):
    sent = [await general.send(f"m{i}") for i in range(7)]
    ids = [m.id for m in sent]
    newest = [m.content async for m in general.history(limit=3)]
    assert newest == ["m6", "m5", "m4"]
    before = [m.content async for m in general.history(limit=2, before=discord.Object(ids[3]))]
    assert before == ["m2", "m1"]
    after = [m.content async for m in general.history(limit=2, after=discord.Object(ids[3]))]
    assert after == ["m4", "m5"]
    around = [m.content async for m in general.history(limit=3, around=discord.Object(ids[3]))]
    assert sorted(around) == ["m2", "m3", "m4"]
    everything = [m.content async for m in general.history(limit=None, oldest_first=True)]
    assert everything == [f"m{i}" for i in range(7)]


async def test_enforced_nonce_returns_the_existing_message(fakecord, bot, general):
    first = await general.send("once", nonce="abc123")
    second = await general.send("once", nonce="abc123")
    assert first.id == second.id and len(fakecord.default.channel.messages) == 1
    fakecord.clock.advance(6 * 60)
    third = await general.send("once", nonce="abc123")
    assert third.id != first.id


async def test_mentions_follow_allowed_mentions(fakecord, bot, general):
    w = fakecord.default
    text = f"@everyone <@{w.alice.id}> <@{w.bob.id}> <@&{w.artists.id}> <@&{w.mods.id}>"
    await general.send(text)  # no allowed_mentions: Discord parses everything
    msg = w.channel.messages[-1]
    assert msg.mention_everyone is True
    assert msg.mentions == [w.alice.id, w.bob.id]
    assert msg.mention_roles == [w.artists.id, w.mods.id]  # the bot may mention everyone/all roles
    await general.send(text, allowed_mentions=discord.AllowedMentions(
        everyone=False, roles=False, users=[discord.Object(w.alice.id)]))
    msg = w.channel.messages[-1]
    assert (msg.mention_everyone, msg.mentions, msg.mention_roles) == (False, [w.alice.id], [])
    w.guild.bot_role.set_permissions(mention_everyone=False)
    await fakecord.wait_for(lambda: not general.permissions_for(general.guild.me).mention_everyone)
    await general.send(text)
    msg = w.channel.messages[-1]
    assert (msg.mention_everyone, msg.mention_roles) == (False, [w.artists.id])  # only mentionable roles


async def test_replies_and_reply_pings(fakecord, bot, general):
    w = fakecord.default
    said = await fakecord.say(w.alice, w.channel, "make me a video")
    target = await general.fetch_message(said.id)
    await target.reply("on it")
    reply = w.channel.messages[-1]
    assert reply.reply_to == said.id and reply.type == 19
    assert reply.mentions == [w.alice.id]  # replies ping the author by default
    await target.reply("quietly", mention_author=False)
    assert w.channel.messages[-1].mentions == []
    fakecord.expect_violation(50035)
    with pytest.raises(discord.HTTPException) as exc:
        await general.send("x", reference=discord.MessageReference(message_id=1, channel_id=general.id))
    assert "MESSAGE_REFERENCE_UNKNOWN_MESSAGE" in str(exc.value.text) or exc.value.code == 50035


async def test_user_messages_reach_the_bot_without_content_intent(fakecord, bot):
    w = fakecord.default
    received: list[discord.Message] = []

    async def on_message(message: discord.Message) -> None:
        received.append(message)

    bot.add_listener(on_message)
    await fakecord.say(w.bob, w.channel, "hi there")
    await fakecord.say(w.bob, w.channel, f"hi {fakecord.bot_user.mention}")
    await fakecord.wait_for(lambda: len(received) == 2)
    assert received[0].author.id == w.bob.id and received[0].content == ""  # no message_content intent
    assert received[1].content == f"hi <@{fakecord.bot_user.id}>"  # mentions of the bot keep content


async def test_missing_permissions_are_refused(fakecord, bot, general):
    w = fakecord.default
    me = general.guild.me
    fakecord.expect_violation(50013, 50001, 160002)

    w.channel.set_bot_permissions(attach_files=False)
    await fakecord.wait_for(lambda: not general.permissions_for(me).attach_files)  # CHANNEL_UPDATE
    with pytest.raises(discord.Forbidden) as exc:
        await general.send("f", file=discord.File(io.BytesIO(b"x"), filename="x.txt"))
    assert (exc.value.status, exc.value.code, exc.value.text) == (403, 50013, "Missing Permissions")
    await general.send("text is fine")

    said = await fakecord.say(w.alice, w.channel, "hi")
    w.channel.set_bot_permissions(read_message_history=False)
    with pytest.raises(discord.Forbidden) as exc:
        await general.send("re", reference=discord.MessageReference(message_id=said.id, channel_id=general.id))
    assert exc.value.code == 160002
    assert [m async for m in general.history()] == []  # no history without Read Message History

    w.channel.set_bot_permissions(send_messages=False)
    with pytest.raises(discord.Forbidden) as exc:
        await general.send("nope")
    assert exc.value.code == 50013

    w.channel.set_bot_permissions(view_channel=False)
    with pytest.raises(discord.Forbidden) as exc:
        await general.send("nope")
    assert exc.value.code == 50001

    w.channel.set_bot_permissions(view_channel=None, send_messages=None, read_message_history=None,
                                  attach_files=None)
    await general.send("back", file=discord.File(io.BytesIO(b"x"), filename="x.txt"))


async def test_interaction_responses_do_not_need_channel_permissions(fakecord, bot):
    w = fakecord.default
    w.channel.set_bot_permissions(send_messages=False, attach_files=False)
    ix = await fakecord.run_command(w.alice, w.channel, "upload", size=10)
    await ix.wait_acknowledged()
    assert ix.original_message.attachments[0].size == 10
    fakecord.expect_violation(50013)
    ix = await fakecord.run_command(w.alice, w.channel, "post", text="result", with_file=True)
    await fakecord.wait_for(lambda: bot.errors)
    assert isinstance(bot.errors[0], discord.Forbidden)
    assert ix.ephemeral_messages[0].content == "posting"


async def test_embeds_without_embed_links_are_dropped(fakecord, bot, general):
    w = fakecord.default
    w.channel.set_bot_permissions(embed_links=False)
    fakecord.expect_violation(50013)
    await general.send("see embed", embed=discord.Embed(title="t"))
    assert w.channel.messages[-1].embeds == []
    assert fakecord.violations[-1].status == 200 and "silently dropped" in fakecord.violations[-1].message


async def test_threads_need_send_messages_in_threads(fakecord, bot):
    w = fakecord.default
    thread = bot.get_guild(w.guild.id).get_thread(w.thread.id)
    w.channel.set_bot_permissions(send_messages=False)
    await thread.send("threads use their own permission", embed=discord.Embed(title="kept"))
    assert w.thread.messages[-1].content == "threads use their own permission"
    # The parent's Send Messages doesn't take Embed Links away in its threads either.
    assert [e["title"] for e in w.thread.messages[-1].embeds] == ["kept"]
    assert thread.permissions_for(thread.guild.me).embed_links  # what discord.py computes
    w.channel.set_bot_permissions(send_messages_in_threads=False)
    fakecord.expect_violation(50013)
    with pytest.raises(discord.Forbidden):
        await thread.send("nope")
    ix = await fakecord.run_command(w.alice, w.thread, "post", text="reply", reply=True)
    await fakecord.wait_for(lambda: bot.errors)
    assert ix.ephemeral_messages[0].content == "posting"


async def test_role_changes_and_new_members_reach_the_client(fakecord, bot):
    w = fakecord.default
    guild = bot.get_guild(w.guild.id)
    w.mods.set_permissions(ban_members=True)
    await fakecord.wait_for(lambda: guild.get_role(w.mods.id).permissions.ban_members)
    carol = w.guild.add_member("carol")
    ix = await fakecord.run_command(carol, w.channel, "ping")
    await ix.wait_acknowledged()


async def test_dms_and_closed_dms(fakecord, bot):
    w = fakecord.default
    ix = await fakecord.run_command(w.alice, w.channel, "dm")
    await ix.wait_for(lambda i: i.followups)
    assert [m.content for m in fakecord.dms(w.alice)] == ["hello in private"]
    assert ix.ephemeral_messages[0].content == "check your DMs"
    fakecord.close_dms(w.bob)
    fakecord.expect_violation(50007)
    ix = await fakecord.run_command(w.bob, w.channel, "dm")
    await ix.wait_for(lambda i: i.followups)
    assert ix.ephemeral_messages[0].content == "I cannot DM you"
    assert fakecord.dms(w.bob) == []
    assert fakecord.violations[-1].code == 50007


async def test_unknown_channel_and_typing(fakecord, bot, general):
    fakecord.expect_violation(10003)
    with pytest.raises(discord.NotFound) as exc:
        await bot.get_partial_messageable(123456789).send("x")
    assert exc.value.code == 10003
    async with general.typing():
        pass
    assert fakecord.typing == [general.id]
    fetched = await bot.fetch_channel(general.id)
    assert fetched.name == "general"
    user = await bot.fetch_user(fakecord.default.alice.id)
    assert user.name == "alice"


async def test_rate_limit_on_demand_is_retried_after_retry_after(fakecord, bot, general):
    fakecord.fail_next("POST", "/channels/{channel_id}/messages", status=429, retry_after=0.05)
    await general.send("eventually")
    statuses = [r.status for r in fakecord.requests_to("POST", "/channels/{channel_id}/messages")]
    assert statuses == [429, 200]
    assert fakecord.violations == []
    fakecord.fail_next("POST", f"/channels/{general.id}/messages", status=503, message="Service Unavailable")
    with pytest.raises(discord.DiscordServerError):
        await general.send("down")
    w = fakecord.default
    fakecord.fail_next("POST", "/interactions/{webhook_id}/{webhook_token}/callback", retry_after=0.05)
    ix = await fakecord.run_command(w.alice, w.channel, "ping")
    await ix.wait_acknowledged()
    assert [r.status for r in fakecord.requests_to("POST", "/interactions/{webhook_id}/{webhook_token}/callback")] \
        == [429, 200]
    fakecord.fail_next("POST", "/channels/{channel_id}/messages", status=503, times=3)
    fakecord.clear_failures()  # not met yet: forgotten
    await general.send("fine again")


async def test_unknown_routes_fail_the_test(fakecord):
    from tests.fakecord.fixtures import run_client

    client = discord.Client(intents=discord.Intents.default())
    with pytest.raises(AssertionError, match="routes the emulator does not know"):
        async with run_client(fakecord, client):
            with pytest.raises(discord.NotFound):
                await client.http.request(discord.http.Route("GET", "/stickers/{sticker_id}", sticker_id=1))
    assert fakecord.unknown_routes == ["GET /api/v10/stickers/1"]


async def test_unhandled_client_exceptions_fail_the_test(fakecord):
    from tests.fakecord.fixtures import run_client

    client = discord.Client(intents=discord.Intents.default())

    @client.event
    async def on_message(message):
        raise RuntimeError("boom")

    with pytest.raises(AssertionError, match="unhandled client exception.*boom"):
        async with run_client(fakecord, client):
            await fakecord.say(fakecord.default.bob, fakecord.default.channel, "hi")
            await fakecord.wait_for(lambda: fakecord.client_errors)
