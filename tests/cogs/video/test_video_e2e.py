"""/video end to end: the real bot, the Discord emulator, the GMI simulator.

Each test reads what a member would see: the status message, the reply with the video,
what only they saw, and what the provider received.
"""

from __future__ import annotations

import re

import pytest

from bot.clock import ManualClock
from bot.jobs.lifecycle import JobOutcome, JobState
from bot.jobs.model import NewJob
from bot.moderation.requester import Requester
from bot.params import GenerationRequest
from bot.simulator import VideoSpec, mp4_duration
from tests.support import sample_files
from tests.support.media import decode
from tests.support.video import final_status, job_when


def unsigned(url: str) -> str:
    """A CDN link without its signature (Discord signs each copy of a link afresh)."""
    return url.split("?", 1)[0]


def image(emu, name="frame.png", width=1280, height=720):
    return emu.attachment(name, sample_files.png(width, height), content_type="image/png",
                          width=width, height=height)


async def test_text_to_video_posts_the_mp4_as_a_reply(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    alice = person()
    ix = await alice.generate(prompt="a red fox in the snow @everyone", duration=6)
    status = await alice.status_message(ix)
    assert not status.ephemeral
    embed = status.embeds[0]
    assert "a red fox in the snow" in embed["description"]
    assert any(f"<@{alice.member.id}>" in f["value"] for f in embed["fields"])
    assert any("6s" in f["value"] for f in embed["fields"])

    result = await alice.wait_result(status)
    assert result.mentions == [alice.member.id]
    assert not result.mention_everyone and not result.mention_roles
    (video,) = result.attachments
    assert video.filename.endswith(".mp4") and video.data[4:8] == b"ftyp"
    assert mp4_duration(video.data) > 0  # a whole, playable file, not a cut-off download
    assert len(gmi_sim.calls("media")) == 1  # fetched once from the provider's result link
    (submit,) = gmi_sim.calls("submit")
    assert submit.body_json["payload"]["duration"] == 6
    # the status message followed the job to its end, and now only points at the result
    line = await final_status(fakecord, status)
    assert line.startswith("✅ **#1** by") and line.endswith(f"/{result.id}")
    assert status.mentions == []  # the pointer pings no one


async def test_first_and_last_frame_from_attachments_reach_the_api(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    alice = person()
    first, last = image(fakecord, "first.png"), image(fakecord, "last.png")
    ix = await alice.generate(prompt="morph", first_frame=first, last_frame=last)
    await alice.wait_result(await alice.status_message(ix))
    payload = gmi_sim.calls("submit")[0].body_json["payload"]
    assert unsigned(payload["first_frame"]) == unsigned(first.url)
    assert unsigned(payload["last_frame"]) == unsigned(last.url)


async def test_reference_mode_with_several_files(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    alice = person()
    a, b = image(fakecord, "a.png"), image(fakecord, "b.png")
    clip = fakecord.attachment("clip.mp4", sample_files.mp4(), content_type="video/mp4")
    song = fakecord.attachment("song.mp3", sample_files.mp3(), content_type="audio/mpeg")
    ix = await alice.generate(
        prompt="in this style", reference_image_1=a, reference_image_2=b, reference_video_1=clip,
        reference_audio_1=song, reference_images="https://example.com/c.webp",
        reference_asset_ids="asset-1 asset-2",
    )
    await alice.wait_result(await alice.status_message(ix))
    payload = gmi_sim.calls("submit")[0].body_json["payload"]
    assert [unsigned(u) for u in payload["reference_images"]] == [
        unsigned(a.url), unsigned(b.url), "https://example.com/c.webp"
    ]
    assert [unsigned(u) for u in payload["reference_videos"]] == [unsigned(clip.url)]
    assert [unsigned(u) for u in payload["reference_audios"]] == [unsigned(song.url)]
    assert payload["reference_asset_ids"] == ["asset-1", "asset-2"]


async def test_invalid_combinations_are_refused_privately_with_no_api_call(fakecord, video_bot, person, gmi_sim):
    bot = await video_bot()
    alice = person()
    cases = [
        (dict(last_frame=image(fakecord)), "attach it as `first_frame`"),
        (dict(reference_audio_1=fakecord.attachment("a.mp3", sample_files.mp3(), content_type="audio/mpeg")),
         "needs at least one reference image or video"),
        (dict(first_frame=image(fakecord, "tiny.png", 100, 100)), "300 to 6000 px"),
        (dict(first_frame=fakecord.attachment("x.gif", b"GIF89a", content_type="image/gif")),
         "not a supported image"),
        (dict(first_frame_url="ftp://example.com/a.png"), "not an http(s) link"),
        (dict(first_frame=image(fakecord), first_frame_url="https://example.com/a.png"), "not both"),
    ]
    for options, expected in cases:
        ix = await alice.generate(prompt="x", **options)
        (reply,) = ix.ephemeral_messages
        assert expected in reply.content, (options, reply.content)
    for mode, expected in (("frames", "attach it as `first_frame`"), ("references", "at least one reference")):
        ix = await fakecord.run_command(alice.member, alice.channel, f"video generate {mode}", prompt="x")
        await ix.wait_acknowledged()
        assert expected in ix.ephemeral_messages[0].content
        assert "`/video generate text`" in ix.ephemeral_messages[0].content
    assert gmi_sim.log == []
    assert await bot.services.jobs.count_for_user(alice.member.id, fakecord.default.guild.id) == 0
    assert alice.channel.messages == []


async def test_prompt_over_the_cap_is_refused(fakecord, video_bot, person, gmi_sim):
    await video_bot(prompt_max_chars=20)
    ix = await person().generate(prompt="a" * 21)
    assert "limit here is 20" in ix.ephemeral_messages[0].content
    assert gmi_sim.log == []


async def test_a_value_the_provider_does_not_list_is_refused_before_spending(
    fakecord, video_bot, person, gmi_sim
):
    gmi_sim.reject_1080p = True  # the model detail lists only 480p and 720p
    bot = await video_bot()  # which waits for the start-up check
    alice = person()
    ix = await alice.generate(prompt="a heron", resolution="1080p")
    (refusal,) = ix.ephemeral_messages
    assert "doesn't offer the resolution `1080p`; pick one of 480p, 720p" in refusal.content
    assert gmi_sim.calls("submit") == [] and alice.channel.messages == []
    assert await bot.services.jobs.get(1) is None

    ix = await fakecord.run_command(alice.member, alice.channel, "video info")
    fields = {f["name"]: f["value"] for f in (await ix.wait_response_message()).embeds[0]["fields"]}
    assert fields["Resolutions"] == "480p, **720p** (default)"
    assert "1080p" not in fields["Cost"]


async def test_provider_refusal_is_shown_in_status_and_reply(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    gmi_sim.reject_1080p = True
    alice = person()
    ix = await alice.generate(prompt="x", resolution="1080p")
    status = await alice.status_message(ix)
    result = await alice.wait_result(status)
    assert "failed" in result.content and "1080p" in result.content
    assert "failed" in await final_status(fakecord, status)
    assert any("1080p" in f["value"] for f in result.embeds[0]["fields"] if f["name"] == "Reason")


async def test_failed_generation_reason_is_cleaned(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    gmi_sim.script_next(
        fail_reason="Moderation blocked it, see https://storage.example/x?token=abcdef123456 for details",
        reason_in="error",
    )
    alice = person()
    result = await alice.wait_result(await alice.status_message(await alice.generate(prompt="x")))
    assert "Moderation blocked it" in result.content
    assert "token=abcdef123456" not in result.content


async def test_provider_auth_failure_tells_the_member_nothing_secret(fakecord, video_bot, person, gmi_sim):
    await video_bot(gmi_api_key="wrong-key-0123456789")  # found at start: jobs are refused
    (reply,) = (await person().generate(prompt="x")).ephemeral_messages
    assert "not available right now" in reply.content
    assert "wrong-key-0123456789" not in reply.content


async def test_rate_limits_and_server_errors_are_retried(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    gmi_sim.fault("submit", 429, retry_after=0.01)
    gmi_sim.fault("get", 503)
    gmi_sim.fault("get", 500)
    alice = person()
    result = await alice.wait_result(await alice.status_message(await alice.generate(prompt="x")))
    assert result.attachments, result.content
    assert len(gmi_sim.requests) == 1


async def test_cancel_button_stops_the_job(fakecord, video_bot, person, gmi_sim):
    bot = await video_bot()
    gmi_sim.script_next(hold=True)
    alice = person()
    status = await alice.status_message(await alice.generate(prompt="x"))
    await gmi_sim.wait_for_calls("submit")
    # someone else may not cancel it
    bob_click = await fakecord.click(fakecord.default.bob, status, label="Cancel")
    await bob_click.wait_acknowledged()
    assert "Only the member who asked for this job" in bob_click.ephemeral_messages[0].content
    click = await fakecord.click(alice.member, status, label="Cancel")
    await click.wait_acknowledged()
    result = await alice.wait_result(status)
    assert result.content == f"<@{alice.member.id}> cancelled this video generation."
    assert result.mentions == []  # she knows: no ping for her own click
    job = await job_when(bot, 1, lambda j: j.is_delivered)
    assert job.outcome is JobOutcome.CANCELLED and job.state is JobState.DELIVERED
    assert len(gmi_sim.requests) == 1


async def test_a_moderator_cancelling_a_job_pings_its_requester(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    gmi_sim.script_next(hold=True)
    alice = person()
    status = await alice.status_message(await alice.generate(prompt="x"))
    await gmi_sim.wait_for_calls("submit")
    click = await fakecord.click(fakecord.default.mod, status, label="Cancel")
    await click.wait_acknowledged()
    result = await alice.wait_result(status)
    assert result.content == f"<@{alice.member.id}> the video generation was cancelled."
    assert result.mentions == [alice.member.id]
    reason = [f["value"] for f in result.embeds[0]["fields"] if f["name"] == "Reason"]
    assert reason == [f"Cancelled by <@{fakecord.default.mod.id}>."]


async def test_timed_out_job_is_reported(fakecord, video_bot, person, gmi_sim):
    await video_bot(job_deadline_seconds=1.0)
    gmi_sim.script_next(hold=True)
    alice = person()
    result = await alice.wait_result(await alice.status_message(await alice.generate(prompt="x")))
    assert "timed out" in result.content


async def test_a_15s_1080p_result_over_the_limit_is_fitted_and_stays_in_the_server(
    fakecord, video_bot, person, gmi_sim, ffmpeg
):
    await video_bot()
    gmi_sim.script_next(video=VideoSpec(1920, 1080, duration=15.0, fps=24, footage="realistic"))
    alice = person()
    status = await alice.status_message(
        await alice.generate(prompt="a long take", duration=15, resolution="1080p")
    )
    result = await alice.wait_result(status, timeout=90)
    (video,) = result.attachments
    (fitted,) = [f for f in result.embeds[0]["fields"] if f["name"] == "Fitted to the upload limit"]
    original = float(re.search(r"Re-encoded from ([\d.]+) MiB", fitted["value"])[1])
    assert video.size <= 10 * 2**20 and original > 10  # it was over the limit; now it fits
    played = await decode(ffmpeg, video.data)
    assert played.errors == [] and played.seconds == pytest.approx(15.0, abs=0.1)
    assert played.frames == 15 * 24  # the whole length, every frame
    assert "10 MiB upload limit" in fitted["value"] and "/media/" in fitted["value"]
    assert "<t:" in fitted["value"]  # the original's link, and when it expires
    assert "/media/" not in result.content  # one video in the channel: no link preview twin


async def test_lost_attach_files_delivers_by_dm(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    gmi_sim.script_next(hold=True)
    alice = person()
    status = await alice.status_message(await alice.generate(prompt="x"))
    await gmi_sim.wait_for_calls("submit")
    alice.channel.set_bot_permissions(attach_files=False)
    gmi_sim.release(next(iter(gmi_sim.requests)))
    await fakecord.wait_for(lambda: fakecord.dms(alice.member), 10, "a DM with the result")
    (dm,) = fakecord.dms(alice.member)
    assert dm.attachments and "couldn't post it in" in dm.content
    assert alice.replies_to(status) == []


async def test_missing_permissions_are_said_before_accepting(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    alice = person()
    alice.channel.set_bot_permissions(attach_files=False)
    ix = await alice.generate(prompt="x")
    (reply,) = ix.ephemeral_messages
    assert "missing attach_files" in reply.content
    assert gmi_sim.log == []


async def test_results_can_be_rerolled_and_remixed_by_others(fakecord, video_bot, person, gmi_sim):
    bot = await video_bot()
    alice = person()
    result = await alice.wait_result(await alice.status_message(await alice.generate(prompt="a fox")))
    bob = fakecord.default.bob
    reroll = await fakecord.click(bob, result, label="Re-roll")
    status2 = await reroll.wait_response_message()
    assert status2.embeds[0]["description"] == "a fox"
    await person(bob).wait_result(status2)
    remix = await fakecord.click(bob, result, label="Remix")
    await remix.wait_acknowledged()
    submitted = await fakecord.submit_modal(bob, remix, {"Prompt": "a fox, at night"})
    status3 = await submitted.wait_response_message()
    await person(bob).wait_result(status3)
    prompts = [c.body_json["payload"]["prompt"] for c in gmi_sim.calls("submit")]
    assert prompts == ["a fox", "a fox", "a fox, at night"]
    jobs = [await bot.services.jobs.get(i) for i in (2, 3)]
    assert [j.user_id for j in jobs] == [bob.id, bob.id]
    assert [j.origin for j in jobs] == ["reroll", "remix"]


async def test_status_history_and_info(fakecord, video_bot, person, gmi_sim):
    bot = await video_bot()
    alice = person()
    status = await alice.status_message(await alice.generate(prompt="a fox"))
    await alice.wait_result(status)
    await job_when(bot, 1, lambda j: j.is_delivered)  # recorded just after the reply lands
    choices = await fakecord.autocomplete(alice.member, alice.channel, "video status",
                                          focused="request_id", value="fox")
    assert len(choices) == 1 and "a fox" in choices[0]["name"]
    ix = await fakecord.run_command(alice.member, alice.channel, "video status",
                                    request_id=choices[0]["value"])
    await ix.wait_acknowledged()
    assert ix.ephemeral_messages[0].embeds[0]["title"].endswith("Delivered")

    ix = await fakecord.run_command(alice.member, alice.channel, "video history")
    await ix.wait_acknowledged()
    assert "a fox" in ix.ephemeral_messages[0].embeds[0]["description"]

    ix = await fakecord.run_command(alice.member, alice.channel, "video info")
    message = await ix.wait_response_message()
    assert message.flags & 64, "the card is for the member who asked"
    (card,) = message.embeds
    assert card["title"] == "Seedance 2.0 Fast"
    fields = {f["name"]: f["value"] for f in card["fields"]}
    assert fields["Length"] == "4 to 15 seconds (default 5)"
    assert fields["Resolutions"] == "480p, **720p** (default), 1080p"
    assert "up to 9 images, up to 3 videos" in fields["What it takes"]
    assert "The provider lists 0.16 USD per second" in fields["Cost"]
    assert "720p 0.16 USD" in fields["Cost"]
    ix = await fakecord.run_command(alice.member, alice.channel, "video info")
    await ix.wait_response_message()
    assert gmi_sim.calls("model") == [], "the start-up check's model detail is reused"


async def test_a_job_longer_than_the_interaction_token_still_lands(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    gmi_sim.script_next(hold=True)
    alice = person()
    ix = await alice.generate(prompt="a slow one @here")
    status = await alice.status_message(ix)
    assert not status.mention_everyone
    await gmi_sim.wait_for_calls("get")
    fakecord.clock.advance(16 * 60)  # the interaction token is dead now
    assert ix.token_expired
    gmi_sim.release(next(iter(gmi_sim.requests)))
    result = await alice.wait_result(status)
    assert result.attachments and result.mentions == [alice.member.id]
    assert not result.mention_everyone


async def test_quota_shows_what_is_left(fakecord, video_bot, person, gmi_sim):
    bot = await video_bot()
    world = fakecord.default
    moderator = Requester(user_id=world.mod.id, guild_id=world.guild.id, channel_id=world.channel.id,
                          can_manage_guild=True)
    await bot.services.limit_admin.set_limit(moderator, "server", world.guild.id, "generations_per_day", "3")
    alice = person()
    await alice.wait_result(await alice.status_message(await alice.generate(prompt="x")))
    ix = await fakecord.run_command(alice.member, alice.channel, "video quota")
    await ix.wait_acknowledged()
    text = ix.ephemeral_messages[0].embeds[0]["description"]
    assert "1 of 3 videos" in text and "<t:" in text


async def test_generate_in_a_thread_replies_in_the_thread(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    alice = person(channel=fakecord.default.thread)
    status = await alice.status_message(await alice.generate(prompt="in a thread"))
    result = await alice.wait_result(status)
    assert result.channel is fakecord.default.thread and result.attachments


async def test_status_message_follows_the_provider_state(fakecord, video_bot, person, gmi_sim):
    await video_bot()
    gmi_sim.script_next(hold=True)
    alice = person()
    status = await alice.status_message(await alice.generate(prompt="x"))
    await fakecord.wait_for(lambda: status.embeds[0]["title"].endswith("Queued"), 5, "queued status")
    assert status.button(label="Cancel") is not None
    gmi_sim.release(next(iter(gmi_sim.requests)))
    await alice.wait_result(status)
    assert "is ready" in await final_status(fakecord, status)  # no Cancel button left


async def test_history_pages_through_older_jobs(fakecord, video_bot, person):
    bot = await video_bot()
    world = fakecord.default
    for i in range(10):
        await bot.services.jobs.accept(
            NewJob(guild_id=world.guild.id, channel_id=world.channel.id, user_id=world.alice.id,
                   request=GenerationRequest(prompt=f"clip number {i}"), model="m"),
            deadline_seconds=600,
        )
    ix = await fakecord.run_command(world.alice, world.channel, "video history")
    page = await ix.wait_response_message()
    assert "clip number 9" in page.embeds[0]["description"]
    assert "clip number 0" not in page.embeds[0]["description"]
    assert page.button(label="Newer")["disabled"]
    older = await fakecord.click(world.alice, page, label="Older")
    await older.wait_acknowledged()
    assert "clip number 0" in page.embeds[0]["description"]
    assert page.embeds[0]["footer"]["text"].startswith("Page 2 of 2")


async def test_a_post_that_may_have_failed_is_found_not_repeated(fakecord, video_bot, person, gmi_sim):
    """As after a crash between posting and recording it: the job is undelivered but an
    attempt was made. The bot finds its earlier reply instead of posting again."""
    bot = await video_bot()
    alice = person()
    status = await alice.status_message(await alice.generate(prompt="x"))
    result = await alice.wait_result(status)
    job = await job_when(bot, 1, lambda j: j.is_delivered)
    assert job.result_message_id == result.id
    async with bot.services.db.transaction() as conn:  # back to how a crash mid-post leaves it
        await conn.execute(
            "UPDATE jobs SET state = 'posting', delivered_at = NULL, result_message_id = NULL, delivered_via = NULL, "
            "next_check_at = ? WHERE id = 1", (bot.clock(),))
    bot.dispatch("video_job_due")
    again = await job_when(bot, 1, lambda j: j.is_delivered)
    assert again.result_message_id == result.id
    assert alice.replies_to(status) == [result]


async def test_rerolling_a_day_old_upload_is_refused(fakecord, video_bot, person, gmi_sim):
    clock = ManualClock.realtime()
    await video_bot(clock=clock)
    alice = person()
    result = await alice.wait_result(
        await alice.status_message(await alice.generate(prompt="x", first_frame=image(fakecord))))
    clock.advance(21 * 3600)
    click = await fakecord.click(fakecord.default.bob, result, label="Re-roll")
    await click.wait_acknowledged()
    assert "links to them have expired" in click.ephemeral_messages[0].content
    assert len(gmi_sim.calls("submit")) == 1


async def test_odd_job_references_get_a_clear_answer(fakecord, video_bot, person):
    await video_bot()
    world = fakecord.default
    for reference in ("²", "#99999999999999999999", "nope"):
        ix = await fakecord.run_command(world.alice, world.channel, "video status", request_id=reference)
        await ix.wait_acknowledged()
        assert "can't find a job" in ix.ephemeral_messages[0].content


async def test_a_job_can_be_named_by_a_link_to_its_message(fakecord, video_bot, person, gmi_sim):
    bot = await video_bot()
    world = fakecord.default
    alice = person()
    status = await alice.status_message(await alice.generate(prompt="a heron at dawn"))
    result = await alice.wait_result(status)
    await job_when(bot, 1, lambda j: j.is_delivered)  # the result's id is recorded
    for message in (status, result):
        link = f"https://discord.com/channels/{world.guild.id}/{world.channel.id}/{message.id}"
        ix = await fakecord.run_command(world.alice, world.channel, "video status", request_id=link)
        await ix.wait_acknowledged()
        (answer,) = ix.ephemeral_messages
        assert answer.embeds and answer.embeds[0]["description"] == "a heron at dawn", answer.content
    elsewhere = f"https://discord.com/channels/1/2/{status.id + 1}"
    ix = await fakecord.run_command(world.alice, world.channel, "video status", request_id=elsewhere)
    await ix.wait_acknowledged()
    assert "can't find a job" in ix.ephemeral_messages[0].content


async def test_a_job_cancelled_before_its_status_message_was_recorded_still_shows_it(
    fakecord, video_bot, person, gmi_sim
):
    """As after a crash between answering and recording the answer's id: the member cancels
    from the status message before the bot looked it up. The result replies to it, and it
    ends showing the cancellation, without its Cancel button."""
    bot = await video_bot()
    gmi_sim.script_next(hold=True)
    alice = person()
    status = await alice.status_message(await alice.generate(prompt="x"))
    await gmi_sim.wait_for_calls("submit")
    async with bot.services.db.transaction() as conn:
        await conn.execute("UPDATE jobs SET status_message_id = NULL WHERE id = 1")
    click = await fakecord.click(alice.member, status, label="Cancel")
    await click.wait_acknowledged()
    result = await alice.wait_result(status)
    assert "cancelled" in result.content
    assert "was cancelled" in await final_status(fakecord, status)  # and no Cancel button
    assert (await job_when(bot, 1, lambda j: j.is_delivered)).status_message_id == status.id


async def test_a_final_status_edit_outlasts_a_discord_hiccup(
    fakecord, video_bot, person, gmi_sim, monkeypatch
):
    """Edits fail for a while just as the job ends: the final look is retried until it
    lands (a running job's looks only a few times: a newer one comes anyway)."""
    from cogs.video import status_edits

    monkeypatch.setattr(status_edits, "RETRY_CAP", 0.05)
    await video_bot()
    gmi_sim.script_next(hold=True)
    alice = person()
    status = await alice.status_message(await alice.generate(prompt="x"))
    await gmi_sim.wait_for_calls("get")
    fakecord.fail_next("PATCH", "/channels/{channel_id}/messages/{message_id}", status=503,
                       times=status_edits.MAX_TRIES + 2)  # fmt: skip
    gmi_sim.release(next(iter(gmi_sim.requests)))
    await alice.wait_result(status)
    # Edits stay within Discord's 5 per 5 s, failed ones too.
    assert "is ready" in await final_status(fakecord, status, timeout=20)
