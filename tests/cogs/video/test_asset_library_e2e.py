"""The shared asset library end to end: the real bot, the Discord emulator, the GMI
simulator. A moderator adds an image, a video and a provider asset; members pick them by
name as they type and the provider gets fresh links and the asset id; the provider's
limits and the server's gates count them; a member can't add one; a removed name and a
deleted file are refused privately, and the moderators hear of the deleted file once.
"""

from __future__ import annotations

import aiohttp
import pytest

from bot.simulator.media import MediaRenderer, RenderSpec
from tests.cogs.videoadmin.test_videoadmin_e2e import admin, open_to_everyone, refusal, seen
from tests.support import sample_files

HERO = sample_files.png(1280, 720)


def unsigned(url: str) -> str:
    return url.split("?", 1)[0]


async def status_of(url: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.read()


@pytest.fixture
async def dance() -> bytes:
    """A real 3 s MP4 (the library measures a clip's length with ffmpeg)."""
    renderer = MediaRenderer()
    try:
        return await renderer.video(RenderSpec(320, 180, 12, 3.0, audio=False))
    finally:
        await renderer.close()


async def add_file(emu, name: str, filename: str, data: bytes, **options):
    """``/videoadmin asset add`` with a file, as the moderator; wait for the private answer."""
    upload = emu.attachment(filename, data, **options)
    ix = await admin(emu, "asset add", name=name, file=upload)
    await ix.wait_for(lambda ix: ix.ephemeral_messages and not ix.ephemeral_messages[0].loading,
                      timeout=10, what="the moderator's answer")  # fmt: skip
    return ix


async def stocked(emu, dance: bytes) -> dict[str, object]:
    """The moderator adds Hero (an image), Dance (a video) and Castle (a provider asset)."""
    world = emu.default
    modlog = world.guild.add_text_channel("mod-log")
    await admin(emu, "settings modlog", channel=modlog)
    hero = await add_file(emu, "Hero", "hero.png", HERO, content_type="image/png",
                          width=1280, height=720)  # fmt: skip
    assert "added the asset `Hero` to the library of the server" in seen(hero), seen(hero)
    assert "image `hero.png` kept in" in seen(hero)
    clip = await add_file(emu, "Dance", "dance.mp4", dance, content_type="video/mp4")
    assert "added the asset `Dance`" in seen(clip) and "video `dance.mp4`" in seen(clip)
    castle = await admin(emu, "asset add", name="Castle", asset_id="gmi-asset-42")
    assert "the provider's asset `gmi-asset-42`" in seen(castle)
    kept = {m.attachments[0].filename: m for m in world.channel.messages if m.attachments}
    assert set(kept) == {"hero.png", "dance.mp4"}
    assert kept["hero.png"].attachments[0].bytes == HERO
    assert kept["dance.mp4"].attachments[0].bytes == dance
    assert "Library asset `Hero` (image)" in kept["hero.png"].content
    assert not kept["hero.png"].mentions  # the moderator is named, never pinged
    # The mod-log's own setting, then each asset, in the order they were added (each line
    # is posted after the moderator's answer, which must not let the next change overtake).
    await emu.wait_for(lambda: len(modlog.messages) == 4, what="four mod-log lines")
    lines = [message.content for message in modlog.messages]
    assert "set the mod-log channel" in lines[0]
    for line, name in zip(lines[1:], ["Hero", "Dance", "Castle"], strict=True):
        assert f"added the asset `{name}`" in line
    return {"modlog": modlog, **kept}


async def test_members_pick_assets_by_name_and_the_provider_gets_fresh_links(
    fakecord, video_bot, person, gmi_sim, dance
):
    await video_bot()
    world = fakecord.default
    kept = await stocked(fakecord, dance)
    command = "video generate references"
    choices = await fakecord.autocomplete(world.alice, world.channel, command, focused="asset")
    assert choices == [
        {"name": "Castle (provider asset)", "value": "Castle"},
        {"name": "Dance (video)", "value": "Dance"},
        {"name": "Hero (image)", "value": "Hero"},
    ]
    typed = await fakecord.autocomplete(world.alice, world.channel, command, focused="asset_2",
                                        value="DA", asset="Hero")  # fmt: skip
    assert typed == [{"name": "Dance (video)", "value": "Dance"}]

    # A day later the links of the kept messages have expired; each use asks Discord again.
    first_links = {name: m.attachments[0].url for name, m in kept.items() if name != "modlog"}
    fakecord.clock.advance(25 * 3600)
    assert (await status_of(first_links["hero.png"]))[0] == 404
    alice = person()
    ix = await alice.generate(prompt="the hero dances in the castle", asset="hero",
                              asset_2="Dance", asset_3="castle")  # fmt: skip
    assert not ix.ephemeral_messages, seen(ix)
    status = await alice.status_message(ix)
    await gmi_sim.wait_for_calls("submit")
    payload = gmi_sim.calls("submit")[0].body_json["payload"]
    assert payload["reference_asset_ids"] == ["gmi-asset-42"]
    (image,), (video,) = payload["reference_images"], payload["reference_videos"]
    assert unsigned(image) == unsigned(first_links["hero.png"]) and image != first_links["hero.png"]
    assert unsigned(video) == unsigned(first_links["dance.mp4"])
    assert await status_of(image) == (200, HERO)
    assert await status_of(video) == (200, dance)
    assert "reference_audios" not in payload and "first_frame" not in payload
    await alice.wait_result(status)

    listing = await fakecord.run_command(world.bob, world.channel, "video assets")
    await listing.wait_acknowledged()
    shown = seen(listing)
    assert "**Castle** · provider asset" in shown and "**Dance** · video" in shown
    assert "3.0 s" in shown and "**Hero** · image" in shown and "[file](" in shown


async def test_assets_count_toward_the_reference_limits_and_meet_the_gates(
    fakecord, video_bot, person, gmi_sim, dance
):
    await video_bot()
    await stocked(fakecord, dance)
    alice = person()
    links = " ".join(f"https://example.com/{n}.png" for n in range(9))
    text = refusal(await alice.generate(prompt="x", reference_images=links, asset="Hero"))
    assert "At most 9 reference images are allowed; you gave 10. Remove some." in text
    images = " ".join(f"https://example.com/{n}.png" for n in range(8))
    videos = "https://example.com/a.mp4 https://example.com/b.mp4"
    text = refusal(await alice.generate(prompt="x", reference_images=images, reference_videos=videos,
                                        asset="Hero", asset_2="Dance", asset_3="Castle"))  # fmt: skip
    assert text == "At most 12 references are allowed in all; you gave 13. Remove some."
    text = refusal(await alice.generate(prompt="x", asset="Hero", asset_2="hero"))
    assert "Each asset can be used once in a video: `Hero`" in text

    await admin(fakecord, "limit set", name="reference_videos", value="deny")
    text = refusal(await alice.generate(prompt="x", asset="Dance"))
    assert "Reference videos are not allowed" in text and "(set for the whole server)" in text
    text = refusal(await alice.generate(prompt="x", asset="Hero", asset_2="Dance"))
    assert "Reference videos are not allowed" in text
    assert gmi_sim.calls("submit") == []
    assert not [m for m in alice.channel.messages if m.author.id != fakecord.bot_user.id
                or not m.attachments]  # fmt: skip
    status = await alice.status_message(await alice.generate(prompt="ok", asset="Hero"))
    await alice.wait_result(status)
    (submit,) = gmi_sim.calls("submit")
    assert len(submit.body_json["payload"]["reference_images"]) == 1


async def test_only_moderators_add_or_remove_and_removed_names_are_refused(
    fakecord, video_bot, person, gmi_sim, dance
):
    await video_bot()
    world = fakecord.default
    kept = await stocked(fakecord, dance)
    open_to_everyone(fakecord)
    upload = fakecord.attachment("mine.png", HERO, content_type="image/png")
    ix = await admin(fakecord, "asset add", as_=world.alice, name="Mine", file=upload)
    assert "Only moderators can do this" in refusal(ix)
    ix = await admin(fakecord, "asset remove", as_=world.alice, name="Hero")
    assert "Only moderators can do this" in refusal(ix)
    bob = await fakecord.autocomplete(world.alice, world.channel, "videoadmin asset remove",
                                      focused="name")  # fmt: skip
    assert bob == []
    ix = await admin(fakecord, "asset add", name="hero", asset_id="other")
    assert "already has an asset called `hero`" in refusal(ix)
    posted = len(world.channel.messages)
    ix = await add_file(fakecord, "Tiny", "tiny.png", sample_files.png(100, 100),
                        content_type="image/png", width=1280, height=720)  # fmt: skip
    assert "`tiny.png` is 100x100 px; each side must be 300 to 6000 px" in refusal(ix)
    ix = await add_file(fakecord, "Blip", "blip.wav", sample_files.wav(), content_type="audio/wav")
    assert "a reference clip must last 2 to 15 seconds" in refusal(ix)
    assert len(world.channel.messages) == posted  # nothing kept

    ix = await admin(fakecord, "asset remove", name="Castle")
    assert "removed the asset `Castle` from the library of the server" in seen(ix)
    ix = await admin(fakecord, "asset remove", name="hero")
    assert "removed the asset `Hero`" in seen(ix)
    await fakecord.wait_for(lambda: kept["hero.png"].deleted, what="the kept file deleted")
    choices = await fakecord.autocomplete(world.alice, world.channel,
                                          "video generate references", focused="asset")  # fmt: skip
    assert choices == [{"name": "Dance (video)", "value": "Dance"}]
    alice = person()
    text = refusal(await alice.generate(prompt="x", asset="Dance", asset_2="Castle"))
    assert "This server's library has no asset called `Castle`" in text
    assert "`/video assets`" in text
    assert gmi_sim.calls("submit") == []
    ix = await admin(fakecord, "asset list")
    assert "**Dance** · video" in seen(ix) and "Castle" not in seen(ix)


async def test_a_deleted_file_is_refused_and_the_moderators_are_told_once(
    fakecord, video_bot, person, gmi_sim, dance
):
    await video_bot()
    world = fakecord.default
    kept = await stocked(fakecord, dance)
    modlog = kept["modlog"]
    fakecord.delete(world.mod, kept["dance.mp4"])
    fakecord.expect_violation(10008)  # the bot asks for the message it kept, and is told
    alice = person()
    for _ in range(2):
        text = refusal(await alice.generate(prompt="x", asset="Hero", asset_2="Dance"))
        assert "The asset `Dance` can't be used any more: its file is gone from Discord" in text
        assert "The moderators have been told" in text
    await fakecord.wait_for(lambda: len(modlog.messages) == 5, what="the mod-log note")
    note = modlog.messages[-1].content
    assert "library asset `Dance` can't be used any more" in note
    assert f"/{kept['dance.mp4'].id}" in note and "/videoadmin asset remove" in note
    assert not modlog.messages[-1].mentions
    choices = await fakecord.autocomplete(world.alice, world.channel,
                                          "video generate references", focused="asset", value="d")  # fmt: skip
    assert choices == [{"name": "Dance (video, file missing)", "value": "Dance"}]
    assert gmi_sim.calls("submit") == []
    status = await alice.status_message(await alice.generate(prompt="still fine", asset="Hero"))
    await alice.wait_result(status)
    assert len(modlog.messages) == 5


async def test_the_library_survives_a_restart(fakecord, video_bot, person, gmi_sim, dance):
    first = await video_bot()
    await stocked(fakecord, dance)
    await first.close()
    await video_bot()
    choices = await fakecord.autocomplete(fakecord.default.alice, fakecord.default.channel,
                                          "video generate references", focused="asset")  # fmt: skip
    assert [c["value"] for c in choices] == ["Castle", "Dance", "Hero"]
    alice = person()
    status = await alice.status_message(await alice.generate(prompt="again", asset="Dance"))
    await alice.wait_result(status)
    (submit,) = gmi_sim.calls("submit")
    (video,) = submit.body_json["payload"]["reference_videos"]
    assert await status_of(video) == (200, dance)
