"""Benchmark: many members generating at once, through the Discord emulator and the GMI
simulator, with the bot as its own process (as in production).

    python -m bench.run --jobs 100 1000

Reports, per N: acknowledgement latency (interaction created -> answered, p50/p99), the
time from the provider finishing a video to the bot posting it (p50/p99), provider calls
per job, the bot process's peak memory (VmHWM), and what Discord's rate limits (enforced by
the emulator) did: 429s the bot got, and the most edits in one channel in any 5 s. Generation is near-instant, so the
figures measure the bot, not the model. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bot.simulator import GMISimulator, Timings, VideoSpec
from tests.fakecord import FakeDiscord

REPO = Path(__file__).resolve().parent.parent
KEY = "bench-key-0123456789abcdef"
MEMBERS = 200
OUTSTANDING_COMMANDS = 50
FOOTER_REQUEST = re.compile(r"request (\S+)")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run_once(jobs: int, poll_interval: float) -> dict[str, float]:
    emu = FakeDiscord()
    guild = emu.add_guild("Bench", boost_tier=0)
    channels = [guild.add_text_channel(f"videos-{i}") for i in range(5)]
    members = [guild.add_member(f"member{i}") for i in range(MEMBERS)]
    posted_at: dict[str, float] = {}  # request id -> when its result message appeared
    publish = emu.rest.publish

    def timed_publish(message):
        for embed in message.embeds:
            match = FOOTER_REQUEST.search((embed.get("footer") or {}).get("text", ""))
            if match and message.reply_to is not None:
                posted_at.setdefault(match.group(1), time.monotonic())
        return publish(message)

    emu.rest.publish = timed_publish
    sim = GMISimulator(
        api_key=KEY,
        timings=Timings(),
        video=VideoSpec(width=160, height=90, duration=1.0, fps=12),
        clock=time.monotonic,
        max_queued=100_000,
    )
    await emu.start()
    await sim.start()
    workdir = Path(tempfile.mkdtemp(prefix="seedance-bench-"))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "DISCORD_TOKEN": emu.token,
        "GMI_API_KEY": KEY,
        "GMI_API_BASE_URL": sim.base_url,
        "DATABASE_PATH": str(workdir / "bench.sqlite3"),
        "COMMAND_GUILD_IDS": str(guild.id),
        "DISCORD_API_BASE_URL": emu.api_base_url,
        "DISCORD_GATEWAY_URL": emu.gateway_url,
        "POLL_MIN_INTERVAL": str(poll_interval),
        "POLL_MAX_INTERVAL": str(poll_interval * 4),
        "EXPECTED_GENERATION_SECONDS": "0",
        "STATUS_EDIT_INTERVAL": "5",
        "LOG_LEVEL": "WARNING",
        "MAX_CONCURRENT_API_CALLS": "8",
    }
    log = (workdir / "bot.log").open("wb")
    bot = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=REPO, env=env, stdout=log, stderr=log
    )
    try:
        await emu.wait_ready(30)
        await emu.wait_for(lambda: emu.syncs, 30, "command sync")
        interactions = []
        slots = asyncio.Semaphore(OUTSTANDING_COMMANDS)

        async def one(i: int) -> None:
            async with slots:
                ix = await emu.run_command(
                    members[i % MEMBERS],
                    channels[i % len(channels)],
                    "video generate",
                    prompt=f"benchmark clip {i}",
                )
                interactions.append(ix)
                await ix.wait_acknowledged(10)

        started = time.monotonic()
        await asyncio.gather(*(one(i) for i in range(jobs)))
        await emu.wait_for(lambda: len(posted_at) >= jobs, max(120, jobs), "every result posted")
        elapsed = time.monotonic() - started
        acks = [ix.acknowledged_after for ix in interactions if ix.acknowledged_after is not None]
        to_post = [
            posted_at[rid] - req.finished_at
            for rid, req in sim.requests.items()
            if rid in posted_at and req.finished_at is not None
        ]
        provider_calls = [c for c in sim.log if c.call in ("submit", "get", "list")]
        return {
            "jobs": jobs,
            "failed_interactions": sum(1 for ix in interactions if ix.failed),
            "ack_p50_ms": percentile(acks, 50) * 1000,
            "ack_p99_ms": percentile(acks, 99) * 1000,
            "finish_to_post_p50_s": percentile(to_post, 50),
            "finish_to_post_p99_s": percentile(to_post, 99),
            "finish_to_post_mean_s": statistics.fmean(to_post) if to_post else float("nan"),
            "provider_calls_per_job": len(provider_calls) / jobs,
            "submits": len(sim.calls("submit")),
            "peak_rss_mib": peak_rss_mib(bot.pid),
            "http_429s": sum(emu.rate_limited_by_route().values()),
            "max_channel_edits_5s": emu.max_channel_edits,
            "wall_s": elapsed,
        }
    finally:
        if bot.returncode is None:
            bot.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(bot.wait(), 10)
            except TimeoutError:
                bot.kill()
                await bot.wait()
        log.close()
        await sim.close()
        await emu.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[100, 1000])
    parser.add_argument(
        "--poll-interval", type=float, default=1.0, help="POLL_MIN_INTERVAL for the bot (seconds)"
    )
    args = parser.parse_args()
    print(
        f"poll interval {args.poll_interval}s, {MEMBERS} members, 5 channels, "
        f"{OUTSTANDING_COMMANDS} commands in flight at most"
    )
    for jobs in args.jobs:
        result = await run_once(jobs, args.poll_interval)
        print(
            " ".join(
                f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()
            ),
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main())
