"""A generation job as the bot tracks it, from the member's command to the posted result."""

from __future__ import annotations

import enum
import os
import secrets
import socket
from dataclasses import dataclass, field

from bot.jobs.lifecycle import (
    OUTCOME_LABELS,
    STATE_LABELS,
    JobOutcome,
    JobState,
)
from bot.params import GenerationRequest


def _worker_name() -> str:
    """This process, on the leases it takes: host and pid to read, a random part to stay
    unique across restarts (a container's pid is the same every time)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class ShardScope:
    """The jobs one bot process serves: those of the servers on its Discord shards.

    A job belongs to the shard of its server, ``(guild_id >> 22) % count`` (Discord's
    formula; DMs are shard 0's). A process claims its own shards' due jobs at once, and
    another shard's only once they have been due for ``takeover_after`` seconds unclaimed:
    their process is gone or overloaded, and delivery works over REST from any process.
    A process that serves every shard is the whole bot: at start, every lease it finds was
    taken by a process that is gone (see `bot.db.jobs.JobRepository.resume`)."""

    count: int = 1
    ids: frozenset[int] = frozenset({0})
    takeover_after: float = 30.0
    worker: str = field(default_factory=_worker_name)

    @property
    def every_shard(self) -> bool:
        return self.ids >= frozenset(range(self.count))

    def shard_of(self, guild_id: int | None) -> int:
        return 0 if guild_id is None else (guild_id >> 22) % self.count

    def serves(self, guild_id: int | None) -> bool:
        return self.shard_of(guild_id) in self.ids

    def describe(self) -> str:
        """``shards 0, 2 of 3`` (or ``the only shard``), for the log."""
        if self.count == 1:
            return "the only shard"
        ids = ", ".join(str(i) for i in sorted(self.ids))
        return f"shard{'s' if len(self.ids) > 1 else ''} {ids} of {self.count}"


class ReviewReason(enum.StrEnum):
    """Why a job waits for a moderator's review (the server's rules in
    `bot.moderation.reviews`)."""

    COST = "cost"  # estimated above the server's amount
    REFERENCE_VIDEOS = "reference_videos"  # it uses reference videos
    ROLE = "role"  # its member lacks the role that skips review


class JobOrigin(enum.StrEnum):
    """How a job came to be. Re-rolls, remixes and continuations record the job they came
    from as their parent; an animation or a reference job records the job whose result it
    used, if the message was one; a stitch records its last clip (and every clip apart)."""

    GENERATE = "generate"
    REROLL = "reroll"
    REMIX = "remix"
    CONTINUE = "continue"  # starts from the last frame of another job's video
    ANIMATE = "animate"  # an image someone posted as the first frame
    REFERENCE = "reference"  # the files of someone's message as references
    STITCH = "stitch"  # finished clips joined into one video: no provider call, no quota


@dataclass(frozen=True)
class JobDraft:
    """What a member asks for before it is a job: the request and what it builds on, as
    `JobService.accept_draft` takes it and a preview (`bot.db.previews`) keeps it."""

    request: GenerationRequest
    origin: JobOrigin = JobOrigin.GENERATE
    parent_job_id: int | None = None
    first_frame_from: int | None = None  # see `NewJob`
    source_user_id: int | None = None
    source_message_id: int | None = None


@dataclass(frozen=True)
class Credit:
    """A job and the member who asked for it: how a video is credited where it is used
    (the parent of a re-roll or a continuation, each clip of a stitch)."""

    job_id: int
    user_id: int


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
    origin: str = JobOrigin.GENERATE
    # The job whose video's last frame becomes this one's first frame (continuations): the
    # frame is taken and attached when the job is about to be sent.
    first_frame_from: int | None = None
    # Whose message the inputs were taken from (Animate, Use as reference), for the credits.
    source_user_id: int | None = None
    source_message_id: int | None = None
    clips: tuple[Credit, ...] = ()  # a stitch's clips, in order
    # Why it needs a moderator's review (none: it doesn't). Such a job is stored held: its
    # quota is reserved, but the scheduler never takes it until a moderator approves it.
    review_reasons: tuple[ReviewReason, ...] = ()
    # Seconds before the scheduler may send it: the command posts its status message first
    # and then makes it due at once; the delay only matters if that never happens (a crash).
    first_step_after: float = 0.0
    # The interaction's token (valid 15 minutes): after a crash before the status message's
    # id was stored, it tells whether the member ever saw the job. Cleared once stored.
    interaction_token: str | None = field(default=None, repr=False)
    # Stored only if its turn to be stored comes by then (`Requester.answer_by`).
    answer_by: float | None = None

    @property
    def calls_provider(self) -> bool:
        """A stitch is made here, with ffmpeg: it is never sent, costs and counts nothing."""
        return self.origin != JobOrigin.STITCH


# A new job waits this long for its status message's id (the process that answers records
# it at once) before the scheduler looks the message up; after a restart, it is looked up
# at once (`JobRepository.resume`).
STATUS_MESSAGE_GRACE = 30.0

# What a member whose job could not be stored in time is told (if the answer still gets
# there): nothing was stored, so nothing runs or counts.
TOO_BUSY = (
    "I'm answering more commands than I can right now, so this one could not be taken in "
    "time. Nothing was stored or charged: please try again in a moment."
)

# The provider status recorded when the provider refused a submit outright (HTTP 400, or
# a 5xx wrapping a 4xx): no request exists upstream, and the same one would be refused.
REFUSED_STATUS = "refused"


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
    outcome: JobOutcome | None
    origin: str
    parent_job_id: int | None
    estimated_cost: float
    request_id: str | None
    status_message_id: int | None
    provider_status: str | None
    error: str | None
    cancelled_by: int | None
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
    leased_until: float | None = None
    leased_by: str | None = None  # the process (`ShardScope.worker`) that last claimed it
    provider_created_at: float | None = None  # the provider's clock, Unix seconds
    processing_started_at: float | None = None
    provider_finished_at: float | None = None
    predicted_finish_at: float | None = None
    reconcile_until: float | None = None  # a lost submit may still be listed until then
    status_shown: str | None = None  # the state the status message last showed
    interaction_token: str | None = field(default=None, repr=False)
    first_frame_from: int | None = None  # see `NewJob`
    source_user_id: int | None = None
    source_message_id: int | None = None
    result_channel_id: int | None = None  # where the result went: the channel or its thread
    gallery_channel_id: int | None = None  # the server's gallery, when a copy went there
    gallery_message_id: int | None = None
    gallery_attempts: int = 0
    held: bool = False  # waits for a moderator's review: never sent until approved
    queue_turn: int = 0  # its round among its server's members (bot.jobs.turns)
    server_turn: int = 0  # its server's round among the servers
    awaits_turn: bool = False  # a cap holds it back until its turn comes
    queue_pin: int | None = None  # a moderator's place for it at the head of the queue

    @property
    def calls_provider(self) -> bool:
        return self.origin != JobOrigin.STITCH

    @property
    def awaits_first_frame(self) -> bool:
        """A continuation whose first frame has not been taken from its source yet."""
        return self.first_frame_from is not None and self.request.first_frame is None

    @property
    def is_active(self) -> bool:
        return self.state.is_active

    @property
    def has_ended(self) -> bool:
        """The outcome is known (posted or not)."""
        return self.outcome is not None

    @property
    def is_delivered(self) -> bool:
        """Nothing is left to post: the outcome is in the chat, or never can be."""
        return self.state.is_settled

    @property
    def succeeded(self) -> bool:
        return self.outcome is JobOutcome.SUCCEEDED

    @property
    def refused_by_provider(self) -> bool:
        """The provider refused the request itself (a bad parameter, its content policy):
        sent again with another seed it would be refused again."""
        return self.provider_status == REFUSED_STATUS

    @property
    def phase(self) -> JobState | JobOutcome:
        """What the member is shown: where a running job is, or how an ended one ended."""
        return self.outcome if self.outcome is not None else self.state

    @property
    def provider_seconds(self) -> float | None:
        """How long the provider took, by its own clock, once it has finished."""
        if self.provider_finished_at is None or self.provider_created_at is None:
            return None
        return max(0.0, self.provider_finished_at - self.provider_created_at)

    @property
    def display_state(self) -> str:
        if self.outcome is None:
            return "Waiting for a moderator's review" if self.held else STATE_LABELS[self.state]
        if self.outcome is JobOutcome.SUCCEEDED and self.state is JobState.DELIVERED:
            return "Delivered"
        if self.state is JobState.UNDELIVERABLE:
            return "Could not be delivered"
        return OUTCOME_LABELS[self.outcome]
