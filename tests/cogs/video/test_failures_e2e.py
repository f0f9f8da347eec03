"""Every failure ends right for the member, end to end: the real bot, the Discord emulator,
the GMI simulator. Each test stages one failure from the chaos and fuzz audit."""

from __future__ import annotations

import asyncio
import logging

import discord

from bot.clock import ManualClock
from bot.jobs.lifecycle import JobOutcome, JobState
from bot.jobs.model import STATUS_MESSAGE_GRACE, TOO_BUSY
from bot.moderation.requester import Requester
from cogs.video.flows import ANSWER_WITHIN
from tests.support.jobwait import wait_until_gone
from tests.support.video import final_status, job_when


def moderator(world) -> Requester:
    return Requester(world.mod.id, world.guild.id, world.channel.id, can_manage_guild=True)


async def test_a_submit_that_keeps_failing_ends_with_a_clear_failure_and_no_charge(
    fakecord, video_bot, person, gmi_sim
):
    bot = await video_bot()
    world = fakecord.default
    await bot.services.limit_admin.set_limit(moderator(world), "server", None, "generations_per_day", "3")
    gmi_sim.fault("submit", 500, times=None)
    alice = person()
    result = await alice.wait_result(await alice.status_message(await alice.generate(prompt="x")))
    assert "failed" in result.content and "could not be reached" in result.content
    assert len(gmi_sim.calls("submit")) == 5  # bounded, with backoff between
    assert "0 of 3 videos" in await alice.quota()


async def test_an_expired_link_is_renewed_and_a_lost_video_is_said_plainly_and_refunded(
    fakecord, video_bot, person, gmi_sim
):
    bot = await video_bot()
    world = fakecord.default
    await bot.services.limit_admin.set_limit(moderator(world), "server", None, "generations_per_day", "3")
    alice = person()
    gmi_sim.fault("media", 403, body="<Error><Code>ExpiredToken</Code></Error>")
    renewed = await alice.wait_result(await alice.status_message(await alice.generate(prompt="a")))
    assert renewed.attachments and renewed.attachments[0].data[4:8] == b"ftyp"

    gmi_sim.fault("media", 404, times=None)
    status = await alice.status_message(await alice.generate(prompt="b"))
    lost = await alice.wait_result(status)
    assert not lost.attachments and "http" not in lost.content  # no dead link
    assert "could not be had" in lost.content and "quota was given back" in lost.content
    assert "could not be had" in await final_status(fakecord, status)
    assert "1 of 3 videos" in await alice.quota()


async def test_an_html_page_served_as_the_video_is_never_uploaded(
    fakecord, video_bot, person, gmi_sim
):
    await video_bot()
    gmi_sim.fault("media", 200, body="<html><body>Sign in to continue</body></html>")
    alice = person()
    result = await alice.wait_result(await alice.status_message(await alice.generate(prompt="x")))
    assert not result.attachments and "not a playable video" in result.content


async def test_a_crash_before_the_status_message_was_recorded_still_ends_as_a_reply(
    fakecord, video_bot, person, gmi_sim, monkeypatch
):
    clock = ManualClock.realtime()
    bot = await video_bot(clock=clock)
    service = bot.services.job_service
    recorded = service.status_message_posted

    async def crashed(job, message_id):  # the process dies right after answering
        monkeypatch.setattr(service, "status_message_posted", recorded)

    monkeypatch.setattr(service, "status_message_posted", crashed)
    alice = person()
    status = await alice.status_message(await alice.generate(prompt="a heron"))
    assert gmi_sim.calls("submit") == []
    clock.advance(STATUS_MESSAGE_GRACE + 1)  # "restarted": the job's grace is over
    bot.dispatch("video_job_due")
    result = await alice.wait_result(status)  # a reply to the status message, as always
    assert result.attachments
    assert "is ready" in await final_status(fakecord, status)  # without a Cancel button
    job = await job_when(bot, 1, lambda j: j.status_message_id == status.id)
    assert job.interaction_token is None  # forgotten once no longer needed


async def test_a_job_whose_member_never_saw_it_is_withdrawn_without_charge(
    fakecord, video_bot, person, gmi_sim, monkeypatch
):
    clock = ManualClock.realtime()
    bot = await video_bot(clock=clock)
    world = fakecord.default
    original = discord.InteractionResponse.send_message

    async def killed(self, *args, **kwargs):  # the process dies before answering
        monkeypatch.setattr(discord.InteractionResponse, "send_message", original)
        raise asyncio.CancelledError

    monkeypatch.setattr(discord.InteractionResponse, "send_message", killed)
    fakecord.expect_violation("ack_timeout", 10008)  # unanswered, so @original is unknown
    ix = await fakecord.run_command(world.alice, world.channel, "video generate text", prompt="x")
    await fakecord.wait_for(lambda: ix.failed, 5, "This interaction failed")
    assert (await bot.services.jobs.get(1)).state is JobState.ACCEPTED
    clock.advance(STATUS_MESSAGE_GRACE + 1)
    bot.dispatch("video_job_due")
    await wait_until_gone(bot.services.jobs, 1)  # withdrawn: nothing stored, nothing counted
    assert gmi_sim.calls("submit") == [] and world.channel.messages == []


async def test_a_post_is_found_however_busy_the_channel_has_been(
    fakecord, video_bot, person, gmi_sim
):
    bot = await video_bot()
    world = fakecord.default
    alice = person()
    status = await alice.status_message(await alice.generate(prompt="x"))
    result = await alice.wait_result(status)
    await job_when(bot, 1, lambda j: j.is_delivered)
    for i in range(250):  # more than the 200 messages the old search read
        await fakecord.say(world.bob, world.channel, f"chatter {i}")
    async with bot.services.db.transaction() as conn:  # as a crash right after posting leaves it
        await conn.execute(
            "UPDATE jobs SET state = 'posting', delivered_at = NULL, result_message_id = NULL, delivered_via = NULL, "
            "next_check_at = ? WHERE id = 1",
            (bot.clock(),),
        )
    bot.dispatch("video_job_due")
    again = await job_when(bot, 1, lambda j: j.is_delivered)
    assert again.result_message_id == result.id
    assert alice.replies_to(status) == [result]


async def test_an_outcome_posted_nowhere_says_so_refunds_and_tells_the_moderators(
    fakecord, video_bot, person, gmi_sim
):
    bot = await video_bot()
    world = fakecord.default
    modlog = world.guild.add_text_channel("mod-log")
    mod = moderator(world)
    await bot.services.server_settings.set_mod_log_channel(mod, modlog.id)
    await bot.services.limit_admin.set_limit(mod, "server", None, "generations_per_day", "3")
    gmi_sim.script_next(hold=True)
    alice = person()
    status = await alice.status_message(await alice.generate(prompt="x"))
    await gmi_sim.wait_for_calls("submit")
    world.channel.set_bot_permissions(send_messages=False)
    fakecord.close_dms(world.alice)
    fakecord.expect_violation(50007)  # the DM fallback, refused
    gmi_sim.release(next(iter(gmi_sim.requests)))
    job = await job_when(bot, 1, lambda j: j.is_delivered)
    assert job.state is JobState.UNDELIVERABLE and job.outcome is JobOutcome.SUCCEEDED
    await fakecord.wait_for(
        lambda: "Could not be delivered" in status.embeds[0]["title"], 8, "the undelivered look"
    )
    await fakecord.wait_for(lambda: modlog.messages, 5, "the mod-log notice")
    assert f"Job #1 of <@{world.alice.id}>" in modlog.messages[-1].content
    assert modlog.messages[-1].mentions == []
    world.channel.set_bot_permissions(send_messages=None)
    assert "0 of 3 videos" in await alice.quota()


async def test_members_see_only_jobs_in_channels_they_can_see(fakecord, video_bot, person):
    await video_bot()
    world = fakecord.default
    secret = world.guild.add_text_channel("secret")
    secret.set_permissions(world.bob, view_channel=False)
    alice = person(channel=secret)
    await alice.wait_result(await alice.status_message(await alice.generate(prompt="hidden plan")))
    answers = {}
    for who in (world.alice, world.bob, world.mod):
        ix = await fakecord.run_command(who, world.channel, "video status", request_id="#1")
        await ix.wait_acknowledged()
        answers[who.name] = ix.ephemeral_messages[0]
    assert answers["alice"].embeds[0]["description"] == "hidden plan"
    assert answers["mo"].embeds[0]["description"] == "hidden plan"
    nope = await fakecord.run_command(world.bob, world.channel, "video status", request_id="#99")
    await nope.wait_acknowledged()
    assert answers["bob"].content == nope.ephemeral_messages[0].content.replace("#99", "#1")
    assert not answers["bob"].embeds


async def test_a_request_the_provider_refuses_offers_a_remix_but_no_re_roll(
    fakecord, video_bot, person, gmi_sim
):
    await video_bot()
    alice = person()
    refused = await alice.wait_result(
        await alice.status_message(await alice.generate(prompt="a policy-violation, please"))
    )
    assert "content policy" in refused.content
    assert [b["label"] for b in refused.buttons()] == ["Remix", "Delete"]  # a seed can't help
    assert len(gmi_sim.calls("submit")) == 1
    # A failure during generation may go another way with another seed: Re-roll stays.
    gmi_sim.script_next(fail_reason="The generation failed", reason_in="outcome")
    failed = await alice.wait_result(await alice.status_message(await alice.generate(prompt="b")))
    assert [b["label"] for b in failed.buttons()] == ["Re-roll", "Remix", "Delete"]


async def test_a_job_that_cannot_be_stored_in_time_is_refused_unstored(
    fakecord, video_bot, person, gmi_sim, monkeypatch
):
    clock = ManualClock.realtime()
    bot = await video_bot(clock=clock)
    service = bot.services.job_service
    accept_draft = service.accept_draft

    async def after_a_wait(*args, **kwargs):  # its turn to be stored comes past its time
        clock.advance(ANSWER_WITHIN + 1)
        monkeypatch.setattr(service, "accept_draft", accept_draft)
        return await accept_draft(*args, **kwargs)

    monkeypatch.setattr(service, "accept_draft", after_a_wait)
    alice = person()
    (reply,) = (await alice.generate(prompt="x")).ephemeral_messages
    assert reply.content == TOO_BUSY
    assert await bot.services.jobs.count_in_flight() == 0 and gmi_sim.calls("submit") == []
    status = await alice.status_message(await alice.generate(prompt="y"))
    job = await job_when(bot, 1, lambda j: j.status_message_id is not None)
    assert job.status_message_id == status.id  # job #1: the refused command stored nothing


async def test_an_answer_discord_refused_as_too_late_is_one_warning_and_withdraws_the_job(
    fakecord, video_bot, person, gmi_sim, caplog
):
    bot = await video_bot()
    world = fakecord.default
    fakecord.fail_next(
        "POST", "/interactions/{webhook_id}/{webhook_token}/callback",
        status=404, code=10062, message="Unknown interaction",
    )  # fmt: skip
    fakecord.expect_violation("ack_timeout")

    def shared_log() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "cogs.shared"]

    with caplog.at_level(logging.INFO):
        await fakecord.run_command(world.alice, world.channel, "video generate text", prompt="x")
        await wait_until_gone(bot.services.jobs, 1)  # withdrawn: the member never saw it
        await fakecord.wait_for(lambda: shared_log(), 5, "the error handler to finish")
    assert gmi_sim.calls("submit") == [] and world.channel.messages == []
    logged = [(r.levelno, r.getMessage()) for r in shared_log()]
    assert logged == [(
        logging.WARNING,
        "/video generate text was answered after Discord's 3 s, so it failed for the member: "
        "the bot is short of CPU or its database is slow",
    )]  # fmt: skip
