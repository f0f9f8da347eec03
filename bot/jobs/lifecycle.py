"""Every state a job can be in, and every way it can move: the whole lifecycle on one screen.

::

    ACCEPTED ──▶ SUBMITTING ──▶ QUEUED ──▶ PROCESSING
       ▲  │          │  │         │            │
       └──┼──────────┘  └─────────┼──▶ PROCESSING (provider skipped the queue)
          │  (retry, resubmit)    │            │
          ▼                       ▼            ▼
       FINISHED ◀──────────── (outcome known: succeeded, failed, cancelled, timed out)
          │
          ▼
       POSTING ──▶ DELIVERED        (the outcome is in the chat)
          │
          └──────▶ UNDELIVERABLE    (no channel, no DM, or a day of failed posts)

A job moves only along `TRANSITIONS`; the job repository refuses anything else with
`IllegalTransition`, so a wrong move is a loud bug, never a silent state. The *outcome*
(`JobOutcome`) is set when the job enters FINISHED; it is what quotas, refunds and the
budget look at. One correction is allowed: delivery turns SUCCEEDED into LOST when the
provider's video can't be had (its link expired, or what it served is not a video). A job
in POSTING may already have reached the chat (an earlier attempt's answer may have been
lost), so delivery searches before posting again.
"""

from __future__ import annotations

import enum


class JobState(enum.StrEnum):
    ACCEPTED = "accepted"  # stored; waits for its status message, then for the provider
    SUBMITTING = "submitting"  # a submit is (or was, before a crash) in flight
    QUEUED = "queued"  # the provider has it, in its queue
    PROCESSING = "processing"  # the provider is generating
    FINISHED = "finished"  # the outcome is known and not posted yet
    POSTING = "posting"  # an attempt to post the outcome started (it may have landed)
    DELIVERED = "delivered"  # the outcome is in the channel or the requester's DMs
    UNDELIVERABLE = "undeliverable"  # nowhere to post it; given up

    @property
    def is_active(self) -> bool:
        """The bot is still following the job at the provider (it can be cancelled)."""
        return self in ACTIVE_STATES

    @property
    def is_settled(self) -> bool:
        """Nothing is left to do: the outcome was posted, or never can be."""
        return self in SETTLED_STATES


class JobOutcome(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the provider said so, or refused the request
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    LOST = "lost"  # the provider made it, but its video could not be had


class IllegalTransition(RuntimeError):
    """A move the lifecycle does not allow: a bug in the caller."""


TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.ACCEPTED: frozenset({JobState.SUBMITTING, JobState.FINISHED}),
    JobState.SUBMITTING: frozenset(
        {JobState.ACCEPTED, JobState.QUEUED, JobState.PROCESSING, JobState.FINISHED}
    ),
    JobState.QUEUED: frozenset({JobState.PROCESSING, JobState.FINISHED}),
    JobState.PROCESSING: frozenset({JobState.FINISHED}),
    JobState.FINISHED: frozenset({JobState.POSTING}),
    JobState.POSTING: frozenset({JobState.DELIVERED, JobState.UNDELIVERABLE}),
    JobState.DELIVERED: frozenset(),
    JobState.UNDELIVERABLE: frozenset(),
}

ACTIVE_STATES = frozenset(
    {JobState.ACCEPTED, JobState.SUBMITTING, JobState.QUEUED, JobState.PROCESSING}
)
POLLABLE_STATES = frozenset({JobState.QUEUED, JobState.PROCESSING})
# Sent to the provider and not finished: what the caps on jobs in flight count (bot.jobs.turns).
IN_FLIGHT_STATES = frozenset({JobState.SUBMITTING, JobState.QUEUED, JobState.PROCESSING})
UNPOSTED_STATES = frozenset({JobState.FINISHED, JobState.POSTING})
SETTLED_STATES = frozenset({JobState.DELIVERED, JobState.UNDELIVERABLE})
ENDED_STATES = UNPOSTED_STATES | SETTLED_STATES  # the outcome is known

# A member's quota is given back for these (unless the server turned refunds off), and for
# any job whose outcome could be posted nowhere (UNDELIVERABLE).
REFUNDED_OUTCOMES = frozenset(
    {JobOutcome.FAILED, JobOutcome.CANCELLED, JobOutcome.TIMED_OUT, JobOutcome.LOST}
)
# The bot stopped following these; once sent, the provider still generates and bills them.
ABANDONED_OUTCOMES = frozenset({JobOutcome.CANCELLED, JobOutcome.TIMED_OUT})


def check_transition(
    from_states: frozenset[JobState], to_state: JobState | None, outcome: JobOutcome | None
) -> None:
    """Raise `IllegalTransition` unless every state in ``from_states`` may move to
    ``to_state`` (``None``, or the same state: the job stays put, only fields change), and
    an outcome comes with, and only with, the move to FINISHED (or is the LOST correction
    of a job being posted)."""
    correction = outcome is JobOutcome.LOST and from_states == {JobState.POSTING}
    if (outcome is not None) != (to_state is JobState.FINISHED) and not correction:
        raise IllegalTransition(f"an outcome goes with the move to finished, got {to_state}")
    if to_state is None:
        return
    wrong = sorted(s for s in from_states if s is not to_state and to_state not in TRANSITIONS[s])
    if wrong:
        raise IllegalTransition(f"{', '.join(wrong)} can't move to {to_state}")


STATE_LABELS = {
    JobState.ACCEPTED: "Accepted",
    JobState.SUBMITTING: "Sending to the model",
    JobState.QUEUED: "Queued",
    JobState.PROCESSING: "Generating",
}
OUTCOME_LABELS = {
    JobOutcome.SUCCEEDED: "Done",
    JobOutcome.FAILED: "Failed",
    JobOutcome.CANCELLED: "Cancelled",
    JobOutcome.TIMED_OUT: "Timed out",
    JobOutcome.LOST: "Video lost",
}
