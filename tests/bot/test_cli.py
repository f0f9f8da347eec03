"""``python -m bot --help``, the heartbeat behind ``python -m bot healthcheck``, and the loop
the bot runs on."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import tomllib
from pathlib import Path

from bot import VERSION, heartbeat
from bot.cli import run_event_loop, setting_docs
from bot.settings import Settings

REPO = Path(__file__).resolve().parents[2]
SETTINGS = {name.upper() for name in Settings.model_fields}


def test_help_explains_the_subcommands_and_every_setting_without_starting_anything(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], cwd=tmp_path, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for subcommand in ("run", "doctor", "healthcheck"):
        assert f"    {subcommand} " in result.stdout
    for name in SETTINGS:
        assert f"  {name} (" in result.stdout, name
    assert "DISCORD_TOKEN (required)" in result.stdout
    assert "SHUTDOWN_GRACE_SECONDS (default: 20.0)" in result.stdout
    assert "steps in flight get this many seconds" in result.stdout  # from .env.example
    assert list(tmp_path.iterdir()) == []  # no database, no heartbeat: nothing started
    assert "logging in" not in result.stdout + result.stderr


def test_env_example_explains_every_setting_and_only_settings():
    documented = {name for names, text in setting_docs() for name in names if text}
    listed = {name for names, _ in setting_docs() for name in names}
    assert documented >= SETTINGS
    assert listed - SETTINGS == {"COMPOSE_PROFILES", "POSTGRES_PASSWORD"}  # read by docker compose


def test_the_logged_version_is_the_projects():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert VERSION == project["version"]


def test_a_heartbeat_is_healthy_only_while_fresh_and_running(tmp_path):
    path = heartbeat.heartbeat_path(tmp_path / "bot.sqlite3")
    assert path == tmp_path / "bot.heartbeat"
    # processes serving some shards each beat their own file beside it
    assert heartbeat.heartbeat_path(tmp_path / "bot.sqlite3", (0, 2)) == tmp_path / "bot.shards-0-2.heartbeat"
    assert heartbeat.verdict(heartbeat.read(path), now=1000.0)[0] is False  # none yet

    heartbeat.write(path, heartbeat.Beat(1000.0, 42, heartbeat.RUNNING, "unavailable", 3))
    healthy, why = heartbeat.verdict(heartbeat.read(path), now=1010.0)
    assert healthy and "in 3 servers" in why and "provider unavailable" in why
    assert not heartbeat.verdict(heartbeat.read(path), now=1000.0 + heartbeat.STALE_AFTER + 1)[0]

    heartbeat.write(path, heartbeat.Beat(1010.0, 42, heartbeat.STOPPING, "available", 3))
    healthy, why = heartbeat.verdict(heartbeat.read(path), now=1011.0)
    assert not healthy and "stopping" in why
    path.write_text("{half a beat")
    assert heartbeat.read(path) is None


def test_the_bot_runs_on_uvloop_with_what_it_imported_frozen_out_of_the_collector():
    async def main() -> tuple[str, int]:
        return type(asyncio.get_running_loop()).__module__, gc.get_freeze_count()

    try:
        module, frozen = run_event_loop(main())
    finally:
        gc.unfreeze()
    assert module.startswith("uvloop")
    assert frozen > 10_000  # the modules, classes and functions imported so far
