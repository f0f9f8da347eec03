"""``python -m bot [run | doctor | healthcheck]``: the operator's commands.

``run`` (the default, what the Procfile and the container start) runs the bot until SIGTERM
or SIGINT, then stops it gracefully. ``doctor`` checks a setup and prints a table
(`bot.doctor`); ``healthcheck`` reads the running bot's heartbeat (`bot.heartbeat`).
``--help`` explains the subcommands and every setting without starting anything; the
settings' explanations are read from ``.env.example``, their one written home.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
import textwrap
import time
from collections.abc import Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from dotenv import find_dotenv, load_dotenv

from bot import VERSION, chaos, heartbeat
from bot.app import VideoBot
from bot.discord_endpoints import point_discord_at
from bot.logs import configure_logging
from bot.settings import Settings, SettingsError, environment_secrets

log = logging.getLogger("bot")
T = TypeVar("T")

ENV_EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"
SUBCOMMANDS = {
    "run": "start the bot (the default): it runs until SIGTERM or SIGINT, then stops "
    "gracefully within SHUTDOWN_GRACE_SECONDS",
    "doctor": "check the settings, the Discord token, the bot's permissions in each server, "
    "the GMI key, base URL and model, the database and ffmpeg; print a table; exit 0 only "
    "if nothing failed",
    "healthcheck": "exit 0 if the running bot's heartbeat is fresh (for container health "
    "checks), 1 if not",
}


def setting_docs(example: Path = ENV_EXAMPLE) -> list[tuple[list[str], str]]:
    """(names, explanation) for each group of ``NAME=`` lines in ``.env.example``: the
    comment lines right above a group explain every name in it (a group with none is
    explained by its section's title)."""
    try:
        lines = example.read_text().splitlines()
    except OSError:
        return []
    groups: list[tuple[list[str], str]] = []
    section = ""
    comment: list[str] = []
    names: list[str] = []

    def end_group() -> None:
        if names:
            groups.append((list(names), " ".join(comment) or section))
        comment.clear()
        names.clear()

    for line in lines:
        text = line.strip()
        if text.startswith("# ---"):
            end_group()
            section = text.strip("#- ")
        elif text.startswith("#"):
            if names:
                end_group()
            comment.append(text.lstrip("#").strip())
        elif "=" in text:
            names.append(text.split("=", 1)[0].strip())
        else:
            end_group()
    end_group()
    return groups


def _default(name: str) -> str:
    field = Settings.model_fields[name]
    if field.is_required():
        return "required"
    value = field.default
    if value is None or value == ():
        return "default: empty"
    return f"default: {value}"


def settings_help(width: int = 88) -> str:
    """Every setting with its default and what it does, in ``.env.example``'s order."""
    known = {name.upper(): name for name in Settings.model_fields}
    out = ["settings (environment variables, or a .env file in the current directory):"]
    documented: set[str] = set()
    for names, text in setting_docs():
        names = [n for n in names if n in known]
        if not names:
            continue
        documented.update(names)
        out += [f"  {name} ({_default(known[name])})" for name in names]
        out += textwrap.wrap(text, width, initial_indent="      ", subsequent_indent="      ")
    for name in sorted(set(known) - documented):
        out.append(f"  {name} ({_default(known[name])})")
    return "\n".join(out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description=f"Seedance video bot {VERSION}: Seedance 2.0 Fast videos for Discord "
        "servers, through GMI Cloud's request-queue API.",
        epilog=settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {VERSION}")
    commands = parser.add_subparsers(dest="command", metavar="{run,doctor,healthcheck}")
    for name, text in SUBCOMMANDS.items():
        commands.add_parser(name, help=text, description=text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    load_dotenv(find_dotenv(usecwd=True))  # the .env of the directory it is started from
    try:
        if args.command == "doctor":
            from bot.doctor import doctor

            # the table is the output
            configure_logging("CRITICAL", secrets=environment_secrets(os.environ))
            return asyncio.run(doctor())
        if args.command == "healthcheck":
            return healthcheck()
        return run()
    except KeyboardInterrupt:  # before the bot's own signal handlers are in place
        return 130


def load_settings(env: Mapping[str, str] | None = None) -> Settings | None:
    """The settings, or ``None`` after printing every problem."""
    try:
        return Settings.from_env(env)
    except SettingsError as error:
        print(
            "The bot cannot start; fix these settings (in .env or the environment):",
            file=sys.stderr,
        )
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        return None


def healthcheck() -> int:
    settings = load_settings()
    if settings is None:
        return 1
    beat = heartbeat.read(heartbeat.heartbeat_path(settings.database_path, settings.shard_ids))
    healthy, why = heartbeat.verdict(beat, time.time())
    print(f"{'healthy' if healthy else 'unhealthy'}: {why}")
    return 0 if healthy else 1


def run() -> int:
    settings = load_settings()
    if settings is None:
        return 2
    configure_logging(settings.log_level, secrets=settings.secrets)
    point_discord_at(settings.discord_api_base_url, settings.discord_gateway_url)
    chaos.arm(settings.chaos_kill_at)
    return run_event_loop(serve(settings))


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run the process's ``main`` on uvloop where it is installed (not on Windows), else on
    asyncio's own loop. libuv's loop costs less per socket event and callback: a burst of
    500 commands was answered 10-15 % sooner at p99 on the 2-core development machine.

    What was imported by then lives as long as the process, so it is frozen out of the
    garbage collector first: each full collection walked those 100,000 objects again
    (65-75 ms there, once in every burst of 500 commands, with the answers waiting)."""
    gc.collect()
    gc.freeze()
    try:
        import uvloop
    except ImportError:  # pragma: no cover - installed everywhere but Windows
        return asyncio.run(main)
    return uvloop.run(main)


async def serve(settings: Settings) -> int:
    """Run the bot until it fails (exit 1) or a SIGTERM/SIGINT stops it gracefully (exit 0)."""
    bot = VideoBot(settings)
    stop = asyncio.Event()

    def stop_requested(sig: signal.Signals) -> None:
        if stop.is_set():
            log.info("%s received again; already stopping", sig.name)
            return
        log.info("%s received: stopping gracefully", sig.name)
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_requested, sig)
    async with bot:
        running = asyncio.create_task(bot.start(settings.discord_token), name="discord")
        stopping = asyncio.create_task(stop.wait(), name="stop-signal")
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if stop.is_set():
            if not bot.set_up:  # still logging in or setting up: nothing is in flight
                running.cancel()
            await bot.shutdown(settings.shutdown_grace_seconds)
        try:
            await running
        except asyncio.CancelledError:
            pass
        except Exception as error:  # login refused, gateway unreachable...
            log.error("the bot stopped: %s", error)
            return 1
    return 0
