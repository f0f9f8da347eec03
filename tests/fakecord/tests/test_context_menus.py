"""Message context menus (command type 3): syncing them with Discord's rules, members posting
files, and running a menu on a message whose files the bot reads from ``resolved``."""

import aiohttp
import discord
import pytest

from tests.fakecord import ScenarioError
from tests.fakecord.samplebot import SampleBot
from tests.fakecord.tests.http import raw


@pytest.fixture
async def bot(fakecord, connect_bot):
    return await connect_bot(SampleBot(sync_guild_id=fakecord.default.guild.id))


async def test_message_command_on_a_members_image_opens_a_modal_that_reads_the_file(fakecord, bot):
    w = fakecord.default
    photo = fakecord.attachment("cat.png", b"\x89PNG-cat", width=64, height=48)
    posted = await fakecord.say(w.bob, w.channel, "my cat", attachments=[photo])
    assert posted.attachments[0].url.startswith(f"{fakecord.base_url}/attachments/{w.channel.id}/")

    ix = await fakecord.run_message_command(w.alice, posted, "Animate with Seedance")
    await ix.wait_acknowledged()
    assert ix.response_type == 9 and ix.modal["title"] == "Animate"
    assert ix.data["type"] == 3 and ix.data["target_id"] == str(posted.id)
    target = ix.data["resolved"]["messages"][str(posted.id)]
    assert target["content"] == "my cat" and target["author"]["id"] == str(w.bob.id)
    assert target["attachments"][0]["filename"] == "cat.png" and target["attachments"][0]["width"] == 64
    assert ix.target_message is posted and ix.describe() == "Apps > Animate with Seedance by alice"
    inter = next(i for i in bot.seen_interactions if i.id == ix.id)
    assert inter.command.name == "Animate with Seedance"

    submit = await fakecord.submit_modal(w.alice, ix, {"Prompt": "it jumps"})
    await submit.wait_acknowledged()
    assert [m.content for m in submit.ephemeral_messages] == ["Animating cat.png (8B): it jumps"]


async def test_message_command_without_files_and_a_public_answer(fakecord, bot):
    w = fakecord.default
    plain = await fakecord.say(w.bob, w.channel, "no picture")
    ix = await fakecord.run_message_command(w.alice, plain.id, "Animate with Seedance")
    await ix.wait_acknowledged()
    assert ix.ephemeral_messages[0].content == "That message has no file to animate."
    assert ix.ephemeral_messages[0].type == 23  # a context menu's answer


async def test_scenario_refuses_what_a_person_cannot_do(fakecord, bot):
    w = fakecord.default
    msg = await fakecord.say(w.bob, w.channel, "hi")
    with pytest.raises(ScenarioError, match="no message command 'Nope'"):
        await fakecord.run_message_command(w.alice, msg, "Nope")
    with pytest.raises(ScenarioError, match="a message needs content or attachments"):
        await fakecord.say(w.bob, w.channel, "")
    w.channel.set_permissions(w.guild.everyone, attach_files=False)
    with pytest.raises(ScenarioError, match="may not attach files"):
        await fakecord.say(w.bob, w.channel, "x", attachments=[fakecord.attachment("a.txt", b"a")])
    w.channel.set_permissions(w.guild.everyone, view_channel=False)
    with pytest.raises(ScenarioError, match="cannot see"):
        await fakecord.run_message_command(w.alice, msg, "Animate with Seedance")
    with pytest.raises(ScenarioError, match="cannot post"):
        await fakecord.say(w.bob, w.channel, "x")
    w.channel.set_permissions(w.guild.everyone, view_channel=None, attach_files=None)
    big = fakecord.attachment("big.bin", b"x" * (10 * 1024 * 1024 + 1))
    with pytest.raises(ScenarioError, match="upload limit"):
        await fakecord.say(w.bob, w.channel, "x", attachments=[big])


async def test_refetching_a_message_gives_freshly_signed_attachment_urls(fakecord, bot):
    w = fakecord.default
    posted = await fakecord.say(w.bob, w.channel, "clip", attachments=[fakecord.attachment("c.mp4", b"MP4")])
    general = bot.get_channel(w.channel.id)
    first = await general.fetch_message(posted.id)
    old_url = first.attachments[0].url
    assert await first.attachments[0].read() == b"MP4"
    fakecord.clock.advance(23 * 3600)
    assert await first.attachments[0].read() == b"MP4"  # still within its day
    fakecord.clock.advance(2 * 3600)
    async with aiohttp.ClientSession() as session, session.get(old_url) as resp:
        assert resp.status == 404  # the signed link expired
    again = await general.fetch_message(posted.id)
    assert again.attachments[0].url != old_url
    assert await again.attachments[0].read() == b"MP4"
    status, data = await raw(fakecord, "GET", f"/channels/{w.channel.id}/messages/{posted.id}")
    assert status == 200 and data["attachments"][0]["url"].split("?")[0] == old_url.split("?")[0]


async def test_context_menu_sync_rules(fakecord, bot):
    app, gid = fakecord.application_id, fakecord.default.guild.id
    path = f"/applications/{app}/guilds/{gid}/commands"
    fakecord.expect_violation(50035, 30032)
    ok = {"name": "Animate with Seedance", "type": 3}
    status, data = await raw(fakecord, "PUT", path, [ok, {"name": "Make it MOVE", "type": 3, "description": ""}])
    assert status == 200 and [c["type"] for c in data] == [3, 3]
    assert data[0]["description"] == "" and data[0]["options"] == []
    bad = [
        {"name": "x" * 33, "type": 3},
        {"name": "", "type": 3},
        {"name": "Described", "type": 3, "description": "no"},
        {"name": "Optioned", "type": 3, "options": [{"name": "o", "description": "o", "type": 3}]},
    ]
    status, data = await raw(fakecord, "PUT", path, bad)
    assert status == 400 and data["code"] == 50035
    between = {"_errors": [{"code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 32 in length."}]}
    assert data["errors"]["0"] == {"name": between} and data["errors"]["1"] == {"name": between}
    assert data["errors"]["2"]["description"]["_errors"][0]["code"] == \
        "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION_INVALID"
    assert "options" in data["errors"]["3"]
    six = [{"name": f"Menu {i}", "type": 3} for i in range(6)]
    status, data = await raw(fakecord, "PUT", path, six)
    assert (status, data) == (400, {"message": "Maximum number of application commands reached (5)",
                                    "code": 30032})
    status, data = await raw(fakecord, "PUT", path, six[:5])
    assert status == 200
    status, data = await raw(fakecord, "POST", path, six[5])  # a sixth, one at a time
    assert (status, data["code"]) == (400, 30032)
    five_users = [{"name": f"User {i}", "type": 2} for i in range(5)]
    status, _ = await raw(fakecord, "PUT", path, six[:5] + five_users)  # 5 of each type is fine
    assert status == 200


async def test_global_message_commands_work_in_any_guild(fakecord, connect_bot):
    other = fakecord.add_guild("Other")
    lobby = other.add_text_channel("lobby")
    fan = other.add_member("fan")
    bot = await connect_bot(SampleBot())  # syncs globally
    assert "Animate with Seedance" in {c.name for c in await bot.tree.fetch_commands()}
    posted = await fakecord.say(fan, lobby, "pic", attachments=[fakecord.attachment("p.png", b"png")])
    ix = await fakecord.run_message_command(fan, posted, "Animate with Seedance")
    await ix.wait_acknowledged()
    assert ix.response_type == 9 and "guild_id" not in ix.data
    assert isinstance(bot.get_channel(lobby.id), discord.TextChannel)
