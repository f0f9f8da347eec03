"""Time as the bot reads it, and the one clock tests drive by hand.

The bot takes a `Clock` (Unix seconds, ``time.time`` in production) everywhere it needs
"now", so tests can move time instead of sleeping through window resets, cooldowns and
deadlines.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


class ManualClock:
    """A clock a test moves forward with `advance`.

    Frozen (the default) it reads ``start`` until advanced; ``ManualClock.realtime()`` runs
    with real time plus whatever has been added, for tests whose other half (Discord's
    emulator, aiohttp timeouts) lives in real time. Listeners hear every jump.
    """

    def __init__(self, start: float = 1000.0, *, realtime: bool = False) -> None:
        self._base = start
        self._realtime = realtime
        self._started = time.time()
        self._started_monotonic = time.monotonic()
        self.offset = 0.0
        self._listeners: list[Callable[[], None]] = []

    @classmethod
    def realtime(cls) -> ManualClock:
        return cls(time.time(), realtime=True)

    def __call__(self) -> float:
        return self.time()

    def time(self) -> float:
        """Wall-clock seconds."""
        elapsed = time.time() - self._started if self._realtime else 0.0
        return self._base + elapsed + self.offset

    def monotonic(self) -> float:
        """Seconds that never go back, for deadlines measured by this clock."""
        elapsed = time.monotonic() - self._started_monotonic if self._realtime else 0.0
        return self._base + elapsed + self.offset

    @property
    def now(self) -> float:
        return self.time()

    @now.setter
    def now(self, value: float) -> None:
        """Jump to ``value`` (tests building history may jump back; listeners hear only
        `advance`, which never goes back)."""
        self.offset += value - self.time()

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset += seconds
        for listener in list(self._listeners):
            listener()
        return self.time()

    def on_advance(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)
