"""The scheduler after a restart: jobs keep their own plans; leased and overdue ones resume
spread out, never all at once and never in lockstep. A process that serves some shards
looks again on its own for jobs to take over."""

from __future__ import annotations

import random

from bot.jobs.lifecycle import JobState
from bot.jobs.model import NewJob, ShardScope
from bot.jobs.scheduler import Scheduler
from bot.params import GenerationRequest
from tests.support.domain import START


async def accepted(store, n: int):
    return [
        await store.accept(
            NewJob(guild_id=1, channel_id=2, user_id=3, request=GenerationRequest(prompt=f"p{i}"),
                   model="m"),
            deadline_seconds=3600,
        )
        for i in range(n)
    ]


async def test_a_restart_spreads_leased_and_overdue_jobs_and_keeps_planned_ones(store, clock):
    jobs = await accepted(store, 60)
    claimed = await store.claim_due(START, 20, lease_seconds=60)  # a process had these
    planned = jobs[-1]
    await store.transition(planned.id, from_states={JobState.ACCEPTED}, next_check_at=START + 500)
    clock.advance(10)
    count = await store.resume(clock(), spread=30.0, rng=random.Random(1).random)  # restarted now
    assert count == 59  # 20 leased + 39 overdue; the planned one waits for its time
    resumed = [await store.get(job.id) for job in jobs[:-1]]
    times = sorted(job.next_check_at for job in resumed)
    assert all(clock() <= t <= clock() + 30 for t in times)
    assert len(set(times)) == len(times)  # each its own moment
    assert times[-1] - times[0] > 20  # spread over the window, not bunched
    assert all(job.leased_until is None for job in resumed)
    assert {j.id for j in claimed} <= {j.id for j in resumed}
    assert (await store.get(planned.id)).next_check_at == START + 500
    assert await store.claim_due(clock(), 100, lease_seconds=60) == []  # none due at once


def test_a_process_serving_some_shards_looks_again_for_jobs_to_take_over(store):
    def scheduler(shards: ShardScope) -> Scheduler:
        store.shards = shards
        return Scheduler(store, None, budget=None, lease_seconds=60, idle_retry=1.0, clock=store.clock)  # type: ignore[arg-type]

    assert scheduler(ShardScope()).rescan_every is None  # the whole bot is woken by every job
    assert scheduler(ShardScope(2, frozenset({1}), takeover_after=30)).rescan_every == 10.0
    assert scheduler(ShardScope(2, frozenset({1}), takeover_after=4)).rescan_every == 2.0
    assert scheduler(ShardScope(2, frozenset({1}), takeover_after=0)).rescan_every == 1.0
