"""The container setup, checked without a Docker engine: the Dockerfile runs what the
Procfile and the README run, installs the same requirements, and its health check is a real
command that works; the compose file's services and profiles fit together, and the scale
profile's processes are settings the bot accepts, covering every shard once."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from bot import heartbeat
from bot.settings import Settings
from bot.simulator import API_PREFIX
from bot.simulator.__main__ import parse_args as simulator_args

REPO = Path(__file__).resolve().parents[1]
SHARD_SERVICES = ("bot-shard-0", "bot-shard-1", "bot-shard-2")


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined."""
    instructions, pending = [], ""
    for line in (REPO / "Dockerfile").read_text().splitlines():
        if line.strip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            keyword, _, rest = pending.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
            pending = ""
    return instructions


def instruction(name: str) -> list[str]:
    return [rest for keyword, rest in dockerfile() if keyword == name]


def exec_form(text: str) -> list[str]:
    return json.loads(text[text.index("[") :])


def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_the_image_is_slim_python_311_and_runs_as_a_user_of_its_own():
    (base,) = instruction("FROM")
    assert base == "python:3.11-slim"
    (user,) = instruction("USER")
    assert user not in ("root", "0")
    assert any("useradd" in run and user in run for run in instruction("RUN"))


def test_the_image_starts_what_the_procfile_and_the_readme_start():
    (cmd,) = instruction("CMD")
    procfile = (REPO / "Procfile").read_text().strip()
    assert procfile.startswith("worker: ")
    assert exec_form(cmd) == shlex.split(procfile.removeprefix("worker: "))
    readme = (REPO / "README.md").read_text()
    assert "python -m pip install -r requirements.txt && python -m bot" in readme
    assert exec_form(cmd) == ["python", "-m", "bot"]


def test_the_image_installs_the_projects_requirements_and_copies_what_exists():
    runs = instruction("RUN")
    assert any("pip install -r requirements.txt" in run for run in runs)
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    for copy in instruction("COPY"):
        *sources, _ = copy.split()
        for source in sources:
            assert (REPO / source).exists(), source
            assert source.rstrip("/") not in ignored, f"{source} is copied but .dockerignore drops it"
    assert ".env" in ignored  # secrets never enter the build context


def test_the_database_lives_on_the_volume():
    env = " ".join(instruction("ENV"))
    assert "DATABASE_PATH=/data/bot.sqlite3" in env
    (volume,) = instruction("VOLUME")
    assert exec_form(volume) == ["/data"]
    assert instruction("STOPSIGNAL") == ["SIGTERM"]


def test_the_health_check_is_a_command_that_works_when_run_directly(tmp_path):
    (check,) = instruction("HEALTHCHECK")
    command = exec_form(check.split("CMD", 1)[1])
    assert command == ["python", "-m", "bot", "healthcheck"]
    database = tmp_path / "bot.sqlite3"
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO), "DISCORD_TOKEN": "t",
           "GMI_API_KEY": "k", "DATABASE_PATH": str(database)}  # fmt: skip

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *command[1:]], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    assert run().returncode == 1  # no bot, no heartbeat
    beat = heartbeat.Beat(at=time.time(), pid=1, state=heartbeat.RUNNING, provider="available", servers=1)
    heartbeat.write(heartbeat.heartbeat_path(database), beat)
    result = run()
    assert result.returncode == 0 and result.stdout.startswith("healthy"), result.stdout
    stale = heartbeat.Beat(at=time.time() - 2 * heartbeat.STALE_AFTER, pid=1,
                           state=heartbeat.RUNNING, provider="available", servers=1)  # fmt: skip
    heartbeat.write(heartbeat.heartbeat_path(database), stale)
    assert run().returncode == 1


def test_compose_starts_the_live_bot_by_default_and_the_dry_run_on_its_profile():
    services = compose()["services"]
    assert set(services) == {"bot", "bot-dry-run", "simulator", "postgres", *SHARD_SERVICES}
    assert services["bot"]["profiles"] == ["live"]
    assert services["bot-dry-run"]["profiles"] == ["dry-run"]
    assert services["simulator"]["profiles"] == ["dry-run"]
    example = (REPO / ".env.example").read_text().splitlines()
    assert "COMPOSE_PROFILES=live" in example  # what `docker compose up` starts
    for name in ("bot", "bot-dry-run"):
        bot = services[name]
        assert bot["build"] == "." and "command" not in bot  # the image's CMD: python -m bot
        assert bot["env_file"] == ".env"
        assert bot["environment"]["DATABASE_PATH"] == "/data/bot.sqlite3"
    live, dry = (services[n]["volumes"][0].split(":")[0] for n in ("bot", "bot-dry-run"))
    assert live != dry  # a dry run never touches the live quotas and budget


def test_the_dry_run_bot_points_at_the_simulator_that_the_profile_starts():
    services = compose()["services"]
    simulator, bot = services["simulator"], services["bot-dry-run"]
    command = simulator["command"]
    assert command[:3] == ["python", "-m", "bot.simulator"]
    args = simulator_args(command[3:])  # options the simulator really has
    assert args.host == "0.0.0.0"
    assert args.public_origin == f"http://simulator:{args.port}"  # result links the bot can fetch
    assert bot["environment"]["GMI_API_BASE_URL"] == f"http://simulator:{args.port}{API_PREFIX}"
    assert bot["depends_on"]["simulator"]["condition"] == "service_healthy"


async def test_the_simulators_health_check_works(gmi_sim):
    simulator = compose()["services"]["simulator"]
    test = simulator["healthcheck"]["test"]
    assert test[:2] == ["CMD", "python"]
    port = simulator_args(simulator["command"][3:]).port
    ours = gmi_sim.base_origin.rsplit(":", 1)[1]  # the same check, at the test simulator's port
    script = [part.replace(f":{port}/", f":{ours}/") for part in test[2:]]
    process = await asyncio.create_subprocess_exec(sys.executable, *script)
    async with asyncio.timeout(30):
        assert await process.wait() == 0


def test_compose_gives_the_bot_longer_than_its_grace_to_stop():
    grace = Settings.model_fields["shutdown_grace_seconds"].default
    period = compose()["services"]["bot"]["stop_grace_period"]
    assert period.endswith("s") and float(period[:-1]) > grace


def test_the_scale_profile_runs_one_process_per_shard_on_the_postgresql_it_starts():
    services = compose()["services"]
    postgres = services["postgres"]
    assert postgres["profiles"] == ["scale"]
    user, database = postgres["environment"]["POSTGRES_USER"], postgres["environment"]["POSTGRES_DB"]
    assert postgres["healthcheck"]["test"] == [
        "CMD", "pg_isready", "--username", user, "--dbname", database]
    served = []
    for name in SHARD_SERVICES:
        bot = services[name]
        assert bot["profiles"] == ["scale"] and bot["build"] == "." and "command" not in bot
        assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
        env = {key: str(value) for key, value in bot["environment"].items()}
        url = urlsplit(env["DATABASE_URL"])
        assert (url.username, url.hostname, url.path) == (user, "postgres", f"/{database}")
        assert url.password == "${POSTGRES_PASSWORD:-}" == postgres["environment"]["POSTGRES_PASSWORD"]
        env["DATABASE_URL"] = env["DATABASE_URL"].replace(url.password, "from-the-env-file")
        settings = Settings.from_env({"DISCORD_TOKEN": "t", "GMI_API_KEY": "k", **env})
        assert not settings.shards.every_shard  # the budget and the leases are shared
        served += sorted(settings.shards.ids)
        assert settings.shard_count == len(SHARD_SERVICES)
    assert served == list(range(len(SHARD_SERVICES)))  # every shard, each by one process
    assert "POSTGRES_PASSWORD=" in (REPO / ".env.example").read_text().splitlines()


@pytest.mark.parametrize("command", ["docker compose up", "docker compose --profile dry-run up",
                                     "docker compose --profile scale up"])
def test_the_readme_shows_each_way_to_start_it(command):
    assert command in (REPO / "README.md").read_text()
