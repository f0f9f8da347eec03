"""The steps the scheduler runs: one step takes one job one move along its lifecycle.

====================  ===========  ======================================================
state                 step         what it does
====================  ===========  ======================================================
ACCEPTED              submit       send the payload; QUEUED, back to ACCEPTED to retry,
                                   or FINISHED (failed)
SUBMITTING            reconcile    a submit whose answer was lost: adopt the provider's
                                   request if the list has it, else send it again
QUEUED, PROCESSING    poll         ask the provider; FINISHED once it has an outcome
FINISHED, POSTING     deliver      post the outcome exactly once (`bot.jobs.delivery`)
any active state      time out     past its deadline: FINISHED (timed out)
====================  ===========  ======================================================

Each step writes the job's next due time, so the scheduler needs no memory of its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bot.backoff import full_jitter
from bot.clock import Clock
from bot.db.jobs import JobRepository
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
from bot.jobs.delivery import RESULT_URL_LIFETIME, DeliveryRetry
from bot.jobs.lifecycle import (
    ACTIVE_STATES,
    TRANSITIONS,
    JobOutcome,
    JobState,
)
from bot.jobs.model import Job

log = logging.getLogger(__name__)

PENDING_STATUS_TO_STATE = {"processing": JobState.PROCESSING}
PHASE_TO_OUTCOME = {
    Phase.SUCCEEDED: JobOutcome.SUCCEEDED,
    Phase.FAILED: JobOutcome.FAILED,
    Phase.CANCELLED: JobOutcome.CANCELLED,
}
MAX_SUBMIT_ATTEMPTS = 5
TRANSIENT_ERRORS = (RateLimited, ProviderError, NetworkError)
MAX_NOT_FOUND_CHECKS = 3
# A request listed by the provider is matched to a lost submit only if it was created
# after the job was accepted (minus this much clock skew between us and the provider).
RECONCILE_CLOCK_SKEW = 300.0


class JobReporter(Protocol):
    """What the steps need from the chat side (Discord in production)."""

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

    def retry_delay(self, attempt: int) -> float:
        """Backoff before the attempt-th retry of a step (1-based)."""
        return full_jitter(
            attempt,
            base=self.retry_base,
            cap=self.max_interval * 4,
            floor=self.min_interval / 2,
        )


Step = Callable[["JobSteps", Job], Awaitable[None]]


class JobSteps:
    def __init__(
        self,
        jobs: JobRepository,
        gmi: GMIClient,
        reporter: JobReporter,
        *,
        timing: PollTiming,
        api_slots: asyncio.Semaphore,
        clock: Clock,
    ) -> None:
        self.jobs = jobs
        self.gmi = gmi
        self.reporter = reporter
        self.timing = timing
        self.api_slots = api_slots
        self.clock = clock

    async def advance(self, job: Job) -> None:
        """Take one step for ``job`` according to its state."""
        if job.state in ACTIVE_STATES and self.clock() >= job.deadline_at:
            await self.time_out(job)
            return
        step = STEPS.get(job.state)
        if step is not None:
            await step(self, job)

    async def retry_later(self, job: Job) -> None:
        """After an unexpected error: try whatever step the job is at again after a while."""
        current = await self.jobs.get(job.id)
        if current is not None and current.next_check_at is not None:
            await self._reschedule(current, self.timing.retry_delay(3))

    # -- submit and reconcile ----------------------------------------------------------

    async def submit(self, job: Job) -> None:
        now = self.clock()
        claimed = await self.jobs.transition(
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
            async with self.api_slots:
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
            await self.jobs.transition(
                job.id,
                from_states={JobState.SUBMITTING},
                to_state=JobState.ACCEPTED,
                next_check_at=self.clock() + self._retry_delay(job.attempts, error),
            )
        else:
            log.warning("job %d: submit failed: %s", job.id, error)
            await self.finish(job, JobOutcome.FAILED, error=error.message)

    async def reconcile(self, job: Job) -> None:
        """A submit whose answer was lost: adopt the provider's request if it exists,
        otherwise send it again. Matching is by payload, never by guess."""
        try:
            async with self.api_slots:
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
        taken = await self.jobs.known_request_ids(r.request_id for r in candidates)
        free = sorted(
            (r for r in candidates if r.request_id not in taken),
            key=lambda r: r.created_at or 0.0,
        )
        if free:
            log.info("job %d: reconciled with provider request %s", job.id, free[0].request_id)
            await self._record_request(job, free[0])
            return
        log.info("job %d: the lost submit never reached the provider; resubmitting", job.id)
        moved = await self.jobs.transition(
            job.id,
            from_states={JobState.SUBMITTING},
            to_state=JobState.ACCEPTED,
            next_check_at=self.clock(),
        )
        if moved is not None:
            await self.submit(moved)

    async def _record_request(self, job: Job, request: GMIRequest) -> None:
        now = self.clock()
        updated = await self.jobs.transition(
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
            await self.jobs.transition(
                job.id,
                from_states={
                    JobState.FINISHED,
                    JobState.POSTING,
                    JobState.DELIVERED,
                    JobState.UNDELIVERABLE,
                },
                request_id=request.request_id,
                submitted_at=now,
            )
            return
        log.info("job %d: submitted as %s", job.id, request.request_id)
        if request.phase is Phase.PENDING and _pending_state(request) is JobState.QUEUED:
            await self.reporter.job_updated(updated)
        else:
            await self._apply_status(updated, request)

    # -- poll --------------------------------------------------------------------------

    async def poll(self, job: Job) -> None:
        assert job.request_id is not None
        try:
            async with self.api_slots:
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
            await self.finish(
                job, JobOutcome.FAILED, error="The provider no longer knows this request."
            )
            return
        delay = self._retry_delay(failures, error)
        if isinstance(error, AuthError):
            # Only the operator can fix the key: check rarely until they do.
            log.error("job %d: the provider refused our API key (%s)", job.id, error)
            delay = max(delay, self.timing.max_interval * 4)
        else:
            log.warning("job %d: status check %d failed (%s)", job.id, failures, error)
        await self.jobs.transition(
            job.id,
            from_states={job.state},
            failed_checks=failures,
            next_check_at=self.clock() + delay,
        )

    async def _apply_status(self, job: Job, request: GMIRequest, count_poll: bool = False) -> None:
        now = self.clock()
        if request.phase is not Phase.PENDING:
            await self.finish(
                job,
                PHASE_TO_OUTCOME[request.phase],
                provider_status=request.status,
                error=request.failure_reason if request.phase is not Phase.SUCCEEDED else None,
                result_url=request.video_url,
                thumbnail_url=request.thumbnail_url,
            )
            return
        # A job that reached PROCESSING stays there if the provider reports it queued again.
        reported = _pending_state(request)
        moves = reported is not job.state and reported in TRANSITIONS[job.state]
        elapsed = now - (job.submitted_at or now)
        updated = await self.jobs.transition(
            job.id,
            from_states={job.state},
            to_state=reported if moves else None,
            count_poll=count_poll,
            failed_checks=0,
            provider_status=request.status,
            next_check_at=now + self.timing.next_poll_delay(elapsed),
        )
        if updated is not None and moves:
            await self.reporter.job_updated(updated)

    # -- ending ------------------------------------------------------------------------

    async def time_out(self, job: Job) -> None:
        seconds = round(job.deadline_at - job.created_at)
        amount, unit = (seconds, "second") if seconds < 60 else (round(seconds / 60), "minute")
        waited = f"{amount} {unit}{'' if amount == 1 else 's'}"
        await self.finish(
            job,
            JobOutcome.TIMED_OUT,
            error=f"No result from the provider after {waited}.",
        )

    async def finish(self, job: Job, outcome: JobOutcome, **fields: Any) -> None:
        now = self.clock()
        finished = await self.jobs.transition(
            job.id,
            from_states=ACTIVE_STATES,
            to_state=JobState.FINISHED,
            outcome=outcome,
            finished_at=now,
            next_check_at=now,
            **fields,
        )
        if finished is not None:
            log.info("job %d: %s", job.id, outcome.value)
            await self.reporter.job_updated(finished)  # the outcome shows while it is posted
            await self.deliver(finished)

    async def deliver(self, job: Job) -> None:
        try:
            await self.reporter.deliver(job)
        except DeliveryRetry as error:
            current = await self.jobs.get(job.id) or job  # the reporter counted the attempt
            now = self.clock()
            if now > (current.finished_at or now) + RESULT_URL_LIFETIME:
                log.error("job %d: giving up posting its result: %s", job.id, error)
                await self.jobs.transition(
                    job.id,
                    from_states={JobState.POSTING},
                    to_state=JobState.UNDELIVERABLE,
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
            await self._reschedule(current, self.timing.retry_delay(current.delivery_attempts))

    # -- helpers -----------------------------------------------------------------------

    def _retry_delay(self, attempt: int, error: GMIError) -> float:
        """Our backoff, but never sooner than the provider's ``Retry-After``."""
        return max(self.timing.retry_delay(attempt), getattr(error, "retry_after", None) or 0.0)

    async def _reschedule(self, job: Job, delay: float) -> None:
        await self.jobs.transition(
            job.id, from_states={job.state}, next_check_at=self.clock() + delay
        )


STEPS: dict[JobState, Step] = {
    JobState.ACCEPTED: JobSteps.submit,
    JobState.SUBMITTING: JobSteps.reconcile,
    JobState.QUEUED: JobSteps.poll,
    JobState.PROCESSING: JobSteps.poll,
    JobState.FINISHED: JobSteps.deliver,
    JobState.POSTING: JobSteps.deliver,
}


def _pending_state(request: GMIRequest) -> JobState:
    return PENDING_STATUS_TO_STATE.get(request.status, JobState.QUEUED)


def _payload_matches(sent: dict[str, Any], listed: dict[str, Any] | None) -> bool:
    """Every key we sent is echoed with the same value (the provider may add defaults)."""
    if not listed:
        return False
    return all(listed.get(key) == value for key, value in sent.items())
