"""The one backoff: capped exponential growth with full jitter.

Every retry in the bot (provider calls, status checks, submits, posting results) waits
`full_jitter(attempt, base, cap)`, so no two retry loops drift apart in behaviour and none
can retry in lockstep with its neighbours.
"""

from __future__ import annotations

import random
from collections.abc import Callable


def full_jitter(
    attempt: int,
    *,
    base: float,
    cap: float,
    floor: float = 0.0,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before the ``attempt``-th retry (1-based): uniform in
    ``[floor, min(cap, base * 2 ** (attempt - 1))]``."""
    ceiling: float = min(cap, base * 2.0 ** min(max(attempt - 1, 0), 30))
    return max(floor, ceiling * rng())
