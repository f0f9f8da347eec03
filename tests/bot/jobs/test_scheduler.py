"""The scheduler after a restart: jobs keep their own plans; leased and overdue ones resume
spread out, never all at once and never in lockstep. A process that serves some shards
looks again on its own for jobs to take over."""

from __future__ import annotations

import asyncio
import random
import time

from bot.db.jobs import JobRepository
from bot.gmi.budget import ProviderBudget
from bot.jobs.lifecycle import JobState
from bot.jobs.model import NewJob, ShardScope
from bot.jobs.polling import PACE_HORIZON, CheckPace
from bot.jobs.scheduler import Scheduler
from bot.params import GenerationRequest
from tests.support.domain import START
from tests.support.pipeline import open_store


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


async def test_a_step_longer_than_its_lease_keeps_the_job_from_another_process(tmp_path):
    """Fitting a video or joining clips outlasts a lease: the step renews it as it goes, so a
    second process sharing the database never runs the same job at the same time."""
    lease = 0.2
    async with open_store(tmp_path / "jobs.sqlite3") as first:
        second = JobRepository(first.db, time.time)  # the other process's view of the same rows
        (job,) = await accepted(first, 1)
        await first.set_status_message(job.id, 1)  # answered: no start takes it for an orphan
        # Due once both processes have started (a start resumes the jobs another process
        # held as if that process were gone), for whichever looks first.
        await first.transition(job.id, from_states={JobState.ACCEPTED}, next_check_at=time.time() + 0.5)
        steps = [SlowSteps(store, seconds=4 * lease) for store in (first, second)]
        schedulers = [
            Scheduler(store, slow, budget=ProviderBudget(36000, time.time), lease_seconds=lease,
                      idle_retry=lease / 4, clock=time.time)
            for store, slow in zip((first, second), steps, strict=True)
        ]
        for scheduler in schedulers:
            scheduler.start()
        try:
            await asyncio.wait_for(next_done(steps), 5)
        finally:
            for scheduler in schedulers:
                await scheduler.stop()
    assert sum(slow.runs for slow in steps) == 1


async def test_steps_that_end_close_together_share_one_claim(tmp_path):
    """Thirty jobs due at once, whose steps end a millisecond or two apart: the scheduler
    looks for more due work after them a few times, not once per step that ended."""
    async with open_store(tmp_path / "jobs.sqlite3") as store:
        jobs = await accepted(store, 30)
        due = time.time() + 0.3  # after the start, which would spread jobs already due
        for job in jobs:
            await store.set_status_message(job.id, job.id)
            await store.transition(job.id, from_states={JobState.ACCEPTED}, next_check_at=due)
        claims = 0
        claim_due = store.claim_due

        async def counted(*args, **kwargs):
            nonlocal claims
            claims += 1
            return await claim_due(*args, **kwargs)

        store.claim_due = counted  # type: ignore[method-assign]
        steps = StaggeredSteps(store, count=len(jobs))
        scheduler = Scheduler(store, steps, budget=ProviderBudget(36000, time.time),  # type: ignore[arg-type]
                              lease_seconds=60, idle_retry=1.0, clock=time.time)  # fmt: skip
        scheduler.start()
        try:
            await asyncio.wait_for(steps.done.wait(), 5)
        finally:
            await scheduler.stop()
    assert steps.runs == 30
    assert claims <= 8  # the first look, then one per 50 ms at most while steps end


async def test_checks_booked_beyond_the_budget_widen_the_plan_and_a_quiet_spell_narrows_it(
    store, clock
):
    """The scheduler reads the steps due within the pace's horizon (a leased job from when
    its lease ends; one held for review not at all) against what the budget affords."""
    jobs = await accepted(store, 80)
    for job in jobs[:60]:  # booked within the horizon
        await store.transition(job.id, from_states={JobState.ACCEPTED}, next_check_at=START + 1)
    for job in jobs[60:70]:  # an hour out
        await store.transition(job.id, from_states={JobState.ACCEPTED}, next_check_at=START + 3600)
    await store.claim_due(START, 5, lease_seconds=60)  # 5 of the 10 due now: taken, for a minute
    assert await store.count_due_by(START + PACE_HORIZON) == 60 + 5
    steps = SlowSteps(store, seconds=0)
    budget = ProviderBudget(360, clock)  # 0.1 a second, a bucket of 10: affords 0.27 a second
    scheduler = Scheduler(store, steps, budget=budget, lease_seconds=60, idle_retry=1.0, clock=clock)  # type: ignore[arg-type]
    stretches = []
    for _ in range(60):
        await scheduler._pace()
        stretches.append(steps.pace.stretch)
        clock.advance(0.5)  # read every second: every other look here
    assert stretches[0] > 1.0 and stretches == sorted(stretches)
    assert stretches[-1] == 12.0  # as far as it goes
    for job in jobs:
        await store.transition(job.id, from_states={job.state}, next_check_at=None)  # all done
    for _ in range(60):
        clock.advance(1.0)
        await scheduler._pace()
    assert steps.pace.stretch == 1.0


class StaggeredSteps:
    """Each step ends a moment after the one before, and plans its job's next in an hour."""

    def __init__(self, store, *, count: int) -> None:
        self.store, self.count, self.runs = store, count, 0
        self.pace = CheckPace()
        self.done = asyncio.Event()

    async def advance(self, job) -> None:
        await asyncio.sleep(0.001 * (job.id % self.count))
        await self.store.transition(job.id, from_states={job.state}, next_check_at=time.time() + 3600)
        self.runs += 1
        if self.runs == self.count:
            self.done.set()

    async def retry_later(self, job) -> None:
        raise AssertionError("no step fails here")


async def next_done(steps) -> None:
    await asyncio.wait([asyncio.ensure_future(slow.done.wait()) for slow in steps],
                       return_when=asyncio.FIRST_COMPLETED)


class SlowSteps:
    """Steps whose every step takes ``seconds``, then plans nothing more."""

    def __init__(self, store, *, seconds: float) -> None:
        self.store, self.seconds, self.runs = store, seconds, 0
        self.pace = CheckPace()
        self.done = asyncio.Event()

    async def advance(self, job) -> None:
        self.runs += 1
        await asyncio.sleep(self.seconds)
        await self.store.transition(job.id, from_states={job.state}, next_check_at=None)
        self.done.set()

    async def retry_later(self, job) -> None:
        raise AssertionError("no step fails here")


def test_a_process_serving_some_shards_looks_again_for_jobs_to_take_over(store):
    def scheduler(shards: ShardScope) -> Scheduler:
        store.shards = shards
        return Scheduler(store, None, budget=None, lease_seconds=60, idle_retry=1.0, clock=store.clock)  # type: ignore[arg-type]

    assert scheduler(ShardScope()).rescan_every is None  # the whole bot is woken by every job
    assert scheduler(ShardScope(2, frozenset({1}), takeover_after=30)).rescan_every == 10.0
    assert scheduler(ShardScope(2, frozenset({1}), takeover_after=4)).rescan_every == 2.0
    assert scheduler(ShardScope(2, frozenset({1}), takeover_after=0)).rescan_every == 1.0
