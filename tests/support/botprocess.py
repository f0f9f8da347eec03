"""``python -m bot`` as a real child process, pointed at the emulator and the simulator.

- ``bot_process``: a `BotProcess` (not started) on ``database_location``, so it runs on each
  database engine; killed at teardown if still running.
- ``bot_processes``: ``spawn(**env)`` makes another `BotProcess` on the same database, the
  emulator and the simulator, with its own folder (log, heartbeat) and extra settings
  (``SHARD_IDS="0"``...); all killed at teardown.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.db.database import Database
from bot.db.jobs import JobRepository
from bot.jobs.model import Job
from tests.support.database import environment_for
from tests.support.gmi import GMI_TEST_KEY
from tests.support.jobwait import wait_for_job

REPO = Path(__file__).resolve().parents[2]
STARTED = "started (pid"  # in the start-up block (`bot.app.VideoBot._log_start`)


class BotProcess:
    """The bot through its settings, as an operator runs it; ``jobs`` reads the same
    database from the test."""

    def __init__(
        self, emu: Any, sim: Any, jobs: JobRepository, database: str | Path, data: Path
    ) -> None:
        self.emu = emu
        self.jobs = jobs
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(REPO),
            "DISCORD_TOKEN": emu.token,
            "GMI_API_KEY": GMI_TEST_KEY,
            "GMI_API_BASE_URL": sim.base_url,
            # the heartbeat's folder; the database itself with SQLite
            "DATABASE_PATH": str(data / "bot.sqlite3"),
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
        self.log_path = data / "bot.log"
        self.process: asyncio.subprocess.Process | None = None
        self._signalled = 0.0

    async def start(self, *, may_die: bool = False) -> bool:
        """Start it and return once its start-up block is logged: every shard it serves is
        connected and its servers are known (so it answers commands from now on). False if
        it died first, which only ``may_die`` allows (a chaos run kills it at any instant,
        start-up included)."""
        log = self.log_path.open("ab")
        starts = self.log.count(STARTED)
        self.process = process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=REPO, env=self.env, stdout=log, stderr=log
        )
        log.close()
        await self.emu.wait_for(
            lambda: self.log.count(STARTED) > starts or process.returncode is not None,
            20,
            "the bot process to start",
        )
        alive = process.returncode is None
        assert alive or may_die, self.log
        return alive

    async def kill(self) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):  # it may have died on its own
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self._signalled = time.monotonic()
        self.process.send_signal(sig)

    async def exited(self, within: float) -> tuple[int, float]:
        """The exit status, and the seconds since the last `signal`."""
        assert self.process is not None
        async with asyncio.timeout(within):
            status = await self.process.wait()
        return status, time.monotonic() - self._signalled

    async def stop_with(self, sig: signal.Signals, within: float) -> tuple[int, float]:
        """Send ``sig``; return the exit status and the seconds it took to exit."""
        self.signal(sig)
        return await self.exited(within)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            await self.kill()

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``python -m bot ARGS`` with the bot's settings, as an operator (or a container's
        health check) runs it next to the bot."""
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=REPO, env=self.env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    async def delivered(self, job_id: int = 1) -> Job:
        return await wait_for_job(self.jobs, job_id, lambda job: job.delivered_at is not None)

    @property
    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""


@pytest.fixture
async def bot_processes(
    fakecord: Any, gmi_sim: Any, database_location: str | Path, tmp_path: Path
) -> AsyncIterator[Callable[..., BotProcess]]:
    db = await Database.open(database_location)
    jobs = JobRepository(db, time.time)
    made: list[BotProcess] = []

    def spawn(**env: str) -> BotProcess:
        data = tmp_path / f"process-{len(made)}"
        data.mkdir()
        process = BotProcess(fakecord, gmi_sim, jobs, database_location, data)
        process.env.update(env)
        made.append(process)
        return process

    try:
        yield spawn
    finally:
        await asyncio.gather(*(process.stop() for process in made))
        await db.close()


@pytest.fixture
def bot_process(bot_processes: Callable[..., BotProcess]) -> BotProcess:
    return bot_processes()
