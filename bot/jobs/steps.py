"""The steps the scheduler runs: one step takes one job one move along its lifecycle.

====================  ===========  ======================================================
state                 step         what it does
====================  ===========  ======================================================
ACCEPTED              submit       send the payload; QUEUED, back to ACCEPTED to retry
                                   (bounded, with backoff), or FINISHED (failed). A job
                                   whose status message was never recorded is first
                                   matched with it, or withdrawn if the member never saw it.
                                   A job built on other jobs waits until their videos are
                                   posted; a continuation then gets its first frame; a
                                   stitch is never sent: it is FINISHED (delivery joins it).
                                   A job a cap holds back waits for its turn
                                   (`bot.jobs.turns`)
SUBMITTING            reconcile    a submit whose answer was lost: adopt the provider's
                                   request once the list shows it; resubmit only after the
                                   search window closed without it
QUEUED, PROCESSING    poll         ask the provider, at times planned from the estimate;
                                   FINISHED once it has an outcome
FINISHED, POSTING     deliver      post the outcome exactly once (`bot.jobs.delivery`)
any active state      time out     past its deadline: FINISHED (timed out)
====================  ===========  ======================================================

Each step writes the job's next due time, so the scheduler needs no memory of its own.
Every call to the provider goes through the one `ProviderBudget`, and no retry is
unbounded: submits stop after `MAX_SUBMIT_ATTEMPTS`, everything else at the job's deadline.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from bot.backoff import full_jitter
from bot.chaos import crash_point
from bot.clock import Clock
from bot.db.jobs import JobRepository
from bot.gmi import (
    AuthError,
    GMIClient,
    GMIError,
    GMIRequest,
    InvalidRequest,
    NotFound,
    Phase,
    ProviderError,
    RateLimited,
)
from bot.gmi.budget import CHECK, LIST, SUBMIT, ProviderBudget
from bot.jobs.continuation import FirstFrames, FrameUnavailableForNow
from bot.jobs.delivery import RESULT_URL_LIFETIME, DeliveryRetry, StatusSearch
from bot.jobs.estimates import FinishEstimator
from bot.jobs.lifecycle import ACTIVE_STATES, TRANSITIONS, JobOutcome, JobState
from bot.jobs.model import REFUSED_STATUS, STATUS_MESSAGE_GRACE, Job
from bot.jobs.polling import CheckPace, PollPlan
from bot.jobs.sources import SourceFailed, sources_ready
from bot.jobs.turns import FairTags, Turns

log = logging.getLogger(__name__)

PENDING_STATUS_TO_STATE = {"processing": JobState.PROCESSING}
PHASE_TO_OUTCOME = {
    Phase.SUCCEEDED: JobOutcome.SUCCEEDED,
    Phase.FAILED: JobOutcome.FAILED,
    Phase.CANCELLED: JobOutcome.CANCELLED,
}
# Submits (each a possible request upstream) per job, whatever went wrong.
MAX_SUBMIT_ATTEMPTS = 5
MAX_NOT_FOUND_CHECKS = 3
# A request listed by the provider is matched to a lost submit only if it was created
# after the job was accepted (minus this much clock skew between us and the provider).
RECONCILE_CLOCK_SKEW = 300.0


class JobReporter(Protocol):
    """What the steps need from the chat side (Discord in production)."""

    def job_updated(self, job: Job) -> None:
        """The job changed: refresh what its requester sees. Must not block the step."""

    async def deliver(self, job: Job) -> None:
        """Post the job's outcome exactly once and mark it delivered in the store.
        Raise `DeliveryRetry` to be called again later."""

    async def find_status_message(self, job: Job) -> int | StatusSearch:
        """The id of the job's status message, or why there is none.
        Raise `DeliveryRetry` if that can't be told now."""


@dataclass(frozen=True)
class StepTiming:
    """The knobs of the steps' timing (from the settings)."""

    plan: PollPlan = PollPlan()
    lease_seconds: float = 60.0
    retry_base: float = 2.0
    retry_cap: float = 120.0
    # How long a lost submit is searched for before it is taken as never having arrived:
    # the provider's list may show a new request late, and a resubmit while it could still
    # appear would pay twice.
    reconcile_window: float = 90.0

    def retry_delay(self, attempt: int) -> float:
        """Backoff before the attempt-th retry of a step (1-based)."""
        return full_jitter(
            attempt, base=self.retry_base, cap=self.retry_cap, floor=self.plan.min_interval / 2
        )


Step = Callable[["JobSteps", Job], Awaitable[None]]


class JobSteps:
    def __init__(
        self,
        jobs: JobRepository,
        gmi: GMIClient,
        reporter: JobReporter,
        *,
        budget: ProviderBudget,
        turns: Turns,
        estimator: FinishEstimator,
        first_frames: FirstFrames,
        timing: StepTiming,
        clock: Clock,
    ) -> None:
        self.jobs = jobs
        self.gmi = gmi
        self.reporter = reporter
        self.budget = budget
        self.turns = turns
        self.submit_turns = FairTags()
        self.estimator = estimator
        self.first_frames = first_frames
        self.timing = timing
        self.pace = CheckPace()  # read by the scheduler against the budget
        self.clock = clock
        self.started_at = clock()  # jobs accepted before: their answering process is gone

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

    async def _provider(self, kind: int, key: float, call: Awaitable[Any]) -> Any:
        """One provider call through the budget; a 429 pauses everyone's calls."""
        async with self.budget.call(kind, key):
            try:
                return await call
            except RateLimited as error:
                self.budget.rate_limited_for(error.retry_after)
                raise

    # -- submit and reconcile ----------------------------------------------------------

    async def submit(self, job: Job) -> None:
        if job.status_message_id is None:
            shown = await self._status_message_found(job)
            if shown is None:
                return
            job = shown  # with its status message: a continuation's frame goes on it
        if not await self._sources_ready(job):
            return
        if not job.calls_provider:
            await self.finish(job, JobOutcome.SUCCEEDED)  # delivery joins the clips
            return
        if job.awaits_first_frame:
            framed = await self._attach_first_frame(job)
            if framed is None:
                return
            job = framed
        now = self.clock()
        claimed = await self.turns.dispatch(  # or it waits for its turn
            job,
            count_attempt=True,
            next_check_at=now + self.timing.lease_seconds,
            leased_until=now + self.timing.lease_seconds,  # held while the submit is in flight
        )
        if claimed is None:
            return
        self.reporter.job_updated(claimed)
        payload = json.loads(job.payload_json)
        turn = self.submit_turns.tag(claimed)  # waiting for the budget, in fair turns too
        try:
            request = await self._provider(SUBMIT, turn, self.gmi.submit(job.model, payload))
        except GMIError as error:
            await self._submit_failed(claimed, error)
            return
        finally:
            self.submit_turns.served(turn)
        crash_point("after_submit")
        await self._record_request(claimed, request)

    async def _sources_ready(self, job: Job) -> bool:
        """The jobs this one builds on have their videos: go on. Until then it waits (their
        delivery wakes it; a check every `PollPlan.max_interval` in case it didn't)."""
        try:
            if await sources_ready(self.jobs, job):
                return True
        except SourceFailed as failed:
            await self.finish(job, JobOutcome.FAILED, error=str(failed))
            return False
        await self._reschedule(job, self.timing.plan.max_interval)
        return False

    async def _attach_first_frame(self, job: Job) -> Job | None:
        """A continuation's first frame, from its source's last; None if it can't go yet."""
        try:
            framed = await self.first_frames.attach(job)
        except SourceFailed as failed:
            await self.finish(job, JobOutcome.FAILED, error=str(failed))
            return None
        except (FrameUnavailableForNow, DeliveryRetry) as error:
            log.warning("job %d: its first frame can't be had yet (%s)", job.id, error)
            await self._not_yet(job)
            return None
        if framed is not None:
            log.info("job %d: starts from the last frame of #%s", job.id, job.first_frame_from)
        return framed

    async def _not_yet(self, job: Job) -> None:
        """A step that can't be taken yet for a passing reason: again later, with backoff."""
        await self.jobs.transition(
            job.id,
            from_states={job.state},
            failed_checks=job.failed_checks + 1,
            next_check_at=self.clock() + self.timing.retry_delay(job.failed_checks + 1),
        )

    async def _status_message_found(self, job: Job) -> Job | None:
        """A job whose status message was never recorded (a crash right after answering,
        or before): the job with its message recovered, or None when it can't go on now
        (withdrawn, as the member never saw it, or to be looked up again later)."""
        try:
            found = await self.reporter.find_status_message(job)
        except DeliveryRetry as error:
            log.warning("job %d: can't tell yet whether it was shown (%s)", job.id, error)
            await self._not_yet(job)
            return None
        grace_ends = job.created_at + STATUS_MESSAGE_GRACE
        answering = job.created_at >= self.started_at  # this process may still answer it
        if found is StatusSearch.NEVER_SHOWN and answering and self.clock() < grace_ends:
            # Woken early (the video it builds on is ready): its answer may still be on
            # its way to Discord. It is withdrawn only if still unseen once its grace ends.
            await self.jobs.transition(
                job.id, from_states={JobState.ACCEPTED}, next_check_at=grace_ends
            )
            return None
        if found is StatusSearch.NEVER_SHOWN:
            log.info("job %d: its member never saw it; withdrawn unsent, nothing charged", job.id)
            await self.jobs.delete_unsent(job.id)
            return None
        if found is StatusSearch.UNKNOWN:
            log.warning("job %d: its status message can't be found; running it without", job.id)
            return job
        log.info("job %d: found its status message after a restart", job.id)
        await self.jobs.set_status_message(job.id, found)
        return replace(job, status_message_id=found)

    async def _submit_failed(self, job: Job, error: GMIError) -> None:
        now = self.clock()
        out_of_attempts = job.attempts >= MAX_SUBMIT_ATTEMPTS
        if error.ambiguous:
            # It may exist upstream: find it through the list before sending it again.
            log.warning("job %d: submit outcome unknown (%s); will reconcile", job.id, error)
            await self.jobs.transition(
                job.id,
                from_states={JobState.SUBMITTING},
                reconcile_until=now + self.timing.reconcile_window,
                next_check_at=now + self.timing.retry_delay(job.attempts),
            )
        elif isinstance(error, InvalidRequest) or (
            isinstance(error, ProviderError) and error.wrapped_status is not None
        ):
            # The provider refused the request itself (a wrapped 4xx was already retried by
            # the client): report its reason; a re-roll would be refused the same way.
            log.warning("job %d: the provider refused the submit: %s", job.id, error)
            await self.finish(
                job, JobOutcome.FAILED, error=error.message, provider_status=REFUSED_STATUS
            )
        elif isinstance(error, RateLimited | ProviderError) and not out_of_attempts:
            log.warning("job %d: submit refused for now (%s); will retry", job.id, error)
            await self.jobs.transition(
                job.id,
                from_states={JobState.SUBMITTING},
                to_state=JobState.ACCEPTED,
                next_check_at=now + self._retry_delay(job.attempts, error),
            )
        else:
            log.warning("job %d: submit failed after %d attempt(s): %s", job.id, job.attempts, error)
            await self.finish(job, JobOutcome.FAILED, error=error.message)

    async def reconcile(self, job: Job) -> None:
        """A submit whose answer was lost: adopt the provider's request if it exists.
        Matching is by payload, never by guess; a resubmit waits until the search window
        closed (and counts as an attempt)."""
        now = self.clock()
        if job.reconcile_until is None:  # the process died with the submit in flight
            job = await self.jobs.transition(
                job.id,
                from_states={JobState.SUBMITTING},
                reconcile_until=now + self.timing.reconcile_window,
            ) or job
        since = job.created_at - RECONCILE_CLOCK_SKEW
        try:
            listed = await self._provider(
                LIST, now, self.gmi.list_requests(job.model, created_after=since)
            )
        except GMIError as error:
            log.warning("job %d: cannot list requests to reconcile (%s)", job.id, error)
            await self._not_yet(job)
            return
        sent = json.loads(job.payload_json)
        candidates = [r for r in listed if _payload_matches(sent, r.payload)]
        taken = await self.jobs.known_request_ids(r.request_id for r in candidates)
        free = sorted(
            (r for r in candidates if r.request_id not in taken),
            key=lambda r: r.created_at or 0.0,
        )
        if free:
            log.info("job %d: reconciled with provider request %s", job.id, free[0].request_id)
            await self._record_request(job, free[0])
            return
        if job.reconcile_until is not None and now < job.reconcile_until:
            # Searches spread out, doubling: a handful per window, not one every few seconds.
            searches = job.failed_checks + 1
            wait = min(self.timing.retry_base * 2.0**searches, job.reconcile_until - now)
            await self.jobs.transition(
                job.id,
                from_states={JobState.SUBMITTING},
                failed_checks=searches,
                next_check_at=now + max(wait, self.timing.plan.min_interval / 2),
            )
            return
        if job.attempts >= MAX_SUBMIT_ATTEMPTS:
            await self.finish(
                job,
                JobOutcome.FAILED,
                error="The video service could not be reached to start this video.",
            )
            return
        log.info("job %d: the lost submit never reached the provider; resubmitting", job.id)
        await self.jobs.transition(
            job.id,
            from_states={JobState.SUBMITTING},
            to_state=JobState.ACCEPTED,
            reconcile_until=None,
            failed_checks=0,
            next_check_at=now + self.timing.retry_delay(job.attempts),
        )

    async def _record_request(self, job: Job, request: GMIRequest) -> None:
        now = self.clock()
        queue = self.estimator.queue()
        processing = self.estimator.processing(job.request)
        created = request.created_at or now
        sent = replace(job, submitted_at=now, provider_created_at=created)
        updated = await self.jobs.transition(
            job.id,
            from_states={JobState.SUBMITTING},
            to_state=JobState.QUEUED,
            request_id=request.request_id,
            provider_status=request.status,
            submitted_at=now,
            provider_created_at=created,
            predicted_finish_at=self.estimator.predicted_finish(sent, now),
            reconcile_until=None,
            failed_checks=0,
            next_check_at=min(now + self.timing.plan.first_check(queue, processing), job.deadline_at),
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
            self.reporter.job_updated(updated)
        else:
            await self._apply_status(updated, request, first_check=True)

    # -- poll --------------------------------------------------------------------------

    async def poll(self, job: Job) -> None:
        assert job.request_id is not None
        priority = job.predicted_finish_at or job.next_check_at or 0.0
        try:
            request = await self._provider(CHECK, priority, self.gmi.get(job.request_id))
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
            delay = max(delay, self.timing.retry_cap)
        else:
            log.warning("job %d: status check %d failed (%s)", job.id, failures, error)
        await self.jobs.transition(
            job.id,
            from_states={job.state},
            failed_checks=failures,
            next_check_at=self.clock() + delay,
        )

    async def _apply_status(
        self, job: Job, request: GMIRequest, *, count_poll: bool = False, first_check: bool = False
    ) -> None:
        now = self.clock()
        if request.phase is not Phase.PENDING:
            await self.finish(
                job,
                PHASE_TO_OUTCOME[request.phase],
                provider_status=request.status,
                provider_finished_at=request.updated_at or now,
                error=request.failure_reason if request.phase is not Phase.SUCCEEDED else None,
                result_url=request.video_url,
                thumbnail_url=request.thumbnail_url,
            )
            return
        # A job that reached PROCESSING stays there if the provider reports it queued again.
        reported = _pending_state(request)
        moves = reported is not job.state and reported in TRANSITIONS[job.state]
        started = job.processing_started_at
        if started is None and reported is JobState.PROCESSING:
            started = request.updated_at or now  # the provider's clock says when it began
        processing = self.estimator.processing(job.request)
        plan = self.timing.plan
        if started is not None:
            delay = plan.while_processing(started, now, processing, self.pace.stretch)
        elif first_check:
            delay = plan.first_check(self.estimator.queue(), processing)
        else:
            delay = plan.while_queued(processing)
        seen = replace(job, processing_started_at=started)
        updated = await self.jobs.transition(
            job.id,
            from_states={job.state},
            to_state=reported if moves else None,
            count_poll=count_poll,
            failed_checks=0,
            provider_status=request.status,
            processing_started_at=started,
            predicted_finish_at=self.estimator.predicted_finish(seen, now),
            next_check_at=min(now + delay, job.deadline_at),  # so it times out on time
        )
        if updated is not None and (moves or updated.predicted_finish_at != job.predicted_finish_at):
            self.reporter.job_updated(updated)

    async def fresh_result_link(self, job: Job) -> str | None:
        """The job's result link as the provider gives it now (stored links expire)."""
        if job.request_id is None:
            return None
        try:
            request: GMIRequest = await self._provider(CHECK, 0.0, self.gmi.get(job.request_id))
        except GMIError as error:
            log.warning("job %d: could not fetch a fresh result link (%s)", job.id, error)
            return None
        return request.video_url

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
            # Delivery runs next in this same step (a fit or a stitch can take a while):
            # the job stays leased to it.
            leased_until=now + self.timing.lease_seconds,
            **fields,
        )
        if finished is None:
            return
        crash_point("after_provider_finished")
        log.info("job %d: %s", job.id, outcome.value)
        if outcome is JobOutcome.SUCCEEDED and finished.calls_provider:
            await self.estimator.record(finished)
        self.reporter.job_updated(finished)  # the outcome shows while it is posted
        await self.deliver(finished)

    async def deliver(self, job: Job) -> None:
        try:
            await self.reporter.deliver(job)
        except DeliveryRetry as error:
            current = await self.jobs.get(job.id) or job  # the reporter counted the attempt
            now = self.clock()
            if now > (current.finished_at or now) + RESULT_URL_LIFETIME:
                log.error("job %d: giving up posting its result: %s", job.id, error)
                settled = await self.jobs.transition(
                    job.id,
                    from_states={JobState.POSTING},
                    to_state=JobState.UNDELIVERABLE,
                    delivered_via="undeliverable",
                    delivered_at=now,
                    next_check_at=None,
                )
                if settled is not None:
                    self.reporter.job_updated(settled)
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
