"""``python -m bench.chaos``: N jobs through a bot that is SIGKILLed at random instants and
at every named instant of a job's life, with faults from both sides; one table per run.

    python -m bench.chaos                        # 40 jobs, at least 50 kills
    python -m bench.chaos --jobs 40 --kills 50 --repeat 2 --seed 7

The target is 0 in every column but jobs and kills; a run that misses it prints what went
wrong, job by job, and exits 1. Each run keeps its database and the bot's log in the
directory it names.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from bot.chaos import POINTS

from .audit import COLUMNS
from .driver import ChaosConfig, Report, run_chaos


def table(report: Report) -> str:
    figures = report.figures()
    names = [label for _, label in COLUMNS]
    return "\n".join(
        (
            "| " + " | ".join(names) + " |",
            "|" + "---|" * len(names),
            "| " + " | ".join(str(figures[key]) for key, _ in COLUMNS) + " |",
        )
    )


def describe(number: int, seed: int, report: Report) -> str:
    named = ", ".join(f"{point} {report.named[point]}" for point in POINTS)
    outcomes = ", ".join(f"{o} {n}" for o, n in sorted(report.audit.outcomes.items()))
    lines = [
        f"run {number} (seed {seed}): {report.audit.jobs} jobs answered of {report.asked} "
        f"commands, {report.kills} kills in {report.lives} lives ({sum(report.named.values())} "
        f"at named instants: {named or 'none'}; {report.at_random} at random instants; "
        f"{report.missed} named instants not reached, killed from outside), "
        f"{report.seconds:.0f} s, in {report.workdir}",
        "",
        table(report),
        "",
        f"outcomes posted: {outcomes or 'none'}; {report.audit.by_dm} of them by DM",
    ]
    lines += [f"problem: {problem}" for problem in report.audit.problems]
    return "\n".join(lines)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--members", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1, help="the first run's; then +1 each")
    parser.add_argument("--no-faults", action="store_true", help="kills only")
    args = parser.parse_args()
    print(f"cores {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}", flush=True)
    clean = True
    for number in range(1, args.repeat + 1):
        seed = args.seed + number - 1
        config = ChaosConfig(
            jobs=args.jobs, kills=args.kills, members=args.members, seed=seed,
            faults=not args.no_faults,
        )  # fmt: skip
        report = await run_chaos(config)
        print(describe(number, seed, report), "", sep="\n", flush=True)
        clean = clean and report.clean
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
