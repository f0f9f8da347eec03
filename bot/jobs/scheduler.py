"""The one background scheduler that carries every job from accepted to posted.

Due times live in the database (``jobs.next_check_at``), not in sleeping coroutines, so a
restart forgets nothing: the loop claims due jobs with a lease (so a crash mid-step only
delays them until the lease ends), runs one step of each (`bot.jobs.steps`) with a bound on
how many run at once, and sleeps until the next due time or a `wake` (a step that ends
makes it look again, but not within `LOOK_GAP_SHARE` of a check interval of its last look,
so under load one claim serves several jobs). Provider calls are paced separately by the
steps' `ProviderBudget`.

Several processes may share the database, each serving some Discord shards (the job
repository's `ShardScope` says which jobs it claims). While a step runs its lease is
renewed (fitting a video or joining clips can outlast one), so no other process takes the
job however long the step takes, and a process that dies loses its leases within one
lease; a graceful stop gives up the leases of the steps it cut, so they are taken up again
at once.

At start, jobs keep their own planned checks; those whose check is overdue resume spread
over the time the budget needs for them, each at a random moment, so a restart never
stampedes the provider nor polls every job in lockstep afterwards.

Every `PACE_EVERY` the loop also reads the checks booked for the next seconds against what
the budget affords, and the steps' `CheckPace` widens (or narrows back) the gaps of the plan
they make, so the checks planned never outrun the budget.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable

from bot.clock import Clock
from bot.db.jobs import JobRepository
from bot.gmi.budget import ProviderBudget
from bot.jobs.model import Job
from bot.jobs.polling import PACE_HORIZON
from bot.jobs.steps import JobSteps
from bot.tasks import BackgroundTasks

log = logging.getLogger(__name__)

MIN_IN_FLIGHT = 32
MIN_RESUME_SPREAD = 5.0
MAX_RESCAN = 10.0  # seconds; see `Scheduler.rescan_every`
STATS_EVERY = 60.0  # seconds between the scheduler's statistics lines in the log
PACE_EVERY = 1.0  # seconds between readings of the booked checks (`CheckPace`)
# After one look for due jobs, the next waits this share of the shortest check interval
# (50 ms by default) unless something wakes it: the jobs that fall due and the steps that
# end meanwhile share one claim instead of costing one each.
LOOK_GAP_SHARE = 0.05


class Scheduler:
    def __init__(
        self,
        jobs: JobRepository,
        steps: JobSteps,
        *,
        budget: ProviderBudget,
        lease_seconds: float,
        idle_retry: float,
        clock: Clock,
        on_start: Callable[[], Awaitable[None]] | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.jobs = jobs
        self.steps = steps
        self.budget = budget
        self.lease_seconds = lease_seconds
        self.idle_retry = idle_retry
        self.clock = clock
        self.on_start = on_start
        self.rng = rng
        self._started_at = clock()
        self._lateness: deque[float] = deque(maxlen=2000)  # seconds a claimed check was late
        self._cycles: deque[float] = deque(maxlen=200)  # seconds one claim took
        self._stats_at = 0.0
        self._paced_at = 0.0
        self._wake = asyncio.Event()
        self._look_gap = idle_retry * LOOK_GAP_SHARE
        self._looked_at = 0.0  # the event loop's time of the last look
        self._soon: asyncio.TimerHandle | None = None
        self._in_flight = BackgroundTasks("job-step")
        self._runner: asyncio.Task[None] | None = None
        self._renewer: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the loop; unfinished jobs from before a restart resume, spread out."""
        if self._runner is None:
            self._started_at = self.clock()
            self._runner = asyncio.create_task(self._run(), name="job-scheduler")
            self._runner.add_done_callback(self._runner_ended)
        if self._renewer is None:
            self._renewer = asyncio.create_task(self._renew_leases(), name="job-leases")

    def _runner_ended(self, task: asyncio.Task[None]) -> None:
        """The loop never ends on its own; if it ever dies, say so loudly and start again."""
        if task.cancelled() or self._runner is not task:
            return
        log.critical("job scheduler stopped unexpectedly; restarting it", exc_info=task.exception())
        self._runner = None
        self.start()

    async def stop(self, grace: float = 0.0) -> None:
        """Take no more due jobs; steps in flight get ``grace`` seconds to finish, then are
        cancelled and their leases given up (they are due again at once, for this process
        after a restart or for another now)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        if not await self._in_flight.drain(timeout=grace) and grace > 0:
            log.warning("%d job step(s) still running after %.1fs", len(self._in_flight), grace)
        cut = self._running_jobs()
        await self._in_flight.close()
        self._cancel_soon()  # set by the steps that ended meanwhile
        renewer, self._renewer = self._renewer, None
        if renewer is not None:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
        if cut:
            try:
                await self.jobs.release_leases(cut)
            except Exception:  # the database may be going away too: the leases just run out
                log.warning("could not give up the leases of %d cut step(s)", len(cut), exc_info=True)

    def wake(self) -> None:
        """A job became due now (accepted, cancelled...): look at once."""
        self._wake.set()

    # -- the loop ----------------------------------------------------------------------

    async def _run(self) -> None:
        resumed = False
        while True:
            # Cleared before looking, so a wake() while we look is never lost.
            self._wake.clear()
            self._cancel_soon()
            self._looked_at = asyncio.get_running_loop().time()
            try:
                if not resumed:
                    await self._resume()
                    resumed = True
                await self._pace()
                if await self._start_due():
                    next_due = await self.jobs.next_due_at()
                else:
                    next_due = None  # every slot busy: a finishing step wakes us
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job scheduler tick failed; retrying shortly")
                next_due = self.clock() + self.idle_retry
            if self.rescan_every is not None:
                rescan = self.clock() + self.rescan_every
                next_due = rescan if next_due is None else min(next_due, rescan)
            await self._sleep_until(next_due)

    @property
    def rescan_every(self) -> float | None:
        """How often a process that serves some shards looks for jobs it could take over
        (half the takeover wait, so one is taken within 1.5 of it); ``None`` for the whole
        bot, which writes every job itself and so is always woken."""
        shards = self.jobs.shards
        if shards.every_shard:
            return None
        return min(max(shards.takeover_after / 2, self.idle_retry), MAX_RESCAN)

    @property
    def max_in_flight(self) -> int:
        """Steps at once: enough to keep the budget's call slots busy while some wait."""
        return max(MIN_IN_FLIGHT, self.budget.concurrency * 4)

    async def _resume(self) -> None:
        if self.on_start is not None:
            await self.on_start()
        unfinished = await self.jobs.count_in_flight()
        spread = max(MIN_RESUME_SPREAD, unfinished / self.budget.rate)
        overdue = await self.jobs.resume(self._started_at, spread, self.rng)
        if unfinished:
            log.info(
                "resuming %d unfinished job(s); %d overdue, spread over %.0f s",
                unfinished,
                overdue,
                spread,
            )

    async def _pace(self) -> None:
        """Hold the checks booked for the coming seconds against what the budget affords."""
        now = self.clock()
        if now < self._paced_at + PACE_EVERY:
            return
        self._paced_at = now
        booked = await self.jobs.count_due_by(now + PACE_HORIZON)
        affordable = self.budget.affordable()
        pace = self.steps.pace
        was = pace.stretch
        pace.observe(booked, affordable)
        if was == 1.0 < pace.stretch:
            log.info(
                "%d checks due within %.0f s, more than the provider budget pays (%.1f a "
                "second): spreading the checks out until they fit",
                booked,
                PACE_HORIZON,
                affordable,
            )
        elif was > 1.0 == pace.stretch:
            log.info("the checks fit the provider budget again")

    async def _start_due(self) -> bool:
        """Start a step for each due job there is room for; False if there was no room."""
        free = self.max_in_flight - len(self._in_flight)
        if free <= 0:
            return False
        now = self.clock()
        started = time.perf_counter()
        claimed = await self.jobs.claim_due(now, free, self.lease_seconds)
        self._cycles.append(time.perf_counter() - started)
        for job in claimed:
            self._lateness.append(max(0.0, now - (job.next_check_at or now)))
            if self._in_flight.running(job.id) is None:
                self._in_flight.spawn(self._step(job), name=f"job-{job.id}", key=job.id)
        if now >= self._stats_at + STATS_EVERY:
            self._stats_at = now
            await self._log_stats()
        return True

    async def _log_stats(self) -> None:
        """One line an operator (and the benchmark) can read: load, lateness, cost."""
        late = sorted(self._lateness) or [0.0]
        cycles = sorted(self._cycles) or [0.0]
        log.info(
            "scheduler: in_flight=%d, steps=%d, late_p50=%.2fs, late_p99=%.2fs, "
            "claim_p99=%.1fms, pace=%.2f, provider_calls=%d, rate_limited=%d, db_mib=%.1f",
            await self.jobs.count_in_flight(),
            len(self._in_flight),
            late[len(late) // 2],
            late[int(len(late) * 0.99)],
            cycles[int(len(cycles) * 0.99)] * 1000,
            self.steps.pace.stretch,
            self.budget.spent,
            self.budget.rate_limited,
            await self.jobs.db.size_bytes() / 2**20,
        )

    async def _step(self, job: Job) -> None:
        try:
            await self.steps.advance(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job %d: unexpected error; will retry", job.id)
            await self.steps.retry_later(job)
        finally:
            self._look_soon()

    def _look_soon(self) -> None:
        """A step ended (its slot is free; it may have planned its job's next step soon):
        look for due work again, `_look_gap` after the last look at the earliest."""
        if self._wake.is_set() or self._soon is not None:
            return
        self._soon = asyncio.get_running_loop().call_at(
            self._looked_at + self._look_gap, self._woken_soon
        )

    def _woken_soon(self) -> None:
        self._soon = None
        self._wake.set()

    def _cancel_soon(self) -> None:
        if self._soon is not None:
            self._soon.cancel()
            self._soon = None

    def _running_jobs(self) -> list[int]:
        return [job_id for job_id in self._in_flight.keys() if isinstance(job_id, int)]

    async def _renew_leases(self) -> None:
        """Every third of a lease, extend the leases of the steps still running."""
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            running = self._running_jobs()
            if not running:
                continue
            try:
                await self.jobs.renew_leases(running, self.clock() + self.lease_seconds)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not renew the leases of %d running step(s)", len(running))

    async def _sleep_until(self, due: float | None) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
        # that arrives as the wake-up does, and stop() would then wait forever.
        if due is None:
            timeout = None
        else:
            gap_ends = self._looked_at + self._look_gap - asyncio.get_running_loop().time()
            timeout = max(0.0, due - self.clock(), gap_ends)
        try:
            async with asyncio.timeout(timeout):
                await self._wake.wait()
        except TimeoutError:
            pass
