"""The bot as a real child process, killed with SIGKILL at awkward moments and restarted.

A job that was accepted is never lost and its result is posted exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from bot.db.database import Database
from bot.db.jobs import JobRepository
from bot.jobs.lifecycle import JobState
from tests.support.database import environment_for
from tests.support.gmi import GMI_TEST_KEY
from tests.support.jobwait import wait_for_job

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")


class BotProcess:
    """``python -m bot`` pointed at the emulator and the simulator through its settings."""

    def __init__(self, emu, sim, jobs: JobRepository, database: str | Path, log_path: Path) -> None:
        self.emu = emu
        self.jobs = jobs  # the same database, read from the test
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(REPO),
            "DISCORD_TOKEN": emu.token,
            "GMI_API_KEY": GMI_TEST_KEY,
            "GMI_API_BASE_URL": sim.base_url,
            **environment_for(database),
            "COMMAND_GUILD_IDS": str(emu.default.guild.id),
            "DISCORD_API_BASE_URL": emu.api_base_url,
            "DISCORD_GATEWAY_URL": emu.gateway_url,
            "POLL_MIN_INTERVAL": "0.02",
            "POLL_MAX_INTERVAL": "0.05",
            "EXPECTED_GENERATION_SECONDS": "0",
            "STATUS_EDIT_INTERVAL": "0",
            "LOG_LEVEL": "DEBUG",
        }
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        sessions_before = self.emu.gateway.identifies
        log = self.log_path.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=REPO, env=self.env, stdout=log, stderr=log
        )
        log.close()
        await self.emu.wait_for(
            lambda: (
                self.emu.gateway.identifies > sessions_before or self.process.returncode is not None
            ),
            20,
            "the bot process to connect",
        )
        assert self.process.returncode is None, self.log_path.read_text()

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            await self.kill()

    async def delivered(self, job_id: int = 1):
        return await wait_for_job(self.jobs, job_id, lambda job: job.delivered_at is not None)


def replies_to(channel, status):
    return [m for m in channel.messages if m.reply_to == status.id]


async def ask_and_wait_for_result(emu, bot_process):
    """Alice asks for a video; returns the status message once its reply is there."""
    world = emu.default
    ix = await emu.run_command(world.alice, world.channel, "video generate", prompt="a fox")
    status = await ix.wait_response_message()
    await emu.wait_for(lambda: replies_to(world.channel, status), 20, "the result")
    return status


@pytest.fixture
async def bot_process(fakecord, gmi_sim, database_location, tmp_path):
    db = await Database.open(database_location)
    process = BotProcess(
        fakecord, gmi_sim, JobRepository(db, time.time), database_location, tmp_path / "bot.log"
    )
    try:
        yield process
    finally:
        await process.stop()
        await db.close()


async def test_sigkill_mid_job_then_restart_posts_the_result_once(fakecord, gmi_sim, bot_process):
    world = fakecord.default
    gmi_sim.script_next(hold=True)
    await bot_process.start()
    ix = await fakecord.run_command(world.alice, world.channel, "video generate", prompt="a fox")
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
    ix = await fakecord.run_command(world.alice, world.channel, "video generate", prompt="a fox")
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
