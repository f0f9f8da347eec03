"""Interactions through the emulator: commands, deferrals, followups, buttons, modals, selects,
autocomplete, ``@original``, and the 3 s / 15 min windows."""

import asyncio
import io

import discord
import pytest

from tests.fakecord import ACK_TIMEOUT, InteractionFailed, ScenarioError
from tests.fakecord.samplebot import SampleBot


@pytest.fixture
async def bot(fakecord, connect_bot):
    return await connect_bot(SampleBot(sync_guild_id=fakecord.default.guild.id))


async def test_video_generate_with_attachment_defers_then_first_followup_replaces_thinking(fakecord, bot):
    w = fakecord.default
    frame = fakecord.attachment("frame.png", b"\x89PNG-frame", width=4, height=4)
    ix = await fakecord.run_command(w.alice, w.channel, "video generate", prompt="a cat @everyone",
                                    duration=7, style="anime", first_frame=frame)
    await ix.wait_acknowledged()
    assert ix.response_type == 5  # deferred, "FakeBot is thinking..."
    msg = await ix.wait_response_message()
    assert msg is ix.followups[0]  # the first followup edited the thinking message
    assert msg.content == f"<@{w.alice.id}> a cat @everyone (7s, anime, frame 10B)"
    assert msg.mentions == [w.alice.id]
    assert msg.mention_everyone is False  # @everyone in a prompt pinged nobody
    assert [a.filename for a in msg.attachments] == ["video.mp4"]
    assert msg.attachments[0].bytes == b"MP4\x89PNG-frame"
    assert msg.buttons()[0]["custom_id"] == "reroll:job1"
    assert w.channel.messages == [msg]
    assert ix.ephemeral_messages == []


async def test_interaction_payload_carries_what_discord_sends(fakecord, bot):
    w = fakecord.default
    ix = await fakecord.run_command(w.mod, w.thread, "ping")
    await ix.wait_acknowledged()
    inter = await _bot_interaction(bot, ix)
    assert inter.filesize_limit == 10 * 1024 * 1024
    assert inter.permissions.manage_guild
    assert inter.app_permissions.attach_files
    assert isinstance(inter.channel, discord.Thread)
    assert inter.command.name == "ping"
    assert inter.guild_locale == discord.Locale.american_english
    assert w.thread.messages[0].content == "pong"


async def test_click_button_opens_modal_and_submit_replies(fakecord, bot):
    w = fakecord.default
    ix = await fakecord.run_command(w.alice, w.channel, "video generate", prompt="a cat")
    video = await ix.wait_response_message()
    click = await fakecord.click(w.bob, video, label="Re-roll")
    await click.wait_acknowledged()
    assert click.response_type == 9
    assert click.modal["title"] == "Re-roll"
    submit = await fakecord.submit_modal(w.bob, click, {"prompt": "a dog"})
    await submit.wait_acknowledged()
    assert [m.content for m in submit.ephemeral_messages] == ["Re-rolling: a dog"]
    assert submit.ephemeral_messages[0].visible_to == w.bob.id
    await fakecord.wait_for(lambda: len(w.channel.messages) == 2)
    reply = w.channel.messages[-1]
    assert reply.content == "New take on a dog"
    assert reply.reply_to == video.id
    assert reply.mentions == []  # AllowedMentions.none(): the replied user was not pinged
    assert "Re-rolling" not in [m.content for m in w.channel.messages]


async def test_modal_from_slash_command_by_label(fakecord, bot):
    w = fakecord.default
    ix = await fakecord.run_command(w.alice, w.channel, "feedback")
    await ix.wait_acknowledged()
    submit = await fakecord.submit_modal(w.alice, ix, {"New prompt": "hello"})
    await submit.wait_acknowledged()
    assert submit.ephemeral_messages[0].content == "Re-rolling: hello"
    with pytest.raises(ScenarioError, match="required"):
        await fakecord.submit_modal(w.alice, ix, {})
    with pytest.raises(ScenarioError, match="no inputs"):
        await fakecord.submit_modal(w.alice, ix, {"prompt": "x", "nope": "y"})


async def test_modal_file_upload_sends_the_files_resolved(fakecord, bot):
    w = fakecord.default
    ix = await fakecord.run_command(w.alice, w.channel, "shot")
    await ix.wait_acknowledged()
    upload = ix.modal["components"][1]
    assert upload["type"] == 18 and upload["component"]["type"] == 19
    image = fakecord.attachment("frame.png", b"\x89PNG-frame", width=4, height=4)
    submit = await fakecord.submit_modal(w.alice, ix, {"image": image, "Prompt": "a cat"})
    await submit.wait_acknowledged()
    assert submit.ephemeral_messages[0].content == "Shot: a cat with ['frame.png 10B']"
    component = submit.data["components"][1]["component"]
    assert component == {"type": 19, "id": component["id"], "custom_id": "image", "values": [str(image.id)]}
    resolved = submit.data["resolved"]["attachments"][str(image.id)]
    assert resolved["filename"] == "frame.png" and "ephemeral-attachments" in resolved["url"]
    again = await fakecord.run_command(w.alice, w.channel, "shot")
    await again.wait_acknowledged()
    none = await fakecord.submit_modal(w.alice, again, {"prompt": "a dog"})  # optional: no files
    await none.wait_acknowledged()
    assert none.ephemeral_messages[0].content == "Shot: a dog with no file"
    assert "resolved" not in none.data
    with pytest.raises(ScenarioError, match="outside 0..2"):
        await fakecord.submit_modal(w.alice, ix, {"prompt": "x", "image": [image, image, image]})
    with pytest.raises(ScenarioError, match="emu.attachment"):
        await fakecord.submit_modal(w.alice, ix, {"prompt": "x", "image": "frame.png"})


async def test_select_updates_message_and_deferred_update_edits_original(fakecord, bot):
    w = fakecord.default
    ix = await fakecord.run_command(w.alice, w.channel, "pick")
    await ix.wait_acknowledged()
    msg = ix.original_message
    quiet = await fakecord.click(w.alice, msg, custom_id="quiet")
    await quiet.wait_for(lambda i: msg.content == "quietly updated")
    assert quiet.response_type == 6
    chosen = await fakecord.select(w.bob, msg, ["mint"], custom_id="flavour")
    await chosen.wait_acknowledged()
    assert chosen.response_type == 7
    assert msg.content == "picked mint" and msg.components == []
    assert len(w.channel.messages) == 1


async def test_autocomplete_returns_choices(fakecord, bot):
    w = fakecord.default
    choices = await fakecord.autocomplete(w.alice, w.channel, "video status", focused="request_id", value="ab")
    assert choices == [{"name": f"ab-{i}", "value": f"ab{i}"} for i in range(3)]


async def test_ephemeral_reply_only_in_invokers_view(fakecord, bot):
    w = fakecord.default
    ix = await fakecord.run_command(w.alice, w.channel, "echo", text="psst", ephemeral=True)
    await ix.wait_acknowledged()
    assert w.channel.messages == []
    assert [m.content for m in ix.ephemeral_messages] == ["psst"]
    assert ix.original_message.flags & 64
    assert fakecord.ephemeral_messages(w.alice) == ix.ephemeral_messages
    assert fakecord.ephemeral_messages(w.bob) == []


async def test_original_get_edit_delete_and_followups(fakecord, bot):
    w = fakecord.default
    ix = await fakecord.run_command(w.alice, w.channel, "ping")
    await ix.wait_acknowledged()
    inter = await _bot_interaction(bot, ix)
    original = await inter.original_response()
    assert original.content == "pong"
    await inter.edit_original_response(content="pong!", attachments=[
        discord.File(io.BytesIO(b"abc"), filename="x.txt")])
    assert ix.original_message.content == "pong!"
    assert ix.original_message.attachments[0].bytes == b"abc"
    follow = await inter.followup.send("more", ephemeral=True, wait=True)
    assert [m.content for m in ix.ephemeral_messages] == ["more"]
    await follow.edit(content="more!")
    assert ix.followups[0].content == "more!"
    await follow.delete()
    assert ix.ephemeral_messages == []
    await inter.delete_original_response()
    assert w.channel.messages == []
    fakecord.expect_violation(10008)
    with pytest.raises(discord.NotFound) as err:
        await inter.followup.fetch_message(ix.original_message.id)
    assert err.value.code == 10008


async def test_raw_options_reach_the_bot_as_sent_for_a_synced_command_only(fakecord, bot):
    """What a stale copy of the command sends: no prompt, a duration as text."""
    w = fakecord.default
    options = [{"name": "duration", "type": 3, "value": "five"}]
    ix = await fakecord.run_command_raw(w.alice, w.channel, "video generate", options)
    inter = await _bot_interaction(bot, ix)
    assert inter.data["options"] == [{"name": "generate", "type": 1, "options": options}]
    await fakecord.wait_for(lambda: bot.errors, 2, "the tree's error")
    assert isinstance(bot.errors[0], discord.app_commands.CommandSignatureMismatch)
    with pytest.raises(ScenarioError, match="never synced"):
        await fakecord.run_command_raw(w.alice, w.channel, "nope", [])
    with pytest.raises(ScenarioError, match="cannot see /purge"):
        await fakecord.run_command_raw(w.alice, w.channel, "purge", [])
    fakecord.expect_violation(ACK_TIMEOUT)  # the sample bot never answers a failed command


async def _bot_interaction(bot, ix) -> discord.Interaction:
    """The bot-side Interaction object for a fakecord interaction (kept by the sample bot)."""
    return await asyncio.wait_for(_find(bot, ix), 2)


async def _find(bot, ix):
    while True:
        for inter in bot.seen_interactions:
            if inter.id == ix.id:
                return inter
        await asyncio.sleep(0.01)


async def test_unanswered_interaction_fails_when_clock_passes_three_seconds(fakecord, bot):
    w = fakecord.default
    fakecord.expect_violation(ACK_TIMEOUT, 10062)
    ix = await fakecord.run_command(w.alice, w.channel, "slow", delay=-1)
    await fakecord.wait_for(lambda: "slow" in bot.saved)
    fakecord.clock.advance(3.1)
    assert ix.failed
    with pytest.raises(InteractionFailed):
        await ix.wait_acknowledged()
    with pytest.raises(discord.NotFound) as err:
        await bot.saved["slow"].response.send_message("too late")
    assert err.value.code == 10062
    assert [v.code for v in fakecord.violations] == [ACK_TIMEOUT, 10062]


async def test_late_answer_fails_in_real_time_too(fakecord, bot):
    w = fakecord.default
    fakecord.ack_deadline = 0.2  # the real-time timer, without waiting 3 s
    fakecord.expect_violation(ACK_TIMEOUT, 10062)
    ix = await fakecord.run_command(w.alice, w.channel, "slow", delay=0.4)
    with pytest.raises(InteractionFailed, match="This interaction failed"):
        await ix.wait_acknowledged()
    await fakecord.wait_for(lambda: bot.errors, what="the bot to get the late answer's error")
    assert isinstance(bot.errors[-1], discord.NotFound)
    assert any(v.code == 10062 for v in fakecord.violations)
    assert w.channel.messages == []


async def test_interaction_token_expires_after_fifteen_minutes(fakecord, bot):
    w = fakecord.default
    ix = await fakecord.run_command(w.alice, w.channel, "later")
    await ix.wait_acknowledged()
    assert ix.original_message.loading and ix.original_message.ephemeral
    inter = bot.saved["later"]
    fakecord.clock.advance(14 * 60)
    await inter.edit_original_response(content="still here")
    assert ix.ephemeral_messages[0].content == "still here"
    fakecord.clock.advance(60.5)
    fakecord.expect_violation(50027)
    with pytest.raises(discord.HTTPException) as err:
        await inter.followup.send("too late")
    assert err.value.status == 401 and err.value.code == 50027


async def test_scenario_refuses_what_a_user_cannot_do(fakecord, bot):
    w = fakecord.default
    with pytest.raises(ScenarioError, match="never synced"):
        await fakecord.run_command(w.alice, w.channel, "nope")
    with pytest.raises(ScenarioError, match="no subcommand"):
        await fakecord.run_command(w.alice, w.channel, "video delete")
    with pytest.raises(ScenarioError, match="a group"):
        await fakecord.run_command(w.alice, w.channel, "video")
    with pytest.raises(ScenarioError, match="no option 'colour'"):
        await fakecord.run_command(w.alice, w.channel, "video generate", prompt="x", colour="red")
    with pytest.raises(ScenarioError, match="required option 'prompt'"):
        await fakecord.run_command(w.alice, w.channel, "video generate")
    with pytest.raises(ScenarioError, match="outside 1..10"):
        await fakecord.run_command(w.alice, w.channel, "video generate", prompt="x", duration=11)
    with pytest.raises(ScenarioError, match="not one of the choices"):
        await fakecord.run_command(w.alice, w.channel, "video generate", prompt="x", style="noir")
    with pytest.raises(ScenarioError, match="not a valid value"):
        await fakecord.run_command(w.alice, w.channel, "video generate", prompt="x", duration="5")
    with pytest.raises(ScenarioError, match="cannot see /purge"):
        await fakecord.run_command(w.alice, w.channel, "purge")
    ix = await fakecord.run_command(w.mod, w.channel, "purge")
    await ix.wait_acknowledged()
    ix = await fakecord.run_command(w.owner, w.channel, "purge")
    await ix.wait_acknowledged()
    video = None
    with pytest.raises(ScenarioError, match="no button"):
        ix = await fakecord.run_command(w.alice, w.channel, "ping")
        video = await ix.wait_response_message()
        await fakecord.click(w.alice, video, label="Nope")
    assert video is not None


async def test_global_commands_and_dm_commands(fakecord, connect_bot):
    w = fakecord.default
    await connect_bot(SampleBot())  # syncs globally
    assert fakecord.syncs == [None]
    ix = await fakecord.run_command(w.alice, w.channel, "ping")
    await ix.wait_acknowledged()
    dm = fakecord.dm_channel(w.alice)
    ix = await fakecord.run_command(w.alice.user, dm, "ping")
    await ix.wait_acknowledged()
    assert [m.content for m in fakecord.dms(w.alice)] == ["pong"]


async def test_user_role_channel_and_number_options_are_resolved(fakecord, bot):
    w = fakecord.default
    ix = await fakecord.run_command(w.alice, w.channel, "inspect", user=w.mod, role=w.artists,
                                    channel=w.channel, ratio=0.5, who=w.mods)
    await ix.wait_acknowledged()
    assert ix.ephemeral_messages[0].content == "mo:True Artists #general 0.5 Mods"
    with pytest.raises(ScenarioError, match="channel type"):
        await fakecord.run_command(w.alice, w.channel, "inspect", user=w.mod, role=w.artists,
                                   channel=w.thread)
