"""Provider timings like real Seedance jobs, for dry runs and the benchmark.

A job's time is its wait in the provider's queue plus the generation itself. The queue is
long-tailed: most jobs start within a few seconds, many wait tens of seconds, a few wait
minutes (55 % uniform in 0.5-3 s, 40 % exponential with a 15 s mean, 5 % Pareto with
alpha 1.5 from 30 s, capped at 10 minutes). The generation depends on what is asked and
varies little around that (log-normal, sigma 0.06, around 8 s + 4.2 s per second of video,
times 0.7 at 480p, 1.9 at 1080p, 1.5 with reference videos). Together they span about
20-150 s, as public run logs show. The constants are deliberately not the bot's prior, so a
run shows the estimate learning rather than knowing.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from .app import Timings

RESOLUTION_FACTOR = {"480p": 0.7, "720p": 1.0, "1080p": 1.9}
DISPATCH_SECONDS = 0.5


def realistic_timings(rng: random.Random) -> Callable[[dict[str, Any]], Timings]:
    """A `GMISimulator.timing_profile` drawing each request's timings from ``rng``."""

    def draw(payload: dict[str, Any]) -> Timings:
        roll = rng.random()
        if roll < 0.55:
            queued = rng.uniform(0.5, 3.0)
        elif roll < 0.95:
            queued = rng.expovariate(1 / 15)
        else:
            queued = min(30.0 * rng.paretovariate(1.5), 600.0)
        duration = payload.get("duration", 5)
        seconds = float(duration) if isinstance(duration, int | float) else 5.0
        base = 8.0 + 4.2 * seconds * RESOLUTION_FACTOR.get(str(payload.get("resolution")), 1.0)
        if payload.get("reference_videos"):
            base *= 1.5
        processing = base * rng.lognormvariate(0.0, 0.06)
        return Timings(queued=queued, dispatched=DISPATCH_SECONDS, processing=processing)

    return draw
