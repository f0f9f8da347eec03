"""The provider budget: the hourly rate, priority order when it runs short, and 429 pauses;
shared by several processes through the database, and waiting (never overspending) when
the database does not answer."""

from __future__ import annotations

import asyncio

import pytest

from bot.clock import ManualClock
from bot.db.database import Database
from bot.db.provider_budget import ProviderBudgetRepository, Taken
from bot.gmi import budget as budget_module
from bot.gmi.budget import CHECK, LIST, SUBMIT, ProviderBudget


async def spend(budget: ProviderBudget, kind: int, key: float, order: list[str], name: str):
    async with budget.call(kind, key):
        order.append(name)


async def test_a_burst_is_served_from_the_bucket_then_at_the_hourly_rate():
    clock = ManualClock(1000.0)
    budget = ProviderBudget(requests_per_hour=600, clock=clock)  # capacity 10, 1 per 6 s
    order: list[str] = []
    tasks = [asyncio.create_task(spend(budget, CHECK, i, order, f"c{i}")) for i in range(12)]
    await asyncio.sleep(0.01)
    assert len(order) == 10 and budget.waiting == 2  # the bucket held ten
    clock.advance(6)
    budget._serve()
    await asyncio.sleep(0.01)
    assert len(order) == 11
    clock.advance(6)
    budget._serve()
    await asyncio.gather(*tasks)
    assert order[-2:] == ["c10", "c11"]


async def test_when_short_submits_go_first_then_the_checks_nearest_their_finish():
    clock = ManualClock(1000.0)
    budget = ProviderBudget(requests_per_hour=600, clock=clock)
    budget._tokens = 0
    order: list[str] = []
    waiting = [
        asyncio.create_task(spend(budget, CHECK, 50.0, order, "check later")),
        asyncio.create_task(spend(budget, LIST, 0.0, order, "list")),
        asyncio.create_task(spend(budget, CHECK, 10.0, order, "check soon")),
        asyncio.create_task(spend(budget, SUBMIT, 99.0, order, "submit")),
    ]
    await asyncio.sleep(0.01)
    assert order == []
    clock.advance(60)  # ten tokens
    budget._serve()
    await asyncio.gather(*waiting)
    assert order == ["submit", "check soon", "check later", "list"]


async def test_a_429_pauses_everything_for_the_providers_retry_after():
    clock = ManualClock(1000.0)
    budget = ProviderBudget(requests_per_hour=36000, clock=clock)
    budget.rate_limited_for(30.0)
    order: list[str] = []
    task = asyncio.create_task(spend(budget, SUBMIT, 0.0, order, "submit"))
    await asyncio.sleep(0.01)
    clock.advance(29)
    budget._serve()
    await asyncio.sleep(0.01)
    assert order == []
    clock.advance(2)
    budget._serve()
    await task
    assert order == ["submit"] and budget.rate_limited == 1


def test_concurrency_comes_from_the_rate_and_the_round_trip():
    budget = ProviderBudget(requests_per_hour=3_600_000, clock=ManualClock())  # 1000/s
    budget._rtt = 0.1
    assert budget.concurrency == 200
    slow = ProviderBudget(requests_per_hour=3600, clock=ManualClock())
    assert slow.concurrency == 4  # never fewer than a handful


# -- one budget for several processes, in the database ---------------------------------------


@pytest.fixture
async def two_processes(database_location):
    """Two processes' budgets: each its own connections to one database."""
    opened = [await Database.open(database_location) for _ in range(2)]
    clock = ManualClock(1000.0)
    budgets = [ProviderBudget(600, clock, ProviderBudgetRepository(db)) for db in opened]
    try:
        yield clock, budgets
    finally:
        for budget in budgets:
            await budget.close()
        for db in opened:
            await db.close()


async def settle() -> None:
    """Let the budgets' takes from the database run."""
    for _ in range(20):
        await asyncio.sleep(0.01)


async def test_processes_share_one_bucket_and_together_never_exceed_the_rate(two_processes):
    clock, (first, second) = two_processes  # 600 an hour: 10 at once, then one per 6 s
    order: list[str] = []
    tasks = [asyncio.create_task(spend(budget, CHECK, i, order, f"{name}{i}"))
             for i in range(8) for name, budget in (("a", first), ("b", second))]
    await settle()
    assert len(order) == 10  # the bucket held ten, for both together
    assert first.waiting + second.waiting == 6
    clock.advance(18)  # three more tokens
    first._serve()
    second._serve()
    await settle()
    assert len(order) == 13
    clock.advance(60)
    first._serve()
    second._serve()
    await asyncio.gather(*tasks)
    assert first.spent + second.spent == 16


async def test_what_the_budget_affords_is_its_refill_and_its_tokens_over_five_minutes(
    two_processes,
):
    """What the scheduler's pace holds the booked checks against (`CheckPace`)."""
    clock = ManualClock(1000.0)
    alone = ProviderBudget(3600, clock)  # one a second, a bucket of 60
    assert alone.affordable() == pytest.approx(1 + 60 / 300)
    await asyncio.gather(*(spend(alone, CHECK, i, [], "c") for i in range(30)))
    assert alone.affordable() == pytest.approx(1 + 30 / 300)
    clock.advance(30)
    assert alone.affordable() == pytest.approx(1 + 60 / 300)  # refilled
    clock, (first, second) = two_processes  # 600 an hour: 10 tokens for both
    assert first.affordable() == pytest.approx(600 / 3600)  # nothing taken yet: the refill
    await asyncio.gather(*(spend(first, CHECK, i, [], "a") for i in range(4)))
    assert first.affordable() == pytest.approx(600 / 3600 + 6 / 300)  # what the bucket has left


async def test_a_429_in_one_process_pauses_the_other(two_processes):
    clock, (first, second) = two_processes
    first.rate_limited_for(30.0)
    await settle()
    order: list[str] = []
    task = asyncio.create_task(spend(second, SUBMIT, 0.0, order, "submit"))
    await settle()
    assert order == []  # the other process waits for the provider's pause too
    clock.advance(31)
    second._serve()
    await asyncio.wait_for(task, 5)
    assert order == ["submit"]


async def test_priorities_hold_within_a_process_on_a_shared_bucket(two_processes):
    clock, (first, _) = two_processes
    drain = [asyncio.create_task(spend(first, CHECK, 0.0, [], "")) for _ in range(10)]
    await asyncio.gather(*drain)  # the bucket is empty now
    order: list[str] = []
    waiting = [asyncio.create_task(spend(first, CHECK, 50.0, order, "check later")),
               asyncio.create_task(spend(first, LIST, 0.0, order, "list")),
               asyncio.create_task(spend(first, SUBMIT, 99.0, order, "submit"))]
    await settle()
    assert order == []
    clock.advance(60)
    first._serve()
    await asyncio.gather(*waiting)
    assert order == ["submit", "check later", "list"]


class SlowDatabase:
    """A shared bucket whose database does not answer until told to."""

    def __init__(self) -> None:
        self.answering = asyncio.Event()
        self.asked_again = asyncio.Event()
        self.asked = 0

    async def take(self, wanted: int, *, rate: float, capacity: float, now: float) -> Taken:
        self.asked += 1
        if self.asked >= 2:
            self.asked_again.set()
        await self.answering.wait()
        return Taken(wanted, 0.0, 0.0)

    async def pause(self, until: float) -> None:
        await self.answering.wait()


async def test_a_database_that_does_not_answer_makes_calls_wait_never_spend(monkeypatch, caplog):
    monkeypatch.setattr(budget_module, "TAKE_TIMEOUT", 0.05)
    slow = SlowDatabase()
    budget = ProviderBudget(600, ManualClock(1000.0), slow)
    order: list[str] = []
    task = asyncio.create_task(spend(budget, SUBMIT, 0.0, order, "submit"))
    try:
        await asyncio.wait_for(slow.asked_again.wait(), 5)  # timed out, and tried again
        assert order == [] and budget.spent == 0
        assert caplog.text.count("no tokens from the database") == 1  # one warning per outage
        slow.answering.set()
        await asyncio.wait_for(task, 5)
        assert order == ["submit"]
    finally:
        task.cancel()
        await budget.close()
