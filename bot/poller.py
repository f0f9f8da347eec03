"""The one background scheduler that carries every job from accepted to posted.

Due times live in the database (``jobs.next_check_at``), not in sleeping coroutines, so a
restart forgets nothing: the loop claims due jobs with a lease, takes each one step
forward (submit, reconcile, poll, deliver) and writes its next due time. Provider calls
are bounded by a semaphore; each job has a deadline after which it is reported as timed
out.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bot.delivery import RESULT_URL_LIFETIME, DeliveryRetry
from bot.gmi import (
    AuthError,
    GMIClient,
    GMIError,
    GMIRequest,
    NetworkError,
    NotFound,
    Phase,
    ProviderError,
    RateLimited,
)
from bot.jobs import ACTIVE_STATES, Job, JobState
from bot.store import JobStore

log = logging.getLogger(__name__)

PENDING_STATUS_TO_STATE = {"processing": JobState.PROCESSING}
PHASE_TO_STATE = {
    Phase.SUCCEEDED: JobState.SUCCEEDED,
    Phase.FAILED: JobState.FAILED,
    Phase.CANCELLED: JobState.CANCELLED,
}
POLLABLE = frozenset({JobState.QUEUED, JobState.PROCESSING})
MAX_SUBMIT_ATTEMPTS = 5
TRANSIENT_ERRORS = (RateLimited, ProviderError, NetworkError)
MAX_NOT_FOUND_CHECKS = 3
# A request listed by the provider is matched to a lost submit only if it was created
# after the job was accepted (minus this much clock skew between us and the provider).
RECONCILE_CLOCK_SKEW = 300.0


class JobReporter(Protocol):
    """What the scheduler needs from the chat side (Discord in production)."""

    async def job_updated(self, job: Job) -> None:
        """The job changed state: refresh what its requester sees (best effort)."""

    async def deliver(self, job: Job) -> None:
        """Post the job's outcome exactly once and mark it delivered in the store.
        Raise `DeliveryRetry` to be called again later."""


@dataclass(frozen=True)
class PollTiming:
    min_interval: float = 2.0
    max_interval: float = 30.0
    expected_seconds: float = 60.0
    lease_seconds: float = 30.0
    retry_base: float = 2.0

    def next_poll_delay(self, elapsed: float) -> float:
        """Sparse while the video cannot be ready yet, brisk around the expected finish,
        then backing off the longer it runs over."""
        early = 0.6 * self.expected_seconds
        if elapsed < early:
            delay = early - elapsed
        elif elapsed <= self.expected_seconds:
            delay = self.min_interval
        else:
            delay = (elapsed - self.expected_seconds) / 4
        return min(max(delay, self.min_interval), self.max_interval)

    def retry_delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Capped exponential backoff with full jitter for the attempt-th retry (1-based)."""
        ceiling = min(self.max_interval * 4, self.retry_base * 2 ** min(max(attempt - 1, 0), 30))
        return max(self.min_interval / 2, ceiling * rng())


class JobPoller:
    def __init__(
        self,
        store: JobStore,
        gmi: GMIClient,
        reporter: JobReporter,
        *,
        timing: PollTiming = PollTiming(),
        max_concurrency: int = 8,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.gmi = gmi
        self.reporter = reporter
        self.timing = timing
        self.clock = clock
        self._api_slots = asyncio.Semaphore(max_concurrency)
        self._max_concurrency = max_concurrency
        self._wake = asyncio.Event()
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._runner: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the loop; unfinished jobs from before a restart resume at once."""
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name="job-poller")
            self._runner.add_done_callback(self._runner_ended)

    def _runner_ended(self, task: asyncio.Task[None]) -> None:
        """The loop never ends on its own; if it ever dies, say so loudly and start again."""
        if task.cancelled() or self._runner is not task:
            return
        log.critical("job poller stopped unexpectedly; restarting it", exc_info=task.exception())
        self._runner = None
        self.start()

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        tasks = list(self._in_flight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def wake(self) -> None:
        """A job became due now (accepted, cancelled...): look at once."""
        self._wake.set()

    async def _run(self) -> None:
        resumed = False
        while True:
            # Cleared before looking, so a wake() while we look is never lost.
            self._wake.clear()
            try:
                if not resumed:
                    count = await self.store.make_all_due(self.clock())
                    resumed = True
                    if count:
                        log.info("resuming %d unfinished job(s)", count)
                if await self._tick():
                    next_due = await self.store.next_due_at()
                else:
                    next_due = None  # every slot busy: a finishing job wakes us
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job poller tick failed; retrying shortly")
                next_due = self.clock() + self.timing.min_interval
            await self._sleep_until(next_due)

    async def _tick(self) -> bool:
        """Start the due jobs there is room for; False if there was no room at all."""
        free = self._max_concurrency * 4 - len(self._in_flight)
        if free <= 0:
            return False
        jobs = await self.store.claim_due(self.clock(), free, self.timing.lease_seconds)
        for job in jobs:
            if job.id in self._in_flight:
                continue
            task = asyncio.create_task(self._advance_logged(job), name=f"job-{job.id}")
            self._in_flight[job.id] = task
            task.add_done_callback(lambda _t, job_id=job.id: self._finished(job_id))
        return True

    def _finished(self, job_id: int) -> None:
        self._in_flight.pop(job_id, None)
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

    # -- one step of one job -----------------------------------------------------------

    async def _advance_logged(self, job: Job) -> None:
        try:
            await self.advance(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job %d: unexpected error; will retry", job.id)
            await self._reschedule(job, self.timing.retry_delay(3))

    async def advance(self, job: Job) -> None:
        """Take one step for ``job`` according to its state."""
        if job.state in ACTIVE_STATES and self.clock() >= job.deadline_at:
            await self._time_out(job)
        elif job.state is JobState.ACCEPTED:
            await self._submit(job)
        elif job.state is JobState.SUBMITTING:
            await self._reconcile(job)
        elif job.state in POLLABLE:
            await self._poll(job)
        elif job.state.is_terminal and not job.is_delivered:
            await self._deliver(job)

    async def _submit(self, job: Job) -> None:
        now = self.clock()
        claimed = await self.store.transition(
            job.id,
            from_states={JobState.ACCEPTED},
            to_state=JobState.SUBMITTING,
            count_attempt=True,
            next_check_at=now + self.timing.lease_seconds,
        )
        if claimed is None:
            return
        await self.reporter.job_updated(claimed)
        try:
            async with self._api_slots:
                request = await self.gmi.submit(
                    job.model, json.loads(job.payload_json), retry_ambiguous=False
                )
        except GMIError as error:
            await self._submit_failed(claimed, error)
            return
        await self._record_request(claimed, request)

    async def _submit_failed(self, job: Job, error: GMIError) -> None:
        if error.ambiguous:
            # It may exist upstream: find it through the list before sending it again.
            log.warning("job %d: submit outcome unknown (%s); will reconcile", job.id, error)
            await self._reschedule(job, self.timing.retry_delay(job.attempts))
        elif isinstance(error, TRANSIENT_ERRORS) and job.attempts < MAX_SUBMIT_ATTEMPTS:
            log.warning("job %d: submit refused for now (%s); will retry", job.id, error)
            await self.store.transition(
                job.id,
                from_states={JobState.SUBMITTING},
                to_state=JobState.ACCEPTED,
                next_check_at=self.clock() + self._retry_delay(job.attempts, error),
            )
        else:
            log.warning("job %d: submit failed: %s", job.id, error)
            await self._finish(job, JobState.FAILED, error=error.message)

    async def _reconcile(self, job: Job) -> None:
        """A submit whose answer was lost: adopt the provider's request if it exists,
        otherwise send it again. Matching is by payload, never by guess."""
        try:
            async with self._api_slots:
                listed = await self.gmi.list_requests(job.model)
        except GMIError as error:
            log.warning("job %d: cannot list requests to reconcile (%s)", job.id, error)
            await self._reschedule(job, self.timing.retry_delay(job.attempts + 1))
            return
        sent = json.loads(job.payload_json)
        candidates = [
            r
            for r in listed
            if _payload_matches(sent, r.payload)
            and (r.created_at is None or r.created_at >= job.created_at - RECONCILE_CLOCK_SKEW)
        ]
        taken = await self.store.known_request_ids(r.request_id for r in candidates)
        free = sorted(
            (r for r in candidates if r.request_id not in taken),
            key=lambda r: r.created_at or 0.0,
        )
        if free:
            log.info("job %d: reconciled with provider request %s", job.id, free[0].request_id)
            await self._record_request(job, free[0])
        else:
            log.info("job %d: the lost submit never reached the provider; resubmitting", job.id)
            moved = await self.store.transition(
                job.id,
                from_states={JobState.SUBMITTING},
                to_state=JobState.ACCEPTED,
                next_check_at=self.clock(),
            )
            if moved is not None:
                await self._submit(moved)

    async def _record_request(self, job: Job, request: GMIRequest) -> None:
        now = self.clock()
        updated = await self.store.transition(
            job.id,
            from_states={JobState.SUBMITTING},
            to_state=JobState.QUEUED,
            request_id=request.request_id,
            provider_status=request.status,
            submitted_at=now,
            next_check_at=now + self.timing.next_poll_delay(0.0),
        )
        if updated is None:
            # Cancelled or timed out meanwhile: it is still generated (and billed) upstream,
            # so the row keeps the provider's id; the outcome is reported as it is.
            await self.store.transition(
                job.id,
                from_states={JobState.CANCELLED, JobState.TIMED_OUT},
                request_id=request.request_id,
                submitted_at=now,
            )
            return
        log.info("job %d: submitted as %s", job.id, request.request_id)
        if request.phase is Phase.PENDING and self._pending_state(request) is JobState.QUEUED:
            await self.reporter.job_updated(updated)
        else:
            await self._apply_status(updated, request)

    async def _poll(self, job: Job) -> None:
        assert job.request_id is not None
        try:
            async with self._api_slots:
                request = await self.gmi.get(job.request_id)
        except GMIError as error:
            await self._check_failed(job, error)
            return
        await self._apply_status(job, request, count_poll=True)

    async def _check_failed(self, job: Job, error: GMIError) -> None:
        """Back off with each consecutive failure; a request the provider keeps saying it
        doesn't know is failed rather than polled until the deadline."""
        failures = job.failed_checks + 1
        if isinstance(error, NotFound) and failures >= MAX_NOT_FOUND_CHECKS:
            await self._finish(
                job, JobState.FAILED, error="The provider no longer knows this request."
            )
            return
        delay = self._retry_delay(failures, error)
        if isinstance(error, AuthError):
            # Only the operator can fix the key: check rarely until they do.
            log.error("job %d: the provider refused our API key (%s)", job.id, error)
            delay = max(delay, self.timing.max_interval * 4)
        else:
            log.warning("job %d: status check %d failed (%s)", job.id, failures, error)
        await self.store.transition(
            job.id,
            from_states={job.state},
            failed_checks=failures,
            next_check_at=self.clock() + delay,
        )

    async def _apply_status(self, job: Job, request: GMIRequest, count_poll: bool = False) -> None:
        now = self.clock()
        if request.phase is Phase.PENDING:
            state = self._pending_state(request)
            elapsed = now - (job.submitted_at or now)
            updated = await self.store.transition(
                job.id,
                from_states=POLLABLE,
                to_state=state,
                count_poll=count_poll,
                failed_checks=0,
                provider_status=request.status,
                next_check_at=now + self.timing.next_poll_delay(elapsed),
            )
            if updated is not None and updated.state is not job.state:
                await self.reporter.job_updated(updated)
            return
        await self._finish(
            job,
            PHASE_TO_STATE[request.phase],
            provider_status=request.status,
            error=request.failure_reason if request.phase is not Phase.SUCCEEDED else None,
            result_url=request.video_url,
            thumbnail_url=request.thumbnail_url,
        )

    @staticmethod
    def _pending_state(request: GMIRequest) -> JobState:
        return PENDING_STATUS_TO_STATE.get(request.status, JobState.QUEUED)

    async def _time_out(self, job: Job) -> None:
        minutes = round((job.deadline_at - job.created_at) / 60)
        await self._finish(
            job,
            JobState.TIMED_OUT,
            error=f"No result from the provider after {minutes} minutes.",
        )

    async def _finish(self, job: Job, state: JobState, **fields: Any) -> None:
        now = self.clock()
        finished = await self.store.transition(
            job.id,
            from_states=ACTIVE_STATES,
            to_state=state,
            finished_at=now,
            next_check_at=now,
            **fields,
        )
        if finished is not None:
            log.info("job %d: %s", job.id, state.value)
            await self.reporter.job_updated(finished)  # the outcome shows while it is posted
            await self._deliver(finished)

    async def _deliver(self, job: Job) -> None:
        try:
            await self.reporter.deliver(job)
        except DeliveryRetry as error:
            current = await self.store.get(job.id) or job  # the reporter counted the attempt
            now = self.clock()
            if now > (current.finished_at or now) + RESULT_URL_LIFETIME:
                log.error("job %d: giving up posting its result: %s", job.id, error)
                await self.store.transition(
                    job.id,
                    from_states={job.state},
                    delivered_via="undeliverable",
                    delivered_at=now,
                    next_check_at=None,
                )
                return
            log.warning(
                "job %d: posting failed (attempt %d: %s); retrying",
                job.id,
                current.delivery_attempts,
                error,
            )
            await self._reschedule(job, self.timing.retry_delay(current.delivery_attempts))

    def _retry_delay(self, attempt: int, error: GMIError) -> float:
        """Our backoff, but never sooner than the provider's ``Retry-After``."""
        return max(self.timing.retry_delay(attempt), getattr(error, "retry_after", None) or 0.0)

    async def _reschedule(self, job: Job, delay: float) -> None:
        await self.store.transition(
            job.id, from_states={job.state}, next_check_at=self.clock() + delay
        )


def _payload_matches(sent: dict[str, Any], listed: dict[str, Any] | None) -> bool:
    """Every key we sent is echoed with the same value (the provider may add defaults)."""
    if not listed:
        return False
    return all(listed.get(key) == value for key, value in sent.items())
