"""The bot as a real child process, killed with SIGKILL at awkward moments and restarted.

A job that was accepted is never lost and its result is posted exactly once.
"""

from __future__ import annotations

import sys

import pytest

from bot.jobs.lifecycle import JobState

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")


def replies_to(channel, status):
    return [m for m in channel.messages if m.reply_to == status.id]


async def ask_and_wait_for_result(emu, bot_process):
    """Alice asks for a video; returns the status message once its reply is there."""
    world = emu.default
    ix = await emu.run_command(world.alice, world.channel, "video generate text", prompt="a fox")
    status = await ix.wait_response_message()
    await emu.wait_for(lambda: replies_to(world.channel, status), 20, "the result")
    return status


async def test_sigkill_mid_job_then_restart_posts_the_result_once(fakecord, gmi_sim, bot_process):
    world = fakecord.default
    gmi_sim.script_next(hold=True)
    await bot_process.start()
    ix = await fakecord.run_command(world.alice, world.channel, "video generate text", prompt="a fox")
    status = await ix.wait_response_message()
    await gmi_sim.wait_for_calls("get", within=10)  # submitted, id stored, being polled

    await bot_process.kill()
    (request_id,) = gmi_sim.requests
    gmi_sim.release(request_id)
    await bot_process.start()

    await fakecord.wait_for(
        lambda: replies_to(world.channel, status), 20, "the result after the restart"
    )
    await bot_process.delivered()
    replies = replies_to(world.channel, status)
    assert len(replies) == 1 and replies[0].attachments
    assert len(gmi_sim.calls("submit")) == 1


async def test_sigkill_right_after_posting_never_posts_twice(fakecord, gmi_sim, bot_process):
    """Killed the moment the reply appears (possibly before it was recorded): the restarted
    bot finds the earlier post instead of posting again."""
    await bot_process.start()
    status = await ask_and_wait_for_result(fakecord, bot_process)
    await bot_process.kill()
    await bot_process.start()
    await bot_process.delivered()
    assert len(replies_to(fakecord.default.channel, status)) == 1
    assert len(gmi_sim.calls("submit")) == 1


async def test_buttons_on_old_messages_work_after_a_restart(fakecord, gmi_sim, bot_process):
    world = fakecord.default
    await bot_process.start()
    status = await ask_and_wait_for_result(fakecord, bot_process)
    (result,) = replies_to(world.channel, status)
    await bot_process.kill()
    await bot_process.start()
    click = await fakecord.click(world.bob, result, label="Re-roll")
    second_status = await click.wait_response_message()
    assert second_status.embeds[0]["description"] == "a fox"


async def test_sigkill_between_submit_and_storing_the_id_reconciles(fakecord, gmi_sim, bot_process):
    """The provider created the request but the bot died before it heard the id: after the
    restart the request is found through the list endpoint, not submitted a second time."""
    world = fakecord.default
    gmi_sim.fault("submit", after_create=True, delay=60)  # created, then the answer hangs
    await bot_process.start()
    ix = await fakecord.run_command(world.alice, world.channel, "video generate text", prompt="a fox")
    status = await ix.wait_response_message()
    await gmi_sim.wait_until(lambda: len(gmi_sim.requests) == 1, within=10)
    await bot_process.kill()
    stored = await bot_process.jobs.get(1)
    assert stored.state is JobState.SUBMITTING and stored.request_id is None

    await bot_process.start()
    await fakecord.wait_for(lambda: replies_to(world.channel, status), 20, "the result after the restart")
    await bot_process.delivered()
    assert len(gmi_sim.requests) == 1, "the request was submitted twice"
    assert (await bot_process.jobs.get(1)).request_id == next(iter(gmi_sim.requests))
    assert gmi_sim.calls("list"), "the restarted bot should have listed the requests"
    assert len(replies_to(world.channel, status)) == 1
