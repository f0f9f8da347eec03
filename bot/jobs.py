"""A generation job as the bot tracks it, from the member's command to the posted result."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.params import GenerationRequest


class JobState(enum.StrEnum):
    """Where a job is. A job whose outcome is known but not yet posted is *undelivered*;
    `Job.delivered_at` marks the moment its result (video or failure) reached Discord."""

    ACCEPTED = "accepted"  # stored, not yet sent to the provider
    SUBMITTING = "submitting"  # a submit is (or was, before a crash) in flight
    QUEUED = "queued"  # the provider has it; waiting in its queue
    PROCESSING = "processing"  # the provider is generating
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


TERMINAL_STATES = frozenset(
    {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.TIMED_OUT}
)
ACTIVE_STATES = frozenset(JobState) - TERMINAL_STATES

STATE_LABELS = {
    JobState.ACCEPTED: "Accepted",
    JobState.SUBMITTING: "Sending to the model",
    JobState.QUEUED: "Queued",
    JobState.PROCESSING: "Generating",
    JobState.SUCCEEDED: "Done",
    JobState.FAILED: "Failed",
    JobState.CANCELLED: "Cancelled",
    JobState.TIMED_OUT: "Timed out",
}


@dataclass(frozen=True)
class NewJob:
    """What the command layer hands the store to accept a job."""

    guild_id: int | None
    channel_id: int
    user_id: int
    request: GenerationRequest
    model: str
    estimated_cost: float = 0.0
    parent_job_id: int | None = None
    origin: str = "generate"  # generate, reroll or remix
    # Seconds before the poller may send it: the command posts its status message first and
    # then makes it due at once; the delay only matters if that never happens (a crash).
    first_step_after: float = 0.0


@dataclass(frozen=True)
class Job:
    id: int
    guild_id: int | None
    channel_id: int
    user_id: int
    request: GenerationRequest
    payload_json: str
    model: str
    state: JobState
    origin: str
    parent_job_id: int | None
    estimated_cost: float
    request_id: str | None
    status_message_id: int | None
    provider_status: str | None
    error: str | None
    result_url: str | None
    thumbnail_url: str | None
    result_message_id: int | None
    delivered_via: str | None
    attempts: int
    poll_count: int
    failed_checks: int  # consecutive status checks that failed (for backoff)
    delivery_attempts: int
    created_at: float
    updated_at: float
    submitted_at: float | None
    finished_at: float | None
    delivered_at: float | None
    next_check_at: float | None
    deadline_at: float

    @property
    def is_delivered(self) -> bool:
        return self.delivered_at is not None

    @property
    def display_state(self) -> str:
        if self.state is JobState.SUCCEEDED and self.is_delivered:
            return "Delivered"
        return self.state.label
