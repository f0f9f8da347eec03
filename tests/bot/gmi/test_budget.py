"""The provider budget: the hourly rate, priority order when it runs short, and 429 pauses."""

from __future__ import annotations

import asyncio

from bot.clock import ManualClock
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
