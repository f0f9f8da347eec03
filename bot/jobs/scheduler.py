"""The one background scheduler that carries every job from accepted to posted.

Due times live in the database (``jobs.next_check_at``), not in sleeping coroutines, so a
restart forgets nothing: the loop claims due jobs with a lease (their due time pushed a
lease ahead, so a crash mid-step only delays them), runs one step of each
(`bot.jobs.steps`) with a bound on how many run at once, and sleeps until the next due
time or a `wake`. Provider calls are bounded separately by the steps' semaphore.
"""

from __future__ import annotations

import asyncio
import logging

from bot.clock import Clock
from bot.db.jobs import JobRepository
from bot.jobs.model import Job
from bot.jobs.steps import JobSteps
from bot.tasks import BackgroundTasks

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self,
        jobs: JobRepository,
        steps: JobSteps,
        *,
        max_in_flight: int,
        lease_seconds: float,
        idle_retry: float,
        clock: Clock,
    ) -> None:
        self.jobs = jobs
        self.steps = steps
        self.max_in_flight = max_in_flight
        self.lease_seconds = lease_seconds
        self.idle_retry = idle_retry
        self.clock = clock
        self._wake = asyncio.Event()
        self._in_flight = BackgroundTasks("job-step")
        self._runner: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the loop; unfinished jobs from before a restart resume at once."""
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name="job-scheduler")
            self._runner.add_done_callback(self._runner_ended)

    def _runner_ended(self, task: asyncio.Task[None]) -> None:
        """The loop never ends on its own; if it ever dies, say so loudly and start again."""
        if task.cancelled() or self._runner is not task:
            return
        log.critical("job scheduler stopped unexpectedly; restarting it", exc_info=task.exception())
        self._runner = None
        self.start()

    async def stop(self, grace: float = 0.0) -> None:
        """Take no more due jobs; steps in flight get ``grace`` seconds to finish, then are
        cancelled (their lease brings them back after a restart)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        if not await self._in_flight.drain(timeout=grace) and grace > 0:
            log.warning("%d job step(s) still running after %.1fs", len(self._in_flight), grace)
        await self._in_flight.close()

    def wake(self) -> None:
        """A job became due now (accepted, cancelled...): look at once."""
        self._wake.set()

    # -- the loop ----------------------------------------------------------------------

    async def _run(self) -> None:
        resumed = False
        while True:
            # Cleared before looking, so a wake() while we look is never lost.
            self._wake.clear()
            try:
                if not resumed:
                    count = await self.jobs.make_all_due(self.clock())
                    resumed = True
                    if count:
                        log.info("resuming %d unfinished job(s)", count)
                if await self._start_due():
                    next_due = await self.jobs.next_due_at()
                else:
                    next_due = None  # every slot busy: a finishing step wakes us
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job scheduler tick failed; retrying shortly")
                next_due = self.clock() + self.idle_retry
            await self._sleep_until(next_due)

    async def _start_due(self) -> bool:
        """Start a step for each due job there is room for; False if there was no room."""
        free = self.max_in_flight - len(self._in_flight)
        if free <= 0:
            return False
        for job in await self.jobs.claim_due(self.clock(), free, self.lease_seconds):
            if self._in_flight.running(job.id) is None:
                self._in_flight.spawn(self._step(job), name=f"job-{job.id}", key=job.id)
        return True

    async def _step(self, job: Job) -> None:
        try:
            await self.steps.advance(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job %d: unexpected error; will retry", job.id)
            await self.steps.retry_later(job)
        finally:
            self._wake.set()

    async def _sleep_until(self, due: float | None) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
        # that arrives as the wake-up does, and stop() would then wait forever.
        timeout = None if due is None else max(0.0, due - self.clock())
        try:
            async with asyncio.timeout(timeout):
                await self._wake.wait()
        except TimeoutError:
            pass
