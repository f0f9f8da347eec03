"""Discord's limits, refused the way Discord refuses them (status, code, nested ``errors``)."""

import asyncio
import io

import discord
import pytest

from tests.fakecord import ACK_TIMEOUT, InteractionFailed
from tests.fakecord.limits import MiB, upload_limit
from tests.fakecord.samplebot import SampleBot
from tests.fakecord.tests.http import raw


@pytest.fixture
async def bot(fakecord, connect_bot):
    return await connect_bot(SampleBot(sync_guild_id=fakecord.default.guild.id))


def too_long(limit: int) -> dict:
    return {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {limit} or fewer in length."}]}


async def test_message_of_2001_characters_is_refused(fakecord, bot):
    w = fakecord.default
    fakecord.expect_violation(50035)
    ix = await fakecord.run_command(w.alice, w.channel, "echo", text="x", times=2001)
    await fakecord.wait_for(lambda: bot.errors)
    err = bot.errors[0]
    assert isinstance(err, discord.HTTPException) and err.status == 400 and err.code == 50035
    assert fakecord.violations[0].errors == {"data": {"content": too_long(2000)}}
    assert not ix.acknowledged and w.channel.messages == []
    channel = bot.get_channel(w.channel.id)
    with pytest.raises(discord.HTTPException) as exc:
        await channel.send("y" * 2001)
    assert exc.value.code == 50035 and "content" in str(exc.value)
    await channel.send("y" * 2000)
    assert len(w.channel.messages[-1].content) == 2000


async def test_embed_description_of_4097_characters_is_refused(fakecord, bot):
    w = fakecord.default
    fakecord.expect_violation(50035)
    ix = await fakecord.run_command(w.alice, w.channel, "embed", description_length=4097)
    await fakecord.wait_for(lambda: bot.errors)
    assert bot.errors[0].code == 50035
    assert fakecord.violations[0].errors == {"data": {"embeds": {"0": {"description": too_long(4096)}}}}
    ok = await fakecord.run_command(w.alice, w.channel, "embed", description_length=4096)
    await ok.wait_acknowledged()
    assert len(w.channel.messages[0].embeds[0]["description"]) == 4096
    assert not ix.acknowledged


async def test_embed_and_component_limits(fakecord, bot):
    cid = fakecord.default.channel.id
    path = f"/channels/{cid}/messages"
    cases = [
        ({"embeds": [{"title": "t"}] * 11}, {"embeds": too_long(10)}),
        ({"embeds": [{"title": "t" * 257}]}, {"embeds": {"0": {"title": too_long(256)}}}),
        ({"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]}, {"embeds": {"0": {"fields": too_long(25)}}}),
        ({"embeds": [{"fields": [{"name": "n" * 257, "value": "v" * 1025}]}]},
         {"embeds": {"0": {"fields": {"0": {"name": too_long(256), "value": too_long(1024)}}}}}),
        ({"embeds": [{"footer": {"text": "f" * 2049}, "author": {"name": "a" * 257}}]},
         {"embeds": {"0": {"footer": {"text": too_long(2048)}, "author": {"name": too_long(256)}}}}),
        ({"embeds": [{"description": "d" * 4000}, {"description": "d" * 2001}]},
         {"embeds": {"_errors": [{"code": "MAX_EMBED_SIZE_EXCEEDED", "message": "Embed size exceeds maximum size of 6000"}]}}),
        ({"content": "x", "components": [{"type": 1, "components": []}] * 6}, {"components": too_long(5)}),
        ({"content": "x", "components": [{"type": 1, "components": [
            {"type": 2, "style": 1, "label": "b", "custom_id": str(i)} for i in range(6)]}]},
         {"components": {"0": {"components": too_long(5)}}}),
        ({"content": "x", "components": [{"type": 1, "components": [
            {"type": 2, "style": 1, "label": "l" * 81, "custom_id": "c" * 101}]}]},
         {"components": {"0": {"components": {"0": {"label": too_long(80), "custom_id": too_long(100)}}}}}),
    ]
    fakecord.expect_violation(50035, 50006)
    # Eleven bodies straight over HTTP, past discord.py's rate limiter: this test is about the
    # form checks, so it lifts the 5 / 5 s channel limit (tests/fakecord/tests/test_ratelimits.py
    # checks the limit itself).
    fakecord.rate_limits.set("POST", "/channels/{channel_id}/messages", limit=20, per=5)
    for body, errors in cases:
        status, data = await raw(fakecord, "POST", path, body)
        assert (status, data) == (400, {"message": "Invalid Form Body", "code": 50035, "errors": errors}), body
    status, data = await raw(fakecord, "POST", path, {"content": "   "})
    assert (status, data) == (400, {"message": "Cannot send an empty message", "code": 50006})
    assert fakecord.default.channel.messages == []


async def test_empty_message_is_refused(fakecord, bot):
    fakecord.expect_violation(50006)
    with pytest.raises(discord.HTTPException) as exc:
        await bot.get_channel(fakecord.default.channel.id).send()
    assert exc.value.code == 50006 and exc.value.text == "Cannot send an empty message"


async def test_autocomplete_with_26_choices_is_refused(fakecord, bot):
    w = fakecord.default
    fakecord.expect_violation(50035, ACK_TIMEOUT)
    fakecord.expect_client_error("Ignoring exception in autocomplete")  # discord.py logs it
    bot.autocomplete_count = 26
    typing = asyncio.create_task(fakecord.autocomplete(w.alice, w.channel, "video status",
                                                       focused="request_id", value="a"))
    await fakecord.wait_for(lambda: fakecord.violations)
    assert fakecord.violations[0].errors == {"data": {"choices": too_long(25)}}
    fakecord.clock.advance(3)  # Discord gives up on the autocomplete
    with pytest.raises(InteractionFailed):
        await typing
    bot.autocomplete_count = 25
    choices = await fakecord.autocomplete(w.alice, w.channel, "video status", focused="request_id", value="a")
    assert len(choices) == 25


async def test_modal_limits(fakecord, bot):
    w = fakecord.default
    ix = await fakecord.run_command(w.alice, w.channel, "slow", delay=-1)
    await fakecord.wait_for(lambda: "slow" in bot.saved)
    path = f"/interactions/{ix.id}/{ix.token}/callback"
    row = {"type": 1, "components": [{"type": 4, "custom_id": "a", "label": "A", "style": 1}]}
    fakecord.expect_violation(50035)
    status, data = await raw(fakecord, "POST", path, {"type": 9, "data": {
        "custom_id": "m", "title": "t" * 46, "components": [row] * 6}}, auth=False)
    assert status == 400 and data["errors"] == {"data": {"title": too_long(45), "components": too_long(5)}}
    status, data = await raw(fakecord, "POST", path, {"type": 8, "data": {"choices": []}}, auth=False)
    assert status == 400 and "type" in data["errors"]  # autocomplete result for a slash command
    status, data = await raw(fakecord, "POST", path + "?with_response=true", {"type": 9, "data": {
        "custom_id": "m", "title": "Fine", "components": [row]}}, auth=False)
    assert status == 200 and data == {"interaction": {"id": str(ix.id), "type": 2}}
    assert ix.response_type == 9
    fakecord.expect_violation(40060)
    status, data = await raw(fakecord, "POST", path, {"type": 4, "data": {"content": "x"}}, auth=False)
    assert (status, data["code"]) == (400, 40060)


async def test_upload_over_the_guild_limit_is_refused_with_413(fakecord, bot):
    w = fakecord.default
    fakecord.expect_violation(40005)
    ix = await fakecord.run_command(w.alice, w.channel, "upload", size=10 * MiB + 1)
    await fakecord.wait_for(lambda: bot.errors)
    assert (bot.errors[0].status, bot.errors[0].code) == (413, 40005)
    assert fakecord.violations[-1].message == "Request entity too large"
    assert not ix.acknowledged
    channel = bot.get_channel(w.channel.id)
    with pytest.raises(discord.HTTPException) as exc:
        await channel.send(file=discord.File(io.BytesIO(b"z" * (10 * MiB + 1)), filename="big.bin"))
    assert exc.value.status == 413
    deferred = await fakecord.run_command(w.alice, w.channel, "upload", size=10 * MiB + 1, defer=True)
    await fakecord.wait_for(lambda: len(bot.errors) == 2)
    assert deferred.original_message.loading  # the edit with the big file was refused
    w.guild.set_boost_tier(2)
    await fakecord.wait_for(lambda: bot.get_guild(w.guild.id).filesize_limit == 50 * MiB)
    ok = await fakecord.run_command(w.alice, w.channel, "upload", size=10 * MiB + 1)
    await ok.wait_acknowledged()
    assert ok.original_message.attachments[0].size == 10 * MiB + 1
    assert bot.seen_interactions[-1].filesize_limit == 50 * MiB
    assert [upload_limit(t) // MiB for t in range(4)] == [10, 10, 50, 100]


async def test_more_than_ten_files_are_refused(fakecord, bot):
    fakecord.expect_violation(50035)
    channel = bot.get_channel(fakecord.default.channel.id)
    files = [discord.File(io.BytesIO(b"x"), filename=f"{i}.txt") for i in range(11)]
    with pytest.raises(discord.HTTPException) as exc:  # channel.send refuses 11 files itself
        await bot.http.send_message(channel.id, params=discord.http.handle_message_parameters(files=files))
    assert exc.value.code == 50035 and "files" in str(exc.value)


async def test_command_sync_limits(fakecord, bot):
    app = fakecord.application_id
    fakecord.expect_violation(50035)
    good = {"name": "ok", "description": "fine", "type": 1}
    bad = [
        {"name": "Bad Name", "description": "x", "type": 1},
        {"name": "d", "description": "x" * 101, "type": 1},
        {"name": "o", "description": "x", "type": 1,
         "options": [{"name": f"o{i}", "description": "x", "type": 3} for i in range(26)]},
        {"name": "c", "description": "x", "type": 1, "options": [{"name": "c", "description": "x", "type": 3,
         "choices": [{"name": str(i), "value": str(i)} for i in range(26)]}]},
    ]
    status, data = await raw(fakecord, "PUT", f"/applications/{app}/commands", [good, *bad])
    assert status == 400 and data["code"] == 50035
    assert set(data["errors"]) == {"1", "2", "3", "4"}
    assert data["errors"]["3"]["options"] == too_long(25)
    status, data = await raw(fakecord, "PUT", f"/applications/{app}/commands", [good])
    assert status == 200 and data[0]["id"] and data[0]["application_id"] == str(app)
    status, again = await raw(fakecord, "PUT", f"/applications/{app}/commands", [good])
    assert again[0]["id"] == data[0]["id"]  # unchanged names keep their ids, as on Discord


async def test_bad_token_is_refused(fakecord):
    status, data = await raw(fakecord, "GET", "/users/@me", auth=False)
    assert (status, data) == (401, {"message": "401: Unauthorized", "code": 0})
    client = discord.Client(intents=discord.Intents.none())
    from bot.discord_endpoints import point_discord_at
    point_discord_at(fakecord.api_base_url, fakecord.gateway_url)
    try:
        with pytest.raises(discord.LoginFailure):
            await client.login("wrong-token")
    finally:
        await client.close()
        point_discord_at(None, None)
    assert fakecord.violations == []
