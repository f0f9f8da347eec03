"""Benchmark: what members get, through the Discord emulator (Discord's rate limits on) and
the GMI simulator, with the bot as its own process running its default settings.

    python -m bench.run                         # realistic: 300 jobs over a minute
    python -m bench.run --mode realistic --jobs 300 --rtt 0.1 --repeat 3
    python -m bench.run --mode burst --jobs 100 500     # simultaneous commands: acknowledgement
    python -m bench.run --mode scale --jobs 10000       # 10,000 jobs in flight in one process
    python -m bench.run --mode restart --jobs 10000     # the same, killed and started again

Modes:

- ``realistic`` (the default): arrivals spread over ``--arrival-seconds`` (a Poisson
  process), 200 members in 5 channels asking for a mix of lengths (4-15 s) and resolutions;
  provider times drawn by `bot.simulator.timings.realistic_timings` (a long-tailed queue,
  then a generation that depends on what was asked: 20-150 s in all). ``--cold`` starts
  from an empty database (no history: the first jobs run on the prior).
- ``burst``: N commands at once; reports the acknowledgement (emulator: interaction
  created -> answered) and the CPU the bot and the emulator spent per command meanwhile.
  ``--floor`` answers them with `bench.floor_bot` instead, a discord.py bot that does
  nothing but answer: the floor under the real bot's figure; ``--floor raw`` answers each
  from the gateway's JSON with a bare POST, below discord.py.
- ``scale``: N jobs submitted, then held by the provider for ``--hold-seconds``: memory,
  CPU while they wait, how late checks run against their plan, the database's size. On a
  fresh database every job is on the prior (a minute or two), so all of them are inside
  their predicted finish window at once, the busiest case; ``--history`` first records
  20 past jobs of each kind that took ``--hold-seconds`` (what a bot that has run a while
  against a provider this slow knows), so they wait as their estimate says. The
  commands' acknowledgement is reported too: they arrive while the first jobs are checked.
- ``restart``: as scale, then SIGKILL and a fresh start on the same database: how soon the
  bot answers commands again, and the provider calls per second right after (no stampede).

Every figure comes from outside the bot (the emulator, the simulator, /proc), except the
scheduler's own lateness and cycle time, which the bot logs. Absolute times vary from run to
run and machine to machine; repeat and read the min and median.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.cli import run_event_loop
from bot.db.database import Database
from bot.db.timings import JobTiming, TimingRepository
from bot.jobs.estimates import job_kind
from bot.params import GenerationRequest
from bot.simulator import GMISimulator, Timings, VideoSpec
from bot.simulator.timings import realistic_timings
from tests.fakecord import FakeDiscord
from tests.fakecord.interactions import InteractionFailed

REPO = Path(__file__).resolve().parent.parent
KEY = "bench-key-0123456789abcdef"
MEMBERS = 200
CHANNELS = 5
FOOTER_REQUEST = re.compile(r"request (\S+)")
DURATIONS = (4, 5, 5, 5, 6, 8, 10, 12, 15)
RESOLUTIONS = ("480p", "720p", "720p", "720p", "1080p")
SCHEDULER_STATS = re.compile(r"scheduler: (in_flight=.*)")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def proc_stat(pid: int) -> tuple[float, float]:
    """(peak RSS in MiB, CPU seconds so far) of a process."""
    rss = float("nan")
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            rss = int(line.split()[1]) / 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss, (int(fields[11]) + int(fields[12])) / ticks


@dataclass
class World:
    emu: FakeDiscord
    sim: GMISimulator
    channels: list[Any]
    members: list[Any]
    workdir: Path
    posted_at: dict[str, float] = field(default_factory=dict)
    bot: asyncio.subprocess.Process | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / "bot.log"


async def make_world(args: argparse.Namespace, workdir: Path) -> World:
    emu = FakeDiscord()
    guild = emu.add_guild("Bench", boost_tier=0)
    channels = [guild.add_text_channel(f"videos-{i}") for i in range(CHANNELS)]
    members = [guild.add_member(f"member{i}") for i in range(MEMBERS)]
    if args.mode in ("scale", "restart"):
        timings: Any = Timings(processing=args.hold_seconds)
        profile = None
    else:
        timings = Timings()
        profile = realistic_timings(random.Random(args.seed))
    sim = GMISimulator(
        api_key=KEY,
        timings=timings,
        timing_profile=profile,
        video=VideoSpec(width=160, height=90, duration=1.0, fps=12),
        clock=time.monotonic,
        max_queued=1_000_000,
        latency=args.rtt,
    )
    world = World(emu, sim, channels, members, workdir)
    publish = emu.rest.publish

    def timed_publish(message: Any) -> Any:
        for embed in message.embeds:
            match = FOOTER_REQUEST.search((embed.get("footer") or {}).get("text", ""))
            if match and message.reply_to is not None:
                world.posted_at.setdefault(match.group(1), time.monotonic())
        return publish(message)

    emu.rest.publish = timed_publish
    await emu.start()
    await sim.start()
    return world


async def start_bot(world: World, extra_env: dict[str, str], module: str = "bot") -> None:
    emu = world.emu
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "DISCORD_TOKEN": emu.token,
        "GMI_API_KEY": KEY,
        "GMI_API_BASE_URL": world.sim.base_url,
        "DATABASE_PATH": str(world.workdir / "bench.sqlite3"),
        "COMMAND_GUILD_IDS": str(world.channels[0].guild.id),
        "DISCORD_API_BASE_URL": emu.api_base_url,
        "DISCORD_GATEWAY_URL": emu.gateway_url,
        "LOG_LEVEL": "INFO",
        "ALLOW_PRIVATE_MEDIA_URLS": "true",
        **extra_env,
    }
    log = world.log_path.open("ab")
    identified = emu.gateway.identifies
    world.bot = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, cwd=world.workdir, env=env, stdout=log, stderr=log
    )
    log.close()
    await emu.wait_for(lambda: emu.gateway.identifies > identified, 120, "the bot to connect")


async def stop_bot(world: World, sig: int = signal.SIGTERM) -> None:
    bot = world.bot
    if bot is None or bot.returncode is not None:
        return
    bot.send_signal(sig)
    try:
        await asyncio.wait_for(bot.wait(), 30)
    except TimeoutError:
        bot.kill()
        await bot.wait()


def command(world: World, i: int, rng: random.Random) -> tuple[Any, Any, dict[str, Any]]:
    options = {
        "prompt": f"benchmark clip {i}",
        "duration": rng.choice(DURATIONS),
        "resolution": rng.choice(RESOLUTIONS),
    }
    return world.members[i % MEMBERS], world.channels[i % CHANNELS], options


async def ask(world: World, jobs: int, arrival_seconds: float, rng: random.Random) -> list[Any]:
    """Send ``jobs`` commands, spread over ``arrival_seconds`` (0: all at once)."""
    interactions: list[Any] = []
    gap = arrival_seconds / jobs if arrival_seconds else 0.0
    started = time.monotonic()
    due = 0.0
    pending = []
    for i in range(jobs):
        if gap:
            due += rng.expovariate(1 / gap)
            await asyncio.sleep(max(0.0, started + due - time.monotonic()))
        member, channel, options = command(world, i, rng)
        ix = await world.emu.run_command(member, channel, "video generate text", **options)
        interactions.append(ix)
        pending.append(asyncio.ensure_future(ix.wait_acknowledged(20)))
    for outcome in await asyncio.gather(*pending, return_exceptions=True):
        if isinstance(outcome, BaseException) and not isinstance(outcome, InteractionFailed):
            raise outcome
    return interactions  # the ones Discord would have failed are counted (``ix.failed``)


def refused(interactions: list[Any]) -> int:
    """Commands answered only privately: refused, nothing stored or submitted (too busy to
    store the job in time, say)."""
    return sum(1 for ix in interactions if not ix.failed and not ix.public_messages)


def acknowledgements(interactions: list[Any]) -> dict[str, Any]:
    """How fast the commands were answered (emulator: created -> callback), how many were
    not answered within Discord's 3 s, and how many were `refused`."""
    acks = [ix.acknowledged_after for ix in interactions if ix.acknowledged_after is not None]
    return {
        "failed_interactions": sum(1 for ix in interactions if ix.failed),
        "refused_interactions": refused(interactions),
        "ack_p50_ms": percentile(acks, 50) * 1000,
        "ack_p99_ms": percentile(acks, 99) * 1000,
        "ack_max_ms": max(acks) * 1000,
    }


def calls_per_request(sim: GMISimulator) -> list[int]:
    counts: dict[str, int] = {}
    for call in sim.log:
        if call.call in ("submit", "get") and call.request_id:
            counts[call.request_id] = counts.get(call.request_id, 0) + 1
    return list(counts.values())


def scheduler_stats(world: World) -> dict[str, str]:
    """The last statistics line the bot's scheduler logged."""
    found: dict[str, str] = {}
    for line in world.log_path.read_text(errors="replace").splitlines():
        match = SCHEDULER_STATS.search(line)
        if match:
            found = dict(part.split("=", 1) for part in match.group(1).split(", ") if "=" in part)
    return found


async def realistic(args: argparse.Namespace, jobs: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="seedance-bench-"))
    world = await make_world(args, workdir)
    rng = random.Random(args.seed)
    try:
        if not args.cold:  # a server that has run a while: the estimate has history
            await start_bot(world, {})
            warm = await ask(world, min(60, jobs), 20.0, rng)
            await world.emu.wait_for(lambda: len(world.posted_at) >= len(warm), 900, "warm-up")
            await stop_bot(world)
            world.posted_at.clear()
            world.sim.log.clear()
            world.sim.requests.clear()
        limited_before = sum(world.emu.rate_limited_by_route().values())
        await start_bot(world, {})
        _, cpu_before = proc_stat(world.bot.pid)  # type: ignore[union-attr]
        started = time.monotonic()
        interactions = await ask(world, jobs, args.arrival_seconds, rng)
        await world.emu.wait_for(lambda: len(world.posted_at) >= jobs, 1800, "every result")
        elapsed = time.monotonic() - started
        rss, cpu = proc_stat(world.bot.pid)  # type: ignore[union-attr]
        sim = world.sim
        acks = [ix.acknowledged_after for ix in interactions if ix.acknowledged_after is not None]
        delays = [
            world.posted_at[rid] - req.finished_at
            for rid, req in sim.requests.items()
            if rid in world.posted_at and req.finished_at is not None
        ]
        lists = len(sim.calls("list"))
        return {
            "jobs": jobs,
            "failed_interactions": sum(1 for ix in interactions if ix.failed),
            "ack_p50_ms": percentile(acks, 50) * 1000,
            "ack_p99_ms": percentile(acks, 99) * 1000,
            "finish_to_post_p50_s": percentile(delays, 50),
            "finish_to_post_p95_s": percentile(delays, 95),
            "finish_to_post_max_s": max(delays) if delays else float("nan"),
            "provider_calls_per_job_median": statistics.median(calls_per_request(sim)),
            "provider_calls_per_job_mean": (sum(calls_per_request(sim)) + lists) / jobs,
            "lists": lists,
            "max_channel_edits_5s": world.emu.max_channel_edits,
            "discord_429s": sum(world.emu.rate_limited_by_route().values()) - limited_before,
            "peak_rss_mib": rss,
            "cpu_percent": 100 * (cpu - cpu_before) / elapsed,
            "wall_s": elapsed,
        }
    finally:
        await stop_bot(world)
        await world.sim.close()
        await world.emu.close()


async def burst(args: argparse.Namespace, jobs: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="seedance-bench-"))
    world = await make_world(args, workdir)
    try:
        if args.floor:
            await start_bot(world, {"FLOOR_ANSWER": args.floor}, "bench.floor_bot")
        else:
            await start_bot(world, {}, "bot")
        assert world.bot is not None
        _, bot_before = proc_stat(world.bot.pid)
        _, harness_before = proc_stat(os.getpid())
        interactions = await ask(world, jobs, 0.0, random.Random(args.seed))
        _, bot_after = proc_stat(world.bot.pid)
        _, harness_after = proc_stat(os.getpid())
        return {
            "jobs": jobs,
            **acknowledgements(interactions),
            # CPU while the burst was answered, per command: the bot (whatever else it did
            # meanwhile included), and the emulator that sent and answered it
            "bot_cpu_ms_per_command": 1000 * (bot_after - bot_before) / jobs,
            "harness_cpu_ms_per_command": 1000 * (harness_after - harness_before) / jobs,
        }
    finally:
        await stop_bot(world)
        await world.sim.close()
        await world.emu.close()


async def seed_history(world: World, seconds: float, per_kind: int = 20) -> None:
    """What a bot that has run a while against a provider this slow has learned: for each
    kind of job the benchmark asks for, ``per_kind`` finished ones that took about
    ``seconds`` each, in the last hour."""
    db = await Database.open(world.workdir / "bench.sqlite3")
    timings = TimingRepository(db)
    rng = random.Random(7)
    now = time.time()
    job_id = 0
    try:
        for duration in sorted(set(DURATIONS)):
            for resolution in sorted(set(RESOLUTIONS)):
                kind = job_kind(GenerationRequest("x", duration=duration, resolution=resolution))
                for _ in range(per_kind):
                    job_id -= 1  # no job of the run has such an id
                    took = seconds * rng.uniform(0.9, 1.1)
                    finished = now - rng.uniform(0, 3600)
                    await timings.add(job_id, JobTiming(kind, 1.0, took, took + 1.0, finished))
    finally:
        await db.close()


async def scale(args: argparse.Namespace, jobs: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="seedance-bench-"))
    world = await make_world(args, workdir)
    budget = {"GMI_REQUESTS_PER_HOUR": str(args.budget)}
    try:
        if args.history:
            await seed_history(world, args.hold_seconds)
        await start_bot(world, budget)
        started = time.monotonic()
        _, harness_before = proc_stat(os.getpid())
        interactions = await ask(world, jobs, args.arrival_seconds, random.Random(args.seed))
        _, harness_after = proc_stat(os.getpid())
        harness_cpu = 100 * (harness_after - harness_before) / (time.monotonic() - started)
        answered = acknowledgements(interactions)
        # Withdrawn (answered too late) or refused unstored: never submitted
        unstored = answered["failed_interactions"] + answered["refused_interactions"]
        await world.emu.wait_for(
            lambda: len(world.sim.requests) >= jobs - unstored, 1800, "every job submitted"
        )
        submitted = time.monotonic() - started
        await asyncio.sleep(args.settle)  # let the checks settle into their plan
        pid = world.bot.pid  # type: ignore[union-attr]
        _, cpu_a = proc_stat(pid)
        calls_a = len(world.sim.log)
        window_started = time.monotonic()
        await asyncio.sleep(args.window)
        window = time.monotonic() - window_started
        rss, cpu_b = proc_stat(pid)
        result: dict[str, Any] = {
            "jobs_in_flight": jobs,
            "submit_all_s": submitted,
            # Answered while the first jobs are checked; the emulator and the simulator share
            # this process: at 100 % of a core it, not the bot, is what the figures measure.
            **answered,
            "harness_cpu_percent_asking": harness_cpu,
            "peak_rss_mib": rss,
            "cpu_percent_waiting": 100 * (cpu_b - cpu_a) / window,
            "provider_calls_per_s": (len(world.sim.log) - calls_a) / window,
            **{f"scheduler_{k}": v for k, v in scheduler_stats(world).items()},
        }
        if args.mode == "restart":
            result.update(await restart(world, jobs))
        return result
    finally:
        await stop_bot(world)
        await world.sim.close()
        await world.emu.close()


async def restart(world: World, jobs: int) -> dict[str, Any]:
    await stop_bot(world, signal.SIGKILL)
    calls_before = len(world.sim.log)
    started = time.monotonic()
    await start_bot(world, {"GMI_REQUESTS_PER_HOUR": "36000"})
    member, channel = world.members[0], world.channels[0]
    ix = await world.emu.run_command(member, channel, "video quota")
    await ix.wait_acknowledged(30)
    answering = time.monotonic() - started
    per_second: list[int] = []
    for _ in range(10):
        before = len(world.sim.log)
        await asyncio.sleep(1.0)
        per_second.append(len(world.sim.log) - before)
    return {
        "restart_answers_after_s": answering,
        "restart_calls_per_s_first_10s_max": max(per_second),
        "restart_calls_first_10s": len(world.sim.log) - calls_before,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("realistic", "burst", "scale", "restart"),
                        default="realistic")
    parser.add_argument("--jobs", type=int, nargs="+", default=None)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--rtt", type=float, default=0.0, help="provider round trip, seconds")
    parser.add_argument("--arrival-seconds", type=float, default=60.0)
    parser.add_argument("--cold", action="store_true", help="start with no history")
    parser.add_argument("--history", action="store_true",
                        help="scale: the estimator knows the jobs take about --hold-seconds")
    parser.add_argument("--floor", nargs="?", const="discord.py", choices=("discord.py", "raw"),
                        help="burst: answer with bench.floor_bot instead (discord.py alone; "
                             "raw: a bare POST from the gateway's JSON)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hold-seconds", type=float, default=3600.0)
    parser.add_argument("--settle", type=float, default=60.0)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--budget", type=float, default=3_600_000.0,
                        help="GMI_REQUESTS_PER_HOUR for scale runs")
    args = parser.parse_args()
    defaults = {"realistic": [300], "burst": [100, 500], "scale": [10000], "restart": [10000]}
    run = {"realistic": realistic, "burst": burst, "scale": scale, "restart": scale}[args.mode]
    print(f"mode={args.mode} rtt={args.rtt}s cores={os.cpu_count()} "
          f"{MEMBERS} members in {CHANNELS} channels, default settings", flush=True)
    for jobs in args.jobs or defaults[args.mode]:
        for _ in range(args.repeat):
            result = await run(args, jobs)
            print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in result.items()), flush=True)


if __name__ == "__main__":
    # The emulator and the simulator stand in for Discord and GMI, whose work is not on the
    # bot's machine: on uvloop they take less of the cores they share with the bot here.
    run_event_loop(main())
