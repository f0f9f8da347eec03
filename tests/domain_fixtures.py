"""pytest fixtures for domain tests that run on a clock the test sets by hand.

- ``clock``: a `SettableClock` at `START` (Wednesday 4 March 2026, 12:00 UTC);
  move it with ``clock.now += seconds``.
- ``store``: a `JobStore` on a temporary file, running on ``clock``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.store import JobStore

START = datetime(2026, 3, 4, 12, 0, tzinfo=UTC).timestamp()


class SettableClock:
    """Unix seconds that move only when a test sets ``now``."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock()


@pytest.fixture
async def store(tmp_path, clock) -> AsyncIterator[JobStore]:
    store = await JobStore.open(tmp_path / "bot.sqlite3", clock=clock)
    yield store
    await store.close()
