"""pytest fixtures for domain tests that run on a clock the test sets by hand.

- ``clock``: a frozen `ManualClock` at `START` (Wednesday 4 March 2026, 12:00 UTC); move it
  with ``clock.advance(seconds)`` or ``clock.now = when``.
- ``db``: a `Database` on this test's own empty database, on each engine
  (`tests.support.database`).
- ``services``: every repository and service, wired as the bot wires them, on ``db`` and
  ``clock``, with the default price table.
- ``store``: the job repository of ``services``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.clock import ManualClock
from bot.db.database import Database
from bot.db.jobs import JobRepository
from bot.quotas.pricing import PriceTable
from bot.services import JobPolicy, Services, build_services

START = datetime(2026, 3, 4, 12, 0, tzinfo=UTC).timestamp()
PRICES = PriceTable({"480p": 0.08, "720p": 0.16, "1080p": 0.36}, 2.0)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def db(database_location) -> AsyncIterator[Database]:
    database = await Database.open(database_location)
    yield database
    await database.close()


@pytest.fixture
async def services(db: Database, clock: ManualClock) -> AsyncIterator[Services]:
    built = build_services(db, JobPolicy(price_table=PRICES), clock)
    yield built
    await built.turns.close()
    await built.tasks.drain()
    await built.tasks.close()


@pytest.fixture
def store(services: Services) -> JobRepository:
    return services.jobs
