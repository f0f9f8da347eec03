"""The scheduler after a restart: jobs keep their own plans; leased and overdue ones resume
spread out, never all at once and never in lockstep."""

from __future__ import annotations

import random

from bot.jobs.lifecycle import JobState
from bot.jobs.model import NewJob
from bot.params import GenerationRequest
from tests.support.domain import START


async def accepted(store, n: int, *, first_step_after: float = 0.0):
    return [
        await store.accept(
            NewJob(guild_id=1, channel_id=2, user_id=3, request=GenerationRequest(prompt=f"p{i}"),
                   model="m", first_step_after=first_step_after),
            deadline_seconds=3600,
        )
        for i in range(n)
    ]


async def test_a_restart_spreads_leased_and_overdue_jobs_and_keeps_planned_ones(store, clock):
    jobs = await accepted(store, 60)
    claimed = await store.claim_due(START, 20, lease_seconds=60)  # a process had these
    planned = jobs[-1]
    await store.set_status_message(planned.id, 99)
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


async def test_a_restart_looks_up_at_once_the_status_messages_its_predecessor_never_recorded(
    store, clock
):
    """A job waits a grace for its status message's id, which the process that answered
    the member records at once. After a restart that process is gone and will record
    nothing: the job is due with the others, not after the rest of its grace."""
    (orphan,) = await accepted(store, 1, first_step_after=30.0)
    clock.advance(2)
    started = clock()
    (newer,) = await accepted(store, 1, first_step_after=30.0)  # accepted since the start
    assert await store.resume(started, spread=5.0, rng=random.Random(1).random) == 1
    assert started <= (await store.get(orphan.id)).next_check_at <= started + 5
    assert (await store.get(newer.id)).next_check_at == started + 30
