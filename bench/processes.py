"""Benchmark: several bot processes on one PostgreSQL against one process on SQLite, with a
process killed with SIGKILL mid-run and started again.

    python -m bench.processes           # 10,000 jobs: 3 and 6 processes, then SQLite
    python -m bench.processes --jobs 2000 --processes 3 --no-sqlite --repeat 3

Each run starts the Discord emulator and the GMI simulator in this process, a throwaway
PostgreSQL server (``tests.support.postgres``, durable: fsync and synchronous commits as
PostgreSQL ships them, on the same disk as the SQLite file) and the bot processes
(``python -m bot``, default settings but the ones listed below), one per shard of
``SHARD_COUNT``. Twelve servers (two per shard of six, so four per shard of three) of five
channels and twenty members each send ``--jobs`` commands, a Poisson stream over
``--arrival-seconds``; the provider's times are `realistic_timings` (a long-tailed queue,
then a generation that depends on the length and resolution asked) scaled by
``--time-scale``. Halfway through the commands, the first process is killed with SIGKILL
and started again ``--down-seconds`` later; meanwhile new commands go to the other shards'
servers (its own servers' commands would fail, as on Discord). The SQLite run is one
process serving every shard, not killed: the throughput to compare with.

What is counted, from outside the bot (the emulator and the simulator): jobs accepted (a
public status message), lost (accepted, no result posted by the end), posted twice (more
than one result replying to one status message), extra submits (provider requests beyond
one per accepted job), provider calls per job (submits, status checks and lists, per
accepted job), throughput (accepted jobs / seconds from the first command to the last
result), acknowledgement times (the emulator: interaction created to answered),
finish-to-post times (the simulator's finish to the first result post), and CPU seconds
per 1,000 jobs of the bot processes and of the PostgreSQL server with its backends (from
``/proc``; SQLite's work is inside the bot process).

Settings that differ from the defaults, and why: ``GMI_REQUESTS_PER_HOUR=3600000`` (at the
default 36,000 an hour, 10,000 jobs' ~35,000 calls take an hour whatever the database);
Discord's rate limits are off in the emulator (its global 50 requests/s per bot, shared by
every process, would cap 10,000 jobs' ~40,000 requests at ~15 minutes whatever the bot;
the README's REST proxy is how a real deployment shares it); ``ALLOW_PRIVATE_MEDIA_URLS``
(the simulator serves the videos on 127.0.0.1).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.run import (
    DURATIONS,
    FOOTER_REQUEST,
    KEY,
    REPO,
    RESOLUTIONS,
    percentile,
    proc_stat,
    refused,
)
from bot.cli import run_event_loop
from bot.simulator import GMISimulator, Timings, VideoSpec
from bot.simulator.timings import realistic_timings
from tests.fakecord import FakeDiscord
from tests.support.postgres import PostgresServer

SERVERS = 12
SHARDS_OF_SERVERS = 6  # server i is on shard i % 6 of six, so on i % 3 of three
CHANNELS = 5
MEMBERS = 20
WARM_UP = 200  # jobs before the measured ones: the finish-time estimate learns from them
STARTED = "started (pid"


@dataclass
class Process:
    shard: int | None  # None: every shard (the SQLite run)
    env: dict[str, str]
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    cpu_seconds: float = 0.0  # of the runs before the current one

    async def start(self) -> None:
        starts = self.log.count(STARTED)
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", cwd=REPO, env=self.env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 120
        while self.log.count(STARTED) <= starts:  # noqa: ASYNC110 - a log file has no event
            if self.process.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"a bot process did not start:\n{self.log[-3000:]}")
            await asyncio.sleep(0.1)

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def cpu(self) -> float:
        if self.process is None or self.process.returncode is not None:
            return self.cpu_seconds
        return self.cpu_seconds + proc_stat(self.process.pid)[1]

    async def kill(self) -> None:
        assert self.process is not None
        self.cpu_seconds = self.cpu()
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 40)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


@dataclass
class World:
    emu: FakeDiscord
    sim: GMISimulator
    servers: list[Any]
    replies: collections.Counter[int] = field(default_factory=collections.Counter)
    posted_at: dict[str, float] = field(default_factory=dict)  # the first post, by request id
    last_reply_at: float = 0.0
    sent_at: dict[int, float] = field(default_factory=dict)  # by id() of the interaction
    restarting: tuple[float, float] | None = None  # from the kill to 10 s after the restart


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, every core (``/proc/stat``)."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    ticks = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - idle) / ticks, sum(fields) / ticks


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children, the ones it reaped and the live ones
    (PostgreSQL: the postmaster, its backends and background workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if stat.parent.name == str(pid):  # its own time and its reaped children's
                total += sum(int(x) for x in fields[11:15]) / ticks
            elif int(fields[1]) == pid:
                total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def scaled(profile: Any, factor: float) -> Any:
    def draw(payload: dict[str, Any]) -> Timings:
        t = profile(payload)
        return Timings(queued=t.queued * factor, dispatched=t.dispatched * factor,
                       processing=t.processing * factor)  # fmt: skip

    return draw


async def make_world(args: argparse.Namespace) -> World:
    emu = FakeDiscord(rate_limits=False)
    servers = emu.add_guilds(
        SERVERS, shard_count=SHARDS_OF_SERVERS, name="Bench",
        channels=tuple(f"videos-{i}" for i in range(CHANNELS)),
        members=tuple(f"member{i}" for i in range(MEMBERS)),
    )  # fmt: skip
    sim = GMISimulator(
        api_key=KEY,
        timings=Timings(),
        timing_profile=scaled(realistic_timings(random.Random(args.seed)), args.time_scale),
        video=VideoSpec(width=160, height=90, duration=1.0, fps=12),
        clock=time.monotonic,
        max_queued=1_000_000,
        latency=args.rtt,
    )
    world = World(emu, sim, servers)
    publish = emu.rest.publish

    def count_results(message: Any) -> Any:
        if message.reply_to is not None and message.embeds:
            world.replies[message.reply_to] += 1
            world.last_reply_at = time.monotonic()
            for embed in message.embeds:
                match = FOOTER_REQUEST.search((embed.get("footer") or {}).get("text", ""))
                if match:
                    world.posted_at.setdefault(match.group(1), world.last_reply_at)
        return publish(message)

    emu.rest.publish = count_results
    await emu.start()
    await sim.start()
    return world


def bot_env(world: World, database: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "DISCORD_TOKEN": world.emu.token,
        "GMI_API_KEY": KEY,
        "GMI_API_BASE_URL": world.sim.base_url,
        "COMMAND_GUILD_IDS": ",".join(str(server.id) for server in world.servers),
        "DISCORD_API_BASE_URL": world.emu.api_base_url,
        "DISCORD_GATEWAY_URL": world.emu.gateway_url,
        "GMI_REQUESTS_PER_HOUR": "3600000",
        "ALLOW_PRIVATE_MEDIA_URLS": "true",
        "LOG_LEVEL": "INFO",
        **database,
        **extra,
    }


async def ask(
    world: World, jobs: int, arrival_seconds: float, rng: random.Random,
    live: Any, at_half: Any = None,
) -> list[Any]:  # fmt: skip
    """``jobs`` commands, a Poisson stream over ``arrival_seconds``, each to a server whose
    shard ``live(server)`` says is served; ``at_half`` runs (in the background) halfway."""
    interactions: list[Any] = []
    sent_at: dict[int, float] = {}
    acked = []
    gap = arrival_seconds / jobs
    started = time.monotonic()
    due = 0.0
    background = None
    for i in range(jobs):
        due += rng.expovariate(1 / gap)
        await asyncio.sleep(max(0.0, started + due - time.monotonic()))
        if at_half is not None and i == jobs // 2:
            background = asyncio.ensure_future(at_half())
        server = rng.choice([s for s in world.servers if live(s)])
        member = server.member(f"member{rng.randrange(MEMBERS)}")
        channel = server.channel(f"videos-{rng.randrange(CHANNELS)}")
        options = {"prompt": f"benchmark clip {i}", "duration": rng.choice(DURATIONS),
                   "resolution": rng.choice(RESOLUTIONS)}  # fmt: skip
        ix = await world.emu.run_command(member, channel, "video generate text", **options)
        interactions.append(ix)
        sent_at[id(ix)] = time.monotonic()
        acked.append(asyncio.ensure_future(ix.wait_acknowledged(30)))
    await asyncio.gather(*acked, return_exceptions=True)
    if background is not None:
        await background
    world.sent_at = sent_at
    return interactions


async def wait_for_results(world: World, statuses: list[int], within: float) -> None:
    deadline = time.monotonic() + within
    while any(world.replies[s] == 0 for s in statuses):  # noqa: ASYNC110
        if time.monotonic() > deadline:
            return
        await asyncio.sleep(0.5)
    await asyncio.sleep(5.0)  # anything posted twice would show by now


async def one_run(args: argparse.Namespace, processes: int | None) -> dict[str, Any]:
    """``processes`` bot processes on PostgreSQL, or (None) one on SQLite."""
    workdir = Path(tempfile.mkdtemp(prefix="seedance-bench-"))
    world = await make_world(args)
    bots: list[Process] = []
    server: PostgresServer | None = None
    cleanup = contextlib.AsyncExitStack()
    try:
        if processes is None:
            database = {"DATABASE_PATH": str(workdir / "bench.sqlite3")}
            bots = [Process(None, bot_env(world, database, {}), workdir / "bot.log")]
        else:
            server = PostgresServer.start(durable=True, parent=Path(tempfile.gettempdir()))
            cleanup.callback(server.stop)
            url = await cleanup.enter_async_context(server.new_database(migrated=False))
            database = {"DATABASE_URL": url, "DATABASE_PATH": str(workdir / "bot.sqlite3")}
            shards = [
                {"SHARD_COUNT": str(processes), "SHARD_IDS": str(i)} for i in range(processes)
            ]
            bots = [
                Process(i, bot_env(world, database, shard), workdir / f"bot-{i}.log")
                for i, shard in enumerate(shards)
            ]
        await asyncio.gather(*(bot.start() for bot in bots))
        rng = random.Random(args.seed)
        warm = await ask(world, WARM_UP, WARM_UP / 20, rng, live=lambda s: True)
        warm_statuses = [ix.original_message.id for ix in warm if ix.public_messages]
        await wait_for_results(world, warm_statuses, 600)
        world.sim.log.clear()
        world.sim.requests.clear()
        world.replies.clear()

        down: set[int] = set()
        victim = bots[0]

        async def kill_and_restart() -> None:
            if processes is None:
                return
            down.add(0)
            killed = time.monotonic()
            await victim.kill()
            await asyncio.sleep(args.down_seconds)
            await victim.start()
            down.discard(0)
            world.restarting = (killed, time.monotonic() + 10)

        def live(server: Any) -> bool:
            return processes is None or (server.id >> 22) % processes not in down

        cpu_before = sum(bot.cpu() for bot in bots)
        db_cpu_before = tree_cpu(server.process.pid) if server is not None else 0.0
        machine_before, driver_before = machine_cpu(), time.process_time()
        started = time.monotonic()
        asked = await ask(world, args.jobs, args.arrival_seconds, rng, live,
                          at_half=kill_and_restart if args.kill else None)  # fmt: skip
        accepted = [ix for ix in asked if ix.public_messages]
        statuses = [ix.original_message.id for ix in accepted]
        await wait_for_results(world, statuses, args.settle)
        elapsed = world.last_reply_at - started
        cpu = sum(bot.cpu() for bot in bots) - cpu_before
        db_cpu = tree_cpu(server.process.pid) - db_cpu_before if server is not None else 0.0
        (busy, total), driver = machine_cpu(), time.process_time() - driver_before
        machine_busy = (busy - machine_before[0]) / (total - machine_before[1])
        sim = world.sim
        acks = [ix.acknowledged_after for ix in asked if ix.acknowledged_after is not None]
        delays = [
            world.posted_at[rid] - request.finished_at
            for rid, request in sim.requests.items()
            if rid in world.posted_at and request.finished_at is not None
        ]
        calls = len(sim.calls("submit")) + len(sim.calls("get")) + len(sim.calls("list"))
        return {
            "processes": processes or 1,
            "database": "sqlite" if processes is None else "postgresql",
            "commands": len(asked),
            "accepted": len(accepted),
            "failed_interactions": sum(1 for ix in asked if ix.failed),
            "refused_interactions": refused(asked),
            "failed_around_the_restart": sum(
                1 for ix in asked if ix.failed and world.restarting is not None
                and world.restarting[0] <= world.sent_at[id(ix)] <= world.restarting[1]
            ),
            "lost": sum(1 for s in statuses if world.replies[s] == 0),
            "posted_twice": sum(1 for s in statuses if world.replies[s] > 1),
            "extra_submits": len(sim.requests) - len(accepted),
            "provider_calls_per_job": calls / max(1, len(accepted)),
            "jobs_per_s": len(accepted) / elapsed,
            "wall_s": elapsed,
            "ack_p50_ms": percentile(acks, 50) * 1000,
            "ack_p99_ms": percentile(acks, 99) * 1000,
            "finish_to_post_p50_s": percentile(delays, 50),
            "finish_to_post_p95_s": percentile(delays, 95),
            "finish_to_post_max_s": max(delays, default=float("nan")),
            "bot_cpu_s_per_1000_jobs": 1000 * cpu / max(1, len(accepted)),
            # the PostgreSQL server, its backends included (SQLite's work is in the bot's)
            "db_cpu_s_per_1000_jobs": 1000 * db_cpu / max(1, len(accepted)),
            # the emulator, the simulator and this driver: one event loop, at most one core
            "emulator_cpu_percent": 100 * driver / (time.monotonic() - started),
            "machine_busy_percent": 100 * machine_busy,  # every core, this run and the others'
        }
    finally:
        await asyncio.gather(*(bot.stop() for bot in bots))
        await cleanup.aclose()
        await world.sim.close()
        await world.emu.close()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n", 1)[0].replace("\n", " "),
    )
    add = parser.add_argument
    add("--jobs", type=int, default=10_000,
        help="measured commands per run, after a warm-up (%(default)s)")
    add("--processes", type=int, nargs="*", default=[3, 6],
        help="PostgreSQL runs: this many processes, one shard each (%(default)s)")
    add("--no-sqlite", dest="sqlite", action="store_false", help="skip the SQLite run")
    add("--no-kill", dest="kill", action="store_false", help="kill no process")
    add("--repeat", type=int, default=1, help="runs of each configuration (%(default)s)")
    add("--arrival-seconds", type=float, default=300.0,
        help="the commands arrive over this (%(default)s)")
    add("--time-scale", type=float, default=0.1,
        help="provider times: realistic_timings times this (%(default)s)")
    add("--down-seconds", type=float, default=5.0,
        help="from the SIGKILL to the restart (%(default)s)")
    add("--settle", type=float, default=900.0,
        help="at most this long for the last results (%(default)s)")
    add("--rtt", type=float, default=0.0, help="provider round trip, seconds (%(default)s)")
    add("--seed", type=int, default=1, help="commands and provider times (%(default)s)")
    args = parser.parse_args()
    print(f"jobs={args.jobs} arrival={args.arrival_seconds}s time_scale={args.time_scale} "
          f"kill={args.kill} cores={os.cpu_count()} {SERVERS} servers x {CHANNELS} channels "
          f"x {MEMBERS} members", flush=True)  # fmt: skip
    runs: list[int | None] = list(args.processes) + ([None] if args.sqlite else [])
    for processes in runs:
        results = []
        for _ in range(args.repeat):
            result = await one_run(args, processes)
            print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in result.items()), flush=True)  # fmt: skip
            results.append(result)
        if len(results) > 1:
            for key in ("jobs_per_s", "provider_calls_per_job", "ack_p50_ms", "ack_p99_ms",
                        "finish_to_post_p50_s", "finish_to_post_p95_s",
                        "bot_cpu_s_per_1000_jobs", "db_cpu_s_per_1000_jobs"):
                values = [r[key] for r in results]
                print(f"  {key}: min {min(values):.2f} median {statistics.median(values):.2f}")


if __name__ == "__main__":
    run_event_loop(main())  # the harness on uvloop, as `bench.run`
