"""Building on each other's videos, end to end: the real bot, the Discord emulator, the GMI
simulator. Continue, Animate and Use as reference on anyone's message, Stitch, the Remix
form, results in threads and in the gallery, and the credits a member reads.

Jobs of one test are spread over channels where Discord's per-channel limits are not what
the test is about, so no test waits out a rate limit it does not need.
"""

from __future__ import annotations

import aiohttp
import pytest

from bot.jobs.lifecycle import JobOutcome
from bot.jobs.model import JobOrigin
from bot.media import last_frame
from bot.simulator import VideoSpec
from tests.support import sample_files
from tests.support.media import decode, rgb_pixels
from tests.support.video import final_status, job_when


def unsigned(url: str) -> str:
    return url.split("?", 1)[0]


def field(message, name: str) -> str:
    (value,) = [f["value"] for f in message.embeds[0]["fields"] if f["name"] == name]
    return value


async def fetch(url: str) -> bytes:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200, f"{url} answered {response.status}"
        return await response.read()


async def made(person, **options):
    """``person`` generates a video; returns (status message, result reply)."""
    status = await person.status_message(await person.generate(**options))
    return status, await person.wait_result(status)


async def submitted(fakecord, member, opened, values):
    """Submit the form ``opened`` showed; returns the new job's status message."""
    await opened.wait_acknowledged()
    assert opened.modal is not None, opened.ephemeral_messages
    ix = await fakecord.submit_modal(member, opened, values)
    return await ix.wait_response_message()


async def test_continue_starts_from_the_exact_last_frame_of_the_video(
    fakecord, video_bot, person, gmi_sim, ffmpeg
):
    bot = await video_bot()
    world = fakecord.default
    alice, bob = person(), person(world.bob)
    _, first = await made(alice, prompt="a paper boat on a puddle", duration=5)

    opened = await fakecord.click(world.bob, first, label="Continue")
    await opened.wait_acknowledged()
    prompt_input = opened.modal["components"][0]["component"]
    assert prompt_input["value"] == "a paper boat on a puddle"  # the previous prompt, to edit
    gmi_sim.script_next(hold=True)
    status = await submitted(fakecord, world.bob, opened,
                             {"Prompt": "the boat sails into a storm drain", "Duration": "6"})
    submit = (await gmi_sim.wait_for_calls("submit", 2))[-1]
    payload = submit.body_json["payload"]
    assert payload["prompt"] == "the boat sails into a storm drain" and payload["duration"] == 6
    assert payload["resolution"] == "720p" and isinstance(payload["seed"], int)

    # The frame is public on Discord's CDN (the status message's attachment) while it runs...
    (frame,) = status.attachments
    assert unsigned(payload["first_frame"]) == unsigned(frame.url)
    image = await fetch(payload["first_frame"])
    # ...and it is the previous video's last frame, as a member's player would show it.
    (video,) = first.attachments
    expected = await rgb_pixels(ffmpeg, await last_frame(ffmpeg, video.data))
    got = await rgb_pixels(ffmpeg, image)
    assert len(got) == len(expected)
    assert sum(abs(a - b) for a, b in zip(got, expected, strict=True)) / len(got) < 2.0

    gmi_sim.release(submit.request_id)
    second = await bob.wait_result(status)
    assert second.mentions == [world.bob.id]  # only the clicker is pinged...
    assert field(second, "Builds on") == f"continues #1 by <@{world.alice.id}>"  # ...alice credited
    job = await job_when(bot, 2, lambda j: j.is_delivered)
    assert (job.user_id, job.origin, job.parent_job_id) == (world.bob.id, JobOrigin.CONTINUE, 1)
    line = await final_status(fakecord, status)  # the frame goes with the embed
    assert line.startswith("✅ **#2** by") and line.endswith(f"/{second.id}")


async def test_once_the_providers_link_is_dead_the_frame_comes_from_the_posted_video(
    fakecord, video_bot, person, gmi_sim, ffmpeg
):
    await video_bot()
    world = fakecord.default
    _, first = await made(person(), prompt="a kite")
    gmi_sim.fault("media", 404, times=None)  # a day later: the provider's link is gone
    gmi_sim.script_next(hold=True)
    status = await submitted(fakecord, world.bob, await fakecord.click(world.bob, first, label="Continue"),
                             {"Prompt": "the kite string snaps"})
    submit = (await gmi_sim.wait_for_calls("submit", 2))[-1]
    image = await fetch(submit.body_json["payload"]["first_frame"])
    posted = await last_frame(ffmpeg, first.attachments[0].data)  # what Discord still has
    assert await rgb_pixels(ffmpeg, image) == await rgb_pixels(ffmpeg, posted)
    assert status.attachments  # published on the new job's status message as before


async def test_a_continuation_of_a_continuation_can_be_rerolled_from_the_same_frame(
    fakecord, video_bot, person, gmi_sim
):
    bot = await video_bot()
    world = fakecord.default
    alice = person()
    _, first = await made(alice, prompt="dawn")
    status = await submitted(fakecord, world.bob, await fakecord.click(world.bob, first, label="Continue"),
                             {"Prompt": "noon"})
    second = await person(world.bob).wait_result(status)
    other = world.guild.add_text_channel("rerolls")  # its own channel: its own rate limits
    carol = person(world.mod, other)
    again = await carol.status_message(await fakecord.click(world.mod, second, label="Re-roll"))
    third = await job_when(bot, 3, lambda j: j.is_delivered)
    assert (third.origin, third.parent_job_id, third.first_frame_from) == (JobOrigin.REROLL, 2, 1)
    frames = [c.body_json["payload"]["first_frame"] for c in gmi_sim.calls("submit")[1:]]
    assert unsigned(frames[1]) != unsigned(frames[0])  # taken afresh from #1, not a dead link
    seeds = [c.body_json["payload"]["seed"] for c in gmi_sim.calls("submit")[1:]]
    assert seeds[0] != seeds[1]
    assert "is ready" in await final_status(fakecord, again)


async def test_animate_a_members_image_from_anyones_message(fakecord, video_bot, person, gmi_sim):
    bot = await video_bot()
    world = fakecord.default
    photo = fakecord.attachment("cat.png", sample_files.png(1024, 768), content_type="image/png",
                                width=1024, height=768)
    posted = await fakecord.say(world.bob, world.channel, "my cat", attachments=[photo])

    opened = await fakecord.run_message_command(world.alice, posted, "Animate with Seedance")
    status = await submitted(fakecord, world.alice, opened,
                             {"Prompt": "the cat yawns", "Resolution": ["480p"], "Seed": "7"})
    result = await person().wait_result(status)
    payload = gmi_sim.calls("submit")[0].body_json["payload"]
    assert unsigned(payload["first_frame"]) == unsigned(posted.attachments[0].url)
    assert (payload["prompt"], payload["resolution"], payload["ratio"], payload["seed"]) == (
        "the cat yawns", "480p", "adaptive", 7)
    assert result.mentions == [world.alice.id]
    assert f"by <@{world.bob.id}>" in field(result, "Builds on")
    assert f"/{world.channel.id}/{posted.id}" in field(result, "Builds on")  # a link to it
    job = await job_when(bot, 1, lambda j: j.is_delivered)
    assert (job.origin, job.source_user_id, job.source_message_id) == (
        JobOrigin.ANIMATE, world.bob.id, posted.id)


@pytest.mark.parametrize(
    ("filename", "data", "content_type", "expected"),
    [
        ("tiny.png", sample_files.png(100, 100), "image/png", "each side must be 300 to 6000 px"),
        ("fake.png", b"I am a text file", "image/png", "is not a real image file"),
        ("clip.mp4", sample_files.mp4(), "video/mp4", "no image to animate"),
    ],
)
async def test_animate_refuses_what_the_provider_would_in_generates_words(
    fakecord, video_bot, gmi_sim, filename, data, content_type, expected
):
    await video_bot()
    world = fakecord.default
    file = fakecord.attachment(filename, data, content_type=content_type)
    posted = await fakecord.say(world.bob, world.channel, "look", attachments=[file])
    ix = await fakecord.run_message_command(world.alice, posted, "Animate with Seedance")
    await ix.wait_acknowledged()
    assert ix.modal is None  # refused before any prompt is asked
    (reply,) = ix.ephemeral_messages
    assert expected in reply.content
    assert gmi_sim.log == []


async def test_use_as_reference_hands_over_every_file_of_the_message(
    fakecord, video_bot, person, gmi_sim
):
    await video_bot()
    world = fakecord.default
    files = [
        fakecord.attachment("a.png", sample_files.png(), content_type="image/png"),
        fakecord.attachment("b.webp", sample_files.webp(), content_type="image/webp"),
        fakecord.attachment("walk.mp4", sample_files.mp4(), content_type="video/mp4"),
        fakecord.attachment("beat.mp3", sample_files.mp3(), content_type="audio/mpeg"),
    ]
    posted = await fakecord.say(world.bob, world.channel, "moodboard", attachments=files)
    opened = await fakecord.run_message_command(world.alice, posted, "Use as reference")
    status = await submitted(fakecord, world.alice, opened, {"Prompt": "in this style"})
    result = await person().wait_result(status)
    payload = gmi_sim.calls("submit")[0].body_json["payload"]
    urls = [unsigned(a.url) for a in posted.attachments]
    assert [unsigned(u) for u in payload["reference_images"]] == urls[:2]
    assert [unsigned(u) for u in payload["reference_videos"]] == [urls[2]]
    assert [unsigned(u) for u in payload["reference_audios"]] == [urls[3]]
    assert "first_frame" not in payload
    assert "uses the files of" in field(result, "Builds on")


async def test_use_as_reference_on_a_result_credits_the_job_behind_it(
    fakecord, video_bot, person, gmi_sim
):
    bot = await video_bot()
    world = fakecord.default
    _, first = await made(person(), prompt="a dancer")
    opened = await fakecord.run_message_command(world.bob, first, "Use as reference")
    status = await submitted(fakecord, world.bob, opened, {"Prompt": "the same dance, in clay"})
    result = await person(world.bob).wait_result(status)
    payload = gmi_sim.calls("submit")[1].body_json["payload"]
    assert [unsigned(u) for u in payload["reference_videos"]] == [unsigned(first.attachments[0].url)]
    assert field(result, "Builds on") == (
        f"uses the files of #1 by <@{world.alice.id}> as references")
    job = await job_when(bot, 2, lambda j: j.is_delivered)
    assert (job.origin, job.parent_job_id, job.source_user_id) == (JobOrigin.REFERENCE, 1, None)


async def test_stitch_three_clips_picked_by_a_member(fakecord, video_bot, person, gmi_sim, ffmpeg):
    bot = await video_bot()
    world = fakecord.default
    makers = [world.alice, world.bob, world.mod]
    for index, (member, seconds) in enumerate(zip(makers, (1.0, 1.5, 2.0), strict=True)):
        gmi_sim.script_next(video=VideoSpec(160, 90, duration=seconds, fps=12))
        here = world.channel if index == 0 else world.guild.add_text_channel(f"clip-{index}")
        await made(person(member, here), prompt=f"shot {index + 1}")
    films = world.guild.add_text_channel("films")
    # The last clip settling wakes the stitch, which can be before the stitch's own answer
    # is recorded: the bot then asks Discord for that answer, and may hear "not yet"
    # (10008), which keeps the stitch waiting for it (`JobSteps._status_message_found`).
    fakecord.expect_violation(10008)
    ix = await fakecord.run_command(world.owner, films, "video stitch", clips="#1 #2, #3")
    status = await ix.wait_response_message()
    film = await person(world.owner, films).wait_result(status)

    (video,) = film.attachments
    played = await decode(ffmpeg, video.data)
    assert played.errors == [] and played.seconds == pytest.approx(4.5, abs=0.1)
    assert film.mentions == [world.owner.id]
    assert film.embeds[0]["title"] == "🎞️ #4 · A film of 3 clips"
    assert field(film, "Settings") == "3 clips · 4s · 720p"  # the joined video's own length
    description = film.embeds[0]["description"]
    assert description == " → ".join(
        f"#{n} by <@{m.id}>" for n, m in zip((1, 2, 3), makers, strict=True))
    assert len(gmi_sim.calls("submit")) == 3  # no provider call for the film...
    job = await job_when(bot, 4, lambda j: j.is_delivered)
    assert job.outcome is JobOutcome.SUCCEEDED and job.estimated_cost == 0
    usage = await bot.services.ledger.usage(world.guild.id, world.owner.id, 0, 2**40,
                                            refunds_enabled=True)
    assert usage.generations == 0  # ...and no quota
    assert [b["label"] for b in film.buttons()] == ["Continue", "Delete"]
    ix = await fakecord.run_command(world.owner, films, "video history")
    await ix.wait_acknowledged()
    (line,) = ix.ephemeral_messages[0].embeds[0]["description"].splitlines()
    assert line.lower().count("stitch of #1, #2, #3") == 1, line  # said once


async def test_stitch_on_a_result_joins_the_chain_of_continuations(
    fakecord, video_bot, person, gmi_sim, ffmpeg
):
    await video_bot()
    world = fakecord.default
    _, first = await made(person(), prompt="a seed")
    status = await submitted(fakecord, world.bob, await fakecord.click(world.bob, first, label="Continue"),
                             {"Prompt": "a sprout"})
    second = await person(world.bob).wait_result(status)
    films = world.guild.add_text_channel("films")
    carol = person(world.mod, films)
    # Stitch on the first clip: it continues nothing, so there is nothing to join it to.
    alone = await fakecord.click(world.mod, first, label="Stitch")
    await alone.wait_acknowledged()
    assert "nothing to stitch it to" in alone.ephemeral_messages[0].content
    ix = await fakecord.click(world.mod, second, label="Stitch")
    film_status = await ix.wait_response_message()
    film = await person(world.mod, second.channel).wait_result(film_status)
    played = await decode(ffmpeg, film.attachments[0].data)
    assert played.seconds == pytest.approx(2.0, abs=0.1)  # two 1 s clips
    assert film.embeds[0]["description"] == (
        f"#1 by <@{world.alice.id}> → #2 by <@{world.bob.id}>")
    assert carol  # the film is the clicker's, posted where they clicked
    assert film.mentions == [world.mod.id]


async def test_remix_edits_the_prompt_and_the_main_settings(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    world = fakecord.default
    _, first = await made(person(), prompt="a lighthouse", duration=5, seed=11)
    opened = await fakecord.click(world.bob, first, label="Remix")
    await opened.wait_acknowledged()
    inputs = {row["label"]: row["component"] for row in opened.modal["components"]}
    assert inputs["Prompt"]["value"] == "a lighthouse" and inputs["Duration"]["value"] == "5"
    assert inputs["Seed"]["value"] == "11"
    assert [o["label"] for o in inputs["Resolution"]["options"] if o.get("default")] == ["720p"]
    status = await submitted(fakecord, world.bob, opened, {
        "Prompt": "a lighthouse at night", "Duration": "8", "Resolution": ["480p"],
        "Aspect ratio": ["9:16"], "Seed": "42"})
    result = await person(world.bob).wait_result(status)
    payload = gmi_sim.calls("submit")[1].body_json["payload"]
    assert (payload["prompt"], payload["duration"], payload["resolution"], payload["ratio"],
            payload["seed"]) == ("a lighthouse at night", 8, "480p", "9:16", 42)
    assert "seed 42" in field(result, "Settings")
    assert field(result, "Builds on") == f"remix of #1 by <@{world.alice.id}>"


async def test_remix_refuses_a_setting_it_cannot_read(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    world = fakecord.default
    _, first = await made(person(), prompt="x")
    opened = await fakecord.click(world.bob, first, label="Remix")
    await opened.wait_acknowledged()
    ix = await fakecord.submit_modal(world.bob, opened, {"Duration": "99"})
    await ix.wait_acknowledged()
    assert "4 to 15" in ix.ephemeral_messages[0].content
    assert len(gmi_sim.calls("submit")) == 1


async def test_reroll_keeps_every_setting_but_the_seed_and_shows_the_seed(
    fakecord, video_bot, person, gmi_sim
):
    await video_bot()
    world = fakecord.default
    _, first = await made(person(), prompt="waves", duration=7, ratio="1:1", generate_audio=False)
    seed = gmi_sim.calls("submit")[0].body_json["payload"]["seed"]  # picked, since none was given
    assert f"seed {seed}" in field(first, "Settings")
    status = await person(world.bob).status_message(await fakecord.click(world.bob, first, label="Re-roll"))
    await person(world.bob).wait_result(status)
    before, after = (c.body_json["payload"] for c in gmi_sim.calls("submit"))
    assert after.pop("seed") != before.pop("seed")
    assert after == before


async def test_results_go_in_a_thread_started_from_the_status_message(
    fakecord, video_bot, person, gmi_sim
):
    await video_bot()
    world = fakecord.default
    ix = await fakecord.run_command(world.mod, world.channel, "videoadmin settings results",
                                    where="thread")
    await ix.wait_acknowledged()
    assert "in a thread per job" in ix.ephemeral_messages[0].embeds[0]["description"]
    alice = person()
    status = await alice.status_message(await alice.generate(prompt="a comet"))
    await fakecord.wait_for(lambda: status.thread is not None and status.thread.messages, 10,
                            "the result in the job's thread")
    thread = status.thread
    assert thread.id == status.id and thread.name == "#1 a comet"
    (result,) = thread.messages
    assert result.attachments and result.mentions == [world.alice.id]
    assert alice.replies_to(status) == []  # the channel keeps only the status line
    line = await final_status(fakecord, status)
    assert "in its thread" in line and line.endswith(f"/{thread.id}/{result.id}")
    assert world.channel.messages == [status]


async def test_a_thread_already_started_is_found_not_started_twice(
    fakecord, video_bot, person, gmi_sim
):
    """As after a crash between starting the thread and posting in it."""
    bot = await video_bot()
    world = fakecord.default
    await bot.services.server_settings.set_results_in(moderator(world), "thread")
    alice = person()
    gmi_sim.script_next(hold=True)
    status = await alice.status_message(await alice.generate(prompt="a comet"))
    world.channel.start_thread(status, "made earlier", owner=fakecord.bot_user)
    fakecord.expect_violation(160004)  # Discord refuses the second thread: the first is used
    await gmi_sim.wait_for_calls("submit")
    gmi_sim.release(next(iter(gmi_sim.requests)))
    await fakecord.wait_for(lambda: status.thread.messages, 10, "the result in the thread")
    assert len(world.channel.threads) == 2  # the seeded one, and this job's
    assert "in its thread" in await final_status(fakecord, status)


async def test_the_gallery_gets_a_copy_with_credits_and_buttons_once(
    fakecord, video_bot, person, gmi_sim
):
    bot = await video_bot()
    world = fakecord.default
    gallery = world.guild.add_text_channel("gallery")
    ix = await fakecord.run_command(world.mod, world.channel, "videoadmin settings gallery",
                                    channel=gallery)
    await ix.wait_acknowledged()
    _, result = await made(person(), prompt="fireworks")
    await fakecord.wait_for(lambda: gallery.messages, 5, "the gallery copy")
    (copy,) = gallery.messages
    assert copy.mentions == []  # credits ping no one
    assert copy.content.startswith(f"🖼️ **#1**: a video by <@{world.alice.id}>, from https://")
    assert copy.attachments[0].data == result.attachments[0].data
    assert [b["label"] for b in copy.buttons()] == ["Re-roll", "Remix", "Continue", "Stitch", "Delete"]
    job = await job_when(bot, 1, lambda j: j.is_delivered)
    assert job.gallery_message_id == copy.id

    async with bot.services.db.transaction() as conn:  # as a crash before the copy was recorded
        await conn.execute(
            "UPDATE jobs SET state = 'posting', gallery_message_id = NULL, next_check_at = ? "
            "WHERE id = 1", (bot.clock(),))
    bot.dispatch("video_job_due")
    again = await job_when(bot, 1, lambda j: j.is_delivered)
    assert again.gallery_message_id == copy.id and gallery.messages == [copy]


async def test_a_job_run_in_the_gallery_is_not_copied_to_it(fakecord, video_bot, person, gmi_sim):
    bot = await video_bot()
    world = fakecord.default
    await bot.services.server_settings.set_gallery_channel(moderator(world), world.channel.id)
    await made(person(), prompt="x")
    assert (await job_when(bot, 1, lambda j: j.is_delivered)).gallery_message_id is None
    assert len(world.channel.messages) == 2


async def test_thread_and_gallery_permissions_are_checked_and_named(fakecord, video_bot, gmi_sim):
    bot = await video_bot()
    world = fakecord.default
    modlog = world.guild.add_text_channel("mod-log")
    await bot.services.server_settings.set_mod_log_channel(moderator(world), modlog.id)
    world.channel.set_bot_permissions(create_public_threads=False)
    ix = await fakecord.run_command(world.mod, world.channel, "videoadmin settings results",
                                    where="thread")
    await ix.wait_acknowledged()
    text = str(ix.ephemeral_messages[0].embeds[0])
    assert f"<#{world.channel.id}> (missing create_public_threads)" in text
    gallery = world.guild.add_text_channel("gallery")
    gallery.set_bot_permissions(attach_files=False)
    ix = await fakecord.run_command(world.mod, world.channel, "videoadmin settings gallery",
                                    channel=gallery)
    await ix.wait_acknowledged()
    assert "give me attach_files" in str(ix.ephemeral_messages[0].embeds[0])
    await fakecord.wait_for(lambda: len(modlog.messages) == 2, 5, "both changes in the mod-log")
    assert "set the gallery channel of the server" in modlog.messages[-1].content


async def test_delete_is_for_the_requester_and_moderators(fakecord, video_bot, person, gmi_sim):
    bot = await video_bot()
    world = fakecord.default
    status, result = await made(person(), prompt="x")
    await job_when(bot, 1, lambda j: j.is_delivered)
    ix = await fakecord.click(world.bob, result, label="Delete")
    await ix.wait_acknowledged()
    assert "Only the member who asked for this job" in ix.ephemeral_messages[0].content
    ix = await fakecord.click(world.alice, result, label="Delete")
    await ix.wait_acknowledged()
    assert ix.ephemeral_messages[0].content == "Deleted #1 and its messages."
    await fakecord.wait_for(lambda: world.channel.messages == [], 5, "its messages gone")
    assert await bot.services.jobs.get(1) is None


async def test_status_and_history_show_the_chain(fakecord, video_bot, person, gmi_sim):
    bot = await video_bot()
    world = fakecord.default
    _, first = await made(person(), prompt="act one")
    status = await submitted(fakecord, world.bob, await fakecord.click(world.bob, first, label="Continue"),
                             {"Prompt": "act two"})
    await person(world.bob).wait_result(status)
    await job_when(bot, 2, lambda j: j.is_delivered)
    ix = await fakecord.run_command(world.bob, world.channel, "video status", request_id="#2")
    await ix.wait_acknowledged()
    embed = ix.ephemeral_messages[0].embeds[0]
    chain = [f["value"] for f in embed["fields"] if f["name"] == "Chain"]
    assert chain == [f"#1 by <@{world.alice.id}> (new) → #2 by <@{world.bob.id}> (continuation)"]
    ix = await fakecord.run_command(world.alice, world.channel, "video status", request_id="#1")
    await ix.wait_acknowledged()
    built = [f["value"] for f in ix.ephemeral_messages[0].embeds[0]["fields"]
             if f["name"] == "Built on by"]
    assert built == [f"#2 by <@{world.bob.id}> (continuation)"]
    ix = await fakecord.run_command(world.bob, world.channel, "video history")
    await ix.wait_acknowledged()
    assert "continues #1" in ix.ephemeral_messages[0].embeds[0]["description"]


def moderator(world):
    from bot.moderation.requester import Requester

    return Requester(world.mod.id, world.guild.id, world.channel.id, can_manage_guild=True)
