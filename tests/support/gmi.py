"""Pytest fixtures for the GMI client and simulator (register with ``pytest_plugins``).

- ``gmi_clock``: a :class:`ManualClock` the simulator runs on; it moves only on ``advance()``.
- ``gmi_sim``: a started :class:`GMISimulator` (key ``GMI_TEST_KEY``, instant timings, tiny video).
- ``gmi_session``: an ``aiohttp.ClientSession``.
- ``gmi_sleeps``: the list of delays ``gmi_client`` "slept" (its sleep records, never waits).
- ``gmi_client``: a :class:`GMIClient` pointed at ``gmi_sim``.
- ``gmi_client_factory``: ``make(**overrides)`` for clients with other settings.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest

from bot.clock import ManualClock
from bot.gmi import GMIClient
from bot.simulator import DEFAULT_MODEL, GMISimulator, Timings, VideoSpec

__all__ = [
    "GMI_TEST_KEY",
    "SEEDANCE_MODEL",
    "gmi_client",
    "gmi_client_factory",
    "gmi_clock",
    "gmi_session",
    "gmi_sim",
    "gmi_sleeps",
]

GMI_TEST_KEY = "sim-test-key-7f3a9c2e51d84b06a1e5c9d2f0b7e4a3"
SEEDANCE_MODEL = DEFAULT_MODEL


@pytest.fixture
def gmi_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def gmi_sim(gmi_clock: ManualClock) -> AsyncIterator[GMISimulator]:
    sim = GMISimulator(
        api_key=GMI_TEST_KEY,
        model=SEEDANCE_MODEL,
        timings=Timings(),
        video=VideoSpec(width=160, height=90, duration=1.0, fps=12),
        clock=gmi_clock,
    )
    await sim.start()
    try:
        yield sim
    finally:
        await sim.close()


@pytest.fixture
async def gmi_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def gmi_sleeps() -> list[float]:
    return []


@pytest.fixture
def gmi_client_factory(
    gmi_sim: GMISimulator, gmi_session: aiohttp.ClientSession, gmi_sleeps: list[float]
) -> Callable[..., GMIClient]:
    async def record_sleep(delay: float) -> None:
        gmi_sleeps.append(delay)
        await asyncio.sleep(0)

    def make(**overrides) -> GMIClient:
        options = {
            "session": gmi_session,
            "base_url": gmi_sim.base_url,
            "api_key": GMI_TEST_KEY,
            "timeout": 5.0,
            "sleep": record_sleep,
            "random": lambda: 0.5,
        }
        options.update(overrides)
        return GMIClient(**options)

    return make


@pytest.fixture
def gmi_client(gmi_client_factory: Callable[..., GMIClient]) -> GMIClient:
    return gmi_client_factory()
