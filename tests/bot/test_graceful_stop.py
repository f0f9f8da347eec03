"""SIGTERM and SIGINT, as hosts and containers send them, stop the bot gracefully: what is in
flight finishes within the grace period, the process exits 0, and after a restart every job
is posted exactly once. The bot runs as a real child process (`tests.support.botprocess`)."""

from __future__ import annotations

import asyncio
import signal
import sys

import pytest

from bot.jobs.lifecycle import JobState

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")

GRACE = 5.0


def replies_to(channel, status):
    return [m for m in channel.messages if m.reply_to == status.id]


async def ask(emu):
    world = emu.default
    ix = await emu.run_command(world.alice, world.channel, "video generate text", prompt="a fox")
    return await ix.wait_response_message()


async def test_sigterm_mid_job_exits_0_and_the_restarted_bot_posts_it_once(
    fakecord, gmi_sim, bot_process, database_engine
):
    world = fakecord.default
    bot_process.env["SHUTDOWN_GRACE_SECONDS"] = str(GRACE)
    gmi_sim.script_next(hold=True)
    await bot_process.start()
    status = await ask(fakecord)
    await gmi_sim.wait_for_calls("get", within=10)  # submitted and being polled

    exit_status, took = await bot_process.stop_with(signal.SIGTERM, within=GRACE + 5)
    assert exit_status == 0 and took < GRACE, bot_process.log
    for step in ("SIGTERM received: stopping gracefully", "job scheduler stopped",
                 "disconnected from Discord", "HTTP sessions closed"):  # fmt: skip
        assert step in bot_process.log, step
    closed = "database checkpointed" if database_engine == "sqlite" else "database connections"
    assert closed in bot_process.log
    assert (await bot_process.jobs.get(1)).state in (JobState.QUEUED, JobState.PROCESSING)

    (request_id,) = gmi_sim.requests
    gmi_sim.release(request_id)
    await bot_process.start()
    await fakecord.wait_for(lambda: replies_to(world.channel, status), 20, "the result")
    await bot_process.delivered()
    assert len(replies_to(world.channel, status)) == 1
    assert len(gmi_sim.calls("submit")) == 1


async def test_a_post_in_flight_finishes_before_the_process_exits(fakecord, gmi_sim, bot_process):
    world = fakecord.default
    bot_process.env["SHUTDOWN_GRACE_SECONDS"] = str(GRACE)
    gmi_sim.fault("media", delay=1.5)  # the result's download is slow
    await bot_process.start()
    status = await ask(fakecord)
    await gmi_sim.wait_for_calls("media", answered=False, within=10)

    bot_process.signal(signal.SIGINT)
    await fakecord.wait_for(lambda: "stopping: new jobs are refused" in bot_process.log, 5, "the stop")
    late = await fakecord.run_command(world.bob, world.channel, "video generate text", prompt="a cat")
    await late.wait_acknowledged()  # answered while the post finishes, not left to time out
    assert late.ephemeral_messages[0].content == "The bot is restarting; try again in a minute."
    exit_status, took = await bot_process.exited(within=GRACE + 5)
    assert exit_status == 0 and took < GRACE, bot_process.log
    (reply,) = replies_to(world.channel, status)  # posted by the stopping process
    assert reply.attachments
    assert (await bot_process.jobs.get(1)).state is JobState.DELIVERED
    assert await bot_process.jobs.get(2) is None  # the late request was refused before anything was stored


async def test_a_command_being_answered_when_the_stop_comes_is_answered_and_kept(
    fakecord, gmi_sim, bot_process
):
    """The member's command is stored and its answer on its way (Discord holds it for a
    moment) when SIGTERM comes: the answer still lands, the job keeps its status message,
    nothing fails in the log, and the restarted bot posts the video once."""
    world = fakecord.default
    bot_process.env["SHUTDOWN_GRACE_SECONDS"] = str(GRACE)
    callback = "/interactions/{webhook_id}/{webhook_token}/callback"
    await bot_process.start()
    fakecord.fail_next("POST", callback, status=429, retry_after=1.0)
    ix = await fakecord.run_command(world.alice, world.channel, "video generate text", prompt="a fox")
    await fakecord.wait_for(
        lambda: any(r.status == 429 for r in fakecord.requests_to("POST", callback)), 5, "the held answer"
    )

    exit_status, took = await bot_process.stop_with(signal.SIGTERM, within=GRACE + 5)
    assert exit_status == 0 and took < GRACE, bot_process.log
    assert not ix.failed
    status = await ix.wait_response_message()
    assert "ERROR" not in bot_process.log and "Traceback" not in bot_process.log, bot_process.log
    job = await bot_process.jobs.get(1)
    assert job is not None and job.status_message_id == status.id

    await bot_process.start()
    await fakecord.wait_for(lambda: replies_to(world.channel, status), 20, "the result")
    await bot_process.delivered()
    assert len(replies_to(world.channel, status)) == 1


async def test_a_step_longer_than_the_grace_is_cut_and_resumed_after_restart(
    fakecord, gmi_sim, bot_process
):
    world = fakecord.default
    bot_process.env["SHUTDOWN_GRACE_SECONDS"] = "0.5"
    gmi_sim.fault("media", delay=30)  # longer than any grace
    await bot_process.start()
    status = await ask(fakecord)
    await gmi_sim.wait_for_calls("media", answered=False, within=10)

    exit_status, took = await bot_process.stop_with(signal.SIGTERM, within=10)
    assert exit_status == 0 and took < 3, bot_process.log
    assert "1 job step(s) still running after 0.5s" in bot_process.log
    assert (await bot_process.jobs.get(1)).state is JobState.POSTING
    assert replies_to(world.channel, status) == []

    await bot_process.start()
    await fakecord.wait_for(lambda: replies_to(world.channel, status), 20, "the result")
    await bot_process.delivered()
    assert len(replies_to(world.channel, status)) == 1


async def test_the_health_check_follows_the_running_bot(fakecord, gmi_sim, bot_process):
    assert bot_process.run("healthcheck").returncode == 1  # not running yet
    await bot_process.start()
    await fakecord.wait_for(lambda: bot_process.run("healthcheck").returncode == 0, 10, "healthy")
    healthy = bot_process.run("healthcheck")
    assert healthy.stdout.startswith("healthy: running") and "provider available" in healthy.stdout

    exit_status, _ = await bot_process.stop_with(signal.SIGTERM, within=GRACE + 5)
    assert exit_status == 0
    stopped = bot_process.run("healthcheck")
    assert stopped.returncode == 1 and "the bot is stopped" in stopped.stdout


async def test_a_refused_token_exits_1_with_one_line_and_no_traceback(fakecord, gmi_sim, bot_process):
    bot_process.env["DISCORD_TOKEN"] = "not-the-bots-token"
    result = await asyncio.to_thread(bot_process.run)  # python -m bot, to its end
    assert result.returncode == 1
    assert "the bot stopped: Improper token has been passed." in result.stderr
    assert "Traceback" not in result.stderr
