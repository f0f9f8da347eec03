"""Threads started from a message: permissions, Discord's body rules, THREAD_CREATE into the
client's cache, archiving (by time or by hand) and what an archived thread still allows."""

import discord
import pytest

from tests.fakecord import ScenarioError
from tests.fakecord.samplebot import SampleBot
from tests.fakecord.tests.http import raw


@pytest.fixture
async def bot(fakecord, connect_bot):
    return await connect_bot(SampleBot(sync_guild_id=fakecord.default.guild.id))


async def started_thread(fakecord, bot, member, text="look at this"):
    """``member`` posts ``text``; someone picks Apps > Discuss in a thread on it."""
    w = fakecord.default
    posted = await fakecord.say(member, w.channel, text)
    ix = await fakecord.run_message_command(w.alice, posted, "Discuss in a thread")
    await ix.wait_for(lambda i: i.followups, what="the bot to start the thread")
    return posted, posted.thread


async def test_thread_from_a_message_takes_its_id_and_reaches_the_cache(fakecord, bot):
    w = fakecord.default
    posted, thread = await started_thread(fakecord, bot, w.bob)
    assert thread.id == posted.id and thread.parent is w.channel and thread.starter is posted
    assert thread.name == "About bob's message" and thread.auto_archive_duration == 60
    assert thread.owner_id == fakecord.bot_user.id
    assert [m.content for m in thread.messages] == ["Let's talk about it here."]
    cached = bot.get_channel(thread.id)
    assert isinstance(cached, discord.Thread) and cached.parent_id == w.channel.id
    assert cached.archive_timestamp is not None and not cached.archived
    fetched = await bot.get_channel(w.channel.id).fetch_message(posted.id)
    assert fetched.thread is not None and fetched.thread.id == thread.id
    assert fetched.flags.has_thread
    ix = await fakecord.run_command(w.bob, thread, "ping")  # the thread is a place to use commands
    await ix.wait_acknowledged()
    assert thread.messages[-1].content == "pong"


async def test_starting_threads_follows_discords_rules(fakecord, bot):
    w = fakecord.default
    posted = await fakecord.say(w.bob, w.channel, "hi")
    path = f"/channels/{w.channel.id}/messages/{posted.id}/threads"
    fakecord.expect_violation(50013, 50035, 160004, 50024, 10008)
    w.channel.set_bot_permissions(create_public_threads=False)
    status, data = await raw(fakecord, "POST", path, {"name": "t"})
    assert (status, data) == (403, {"message": "Missing Permissions", "code": 50013})
    w.channel.set_bot_permissions(create_public_threads=True)

    status, data = await raw(fakecord, "POST", path, {"name": "n" * 101, "auto_archive_duration": 30})
    assert status == 400 and data["code"] == 50035
    assert data["errors"] == {
        "name": {"_errors": [{"code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 100 in length."}]},
        "auto_archive_duration": {"_errors": [{"code": "BASE_TYPE_CHOICES",
                                               "message": "Value must be one of {60, 1440, 4320, 10080}."}]}}
    status, data = await raw(fakecord, "POST", path, {})
    assert status == 400 and data["errors"]["name"]["_errors"][0]["code"] == "BASE_TYPE_REQUIRED"
    assert w.channel.threads == [w.thread]

    status, data = await raw(fakecord, "POST", path, {"name": "n" * 100, "auto_archive_duration": 10080})
    assert status == 201 and data["id"] == str(posted.id) and data["type"] == 11
    assert data["thread_metadata"]["auto_archive_duration"] == 10080
    assert data["member"]["user_id"] == str(fakecord.bot_user.id)
    status, data = await raw(fakecord, "POST", path, {"name": "again"})
    assert (status, data["code"]) == (400, 160004)
    in_thread = await fakecord.say(w.bob, w.thread, "inside")
    status, data = await raw(fakecord, "POST", f"/channels/{w.thread.id}/messages/{in_thread.id}/threads",
                             {"name": "nested"})
    assert (status, data["code"]) == (400, 50024)
    status, data = await raw(fakecord, "POST", f"/channels/{w.channel.id}/messages/1/threads", {"name": "x"})
    assert (status, data["code"]) == (404, 10008)


async def test_idle_threads_archive_and_the_bots_post_unarchives_them(fakecord, bot):
    w = fakecord.default
    _, thread = await started_thread(fakecord, bot, w.bob)
    cached = bot.get_channel(thread.id)
    fakecord.clock.advance(59 * 60)
    assert not thread.archived
    fakecord.clock.advance(61)  # an hour without a message: Discord archives it (THREAD_UPDATE)
    assert thread.archived
    await fakecord.wait_for(lambda: cached.archived, what="the client to see the archive")
    assert bot.get_channel(thread.id) is None  # discord.py drops archived threads from its cache

    last = thread.messages[-1]
    fakecord.expect_violation(50083)
    with pytest.raises(discord.HTTPException) as exc:  # archived threads refuse edits...
        await cached.get_partial_message(last.id).edit(content="changed")
    assert (exc.value.status, exc.value.code, exc.value.text) == (400, 50083, "Thread is archived")
    await cached.send("back again")  # ...but sending unarchives
    assert not thread.archived and thread.messages[-1].content == "back again"
    await fakecord.wait_for(lambda: bot.get_channel(thread.id) is not None)  # THREAD_UPDATE
    assert not bot.get_channel(thread.id).archived
    await cached.get_partial_message(last.id).edit(content="changed")
    assert last.content == "changed"


async def test_locked_archived_threads_need_manage_threads(fakecord, bot):
    w = fakecord.default
    cached = bot.get_channel(w.thread.id)
    w.thread.archive(locked=True)
    await fakecord.wait_for(lambda: cached.archived and cached.locked)
    fakecord.expect_violation(50083)
    with pytest.raises(discord.HTTPException) as exc:
        await cached.send("let me in")
    assert exc.value.code == 50083
    with pytest.raises(ScenarioError, match="archived and locked"):
        await fakecord.say(w.bob, w.thread, "me too")
    w.guild.bot_role.set_permissions(manage_threads=True)
    await cached.send("moderators may")
    assert not w.thread.archived and w.thread.messages[-1].content == "moderators may"


async def test_members_post_files_in_threads_and_their_posts_unarchive(fakecord, bot):
    w = fakecord.default
    w.thread.archive()
    clip = fakecord.attachment("clip.mp4", b"MP4")
    posted = await fakecord.say(w.alice, w.thread, "in the thread", attachments=[clip])
    assert not w.thread.archived and w.thread.messages == [posted]
    assert posted.attachments[0].url.split("?")[0].endswith(f"/attachments/{w.thread.id}/{clip.id}/clip.mp4")
    ix = await fakecord.run_message_command(w.bob, posted, "Animate with Seedance")
    await ix.wait_acknowledged()
    assert ix.channel is w.thread and ix.response_type == 9
    w.channel.set_permissions(w.guild.everyone, send_messages_in_threads=False)
    with pytest.raises(ScenarioError, match="cannot post"):
        await fakecord.say(w.alice, w.thread, "no")
    await fakecord.say(w.alice, w.channel, "the channel itself is fine")
