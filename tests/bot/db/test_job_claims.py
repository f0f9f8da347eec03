"""Due jobs claimed by several processes sharing one database, each serving some Discord
shards: a process takes its own shards' jobs at once and another shard's only once they
have waited unclaimed; concurrent claims never hand one job to two processes; a lease is
renewed only by its holder and never broken by another process's start."""

from __future__ import annotations

import asyncio
import random

import pytest

from bot.clock import ManualClock
from bot.db.database import Database
from bot.db.jobs import JobRepository
from bot.jobs.model import NewJob, ShardScope
from bot.params import GenerationRequest
from tests.support.domain import START

ON_SHARD = {0: 10, 1: (1 << 22) | 10}  # a server id on each shard of two
TAKEOVER = 30.0


def scope(*ids: int, count: int = 2) -> ShardScope:
    return ShardScope(count, frozenset(ids), takeover_after=TAKEOVER)


async def accept(store: JobRepository, guild_id: int | None, n: int = 1) -> list[int]:
    """``n`` jobs, each answered (its status message recorded, as the process that answered
    the member does at once)."""
    new = NewJob(guild_id=guild_id, channel_id=2, user_id=3, request=GenerationRequest(prompt="p"),
                 model="m")
    ids = [(await store.accept(new, deadline_seconds=3600)).id for _ in range(n)]
    for job_id in ids:
        await store.set_status_message(job_id, 1000 + job_id)
    return ids


@pytest.fixture
async def processes(database_location):
    """Two processes' worth: each its own connections to the database, one shard each."""
    clock = ManualClock(START)
    opened = [await Database.open(database_location) for _ in range(2)]
    try:
        yield clock, [JobRepository(db, clock, scope(i)) for i, db in enumerate(opened)]
    finally:
        for db in opened:
            await db.close()


async def claimed_ids(store: JobRepository, now: float, limit: int = 100) -> list[int]:
    return [job.id for job in await store.claim_due(now, limit, lease_seconds=60)]


async def test_each_process_takes_its_own_shards_jobs_and_others_only_after_the_takeover(processes):
    clock, (zero, one) = processes
    on_zero = await accept(zero, ON_SHARD[0], 2)
    on_one = await accept(zero, ON_SHARD[1], 2)
    in_dms = await accept(one, None)  # DMs are shard 0's
    assert await claimed_ids(one, clock()) == on_one
    assert await claimed_ids(zero, clock()) == [*on_zero, *in_dms]

    late = await accept(zero, ON_SHARD[1])  # shard 1's process is gone from now on
    assert await zero.next_due_at() == pytest.approx(clock() + TAKEOVER)
    clock.advance(TAKEOVER - 1)
    assert await claimed_ids(zero, clock()) == []
    clock.advance(1)
    (job,) = await zero.claim_due(clock(), 100, lease_seconds=60)
    assert job.id == late[0] and job.leased_by == zero.shards.worker


async def test_a_lease_is_renewed_only_by_its_holder_and_a_taken_over_job_stays_taken(processes):
    clock, (zero, one) = processes
    (job_id,) = await accept(one, ON_SHARD[1])
    assert await claimed_ids(one, clock()) == [job_id]
    clock.advance(30)
    assert await one.renew_leases([job_id], clock() + 60) == 1  # still working on it
    assert await zero.renew_leases([job_id], clock() + 60) == 0  # not zero's to renew
    clock.advance(60 + TAKEOVER)  # one died: its lease ran out, and the takeover wait too
    assert await claimed_ids(zero, clock()) == [job_id]
    assert await one.renew_leases([job_id], clock() + 60) == 0  # lost it: it can't take it back
    assert (await one.get(job_id)).leased_by == zero.shards.worker
    assert await zero.release_leases([job_id]) == 1  # a graceful stop gives it up at once
    assert await claimed_ids(zero, clock()) == [job_id]


async def test_a_start_breaks_no_lease_of_a_process_that_may_be_alive(processes):
    clock, (zero, one) = processes
    held = await accept(zero, ON_SHARD[0], 2)
    late = await accept(zero, ON_SHARD[0], 3)
    await claimed_ids(zero, clock(), limit=2)  # zero works on these two
    clock.advance(10)
    restarted = JobRepository(zero.db, clock, scope(0))  # another process for shard 0 starts
    assert await restarted.resume(clock(), spread=20.0, rng=random.Random(1).random) == 3
    assert [j.leased_by for j in [await zero.get(i) for i in held]] == [zero.shards.worker] * 2
    planned = [(await zero.get(i)).next_check_at for i in late]
    assert all(clock() <= when <= clock() + 20 for when in planned)

    whole_bot = JobRepository(zero.db, clock, ShardScope())  # one process for every shard
    assert await whole_bot.resume(clock(), spread=20.0, rng=random.Random(1).random) == 2
    assert [(await zero.get(i)).leased_until for i in held] == [None, None]  # a dead one's


async def test_simultaneous_claims_from_four_processes_never_share_a_job(database_location):
    """Four connections (four processes) claim 200 due jobs at once, in small bites: every
    job is taken exactly once."""
    clock = ManualClock(START)
    opened = [await Database.open(database_location) for _ in range(4)]
    try:
        stores = [JobRepository(db, clock) for db in opened]  # all serve every shard
        await accept(stores[0], ON_SHARD[0], 200)

        async def claim_all(store: JobRepository) -> list[int]:
            taken: list[int] = []
            while batch := await claimed_ids(store, clock(), limit=7):
                taken += batch
                await asyncio.sleep(0)
            return taken

        results = await asyncio.gather(*[claim_all(store) for store in stores])
        every = [job_id for taken in results for job_id in taken]
        assert sorted(every) == list(range(1, 201))
    finally:
        for db in opened:
            await db.close()
