"""The approval lane: which jobs wait for a moderator's review, and the decisions on them.

A server's moderators may require a review for jobs estimated above an amount, for jobs
with reference videos, and for every job of members without a given role (moderators' own
jobs never wait). Such a job is accepted as usual, through the admission, so its row
reserves its quota, but it is stored *held* (``jobs.held``): the scheduler never takes it.

* Approve releases it into the pipeline, its deadline counted from then.
* Deny ends it, never sent: CANCELLED by the moderator, with their reason, so it counts
  nowhere (the ledger counts no cancelled job that never reached the provider).
* Undecided after `REVIEW_LIFETIME`, or with no review channel the bot can post in, it
  ends the same way without charge (TIMED_OUT, or CANCELLED by nobody), and says why.

Every decision is one transaction: a compare-and-set on the held job (the first decision
wins, a cancelled job can't be approved), the review's record, and the audit entry.
Delivery then tells the member of an ended job as of any other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.clock import Clock
from bot.db.audit import AuditEntry
from bot.db.database import Connection, Database
from bot.db.jobs import JobRepository
from bot.db.reviews import Review, ReviewDecision, ReviewRepository
from bot.db.servers import GuildSettings
from bot.errors import Conflict, InvalidInput, NotFound
from bot.jobs.lifecycle import JobOutcome
from bot.jobs.model import Job, NewJob, ReviewReason
from bot.moderation.audit import AuditAction, AuditLog, user_target
from bot.moderation.requester import Moderators, Requester, is_moderator

# An undecided review ends its job (without charge) after this long.
REVIEW_LIFETIME = 24 * 3600.0
# A post to the review channel is retried after this long if its process died mid-post.
POST_LEASE_SECONDS = 60.0
MAX_DENY_REASON = 500
EXPIRED_ERROR = "No moderator reviewed it within a day, so it was not made. Nothing was charged."


def review_reasons(
    settings: GuildSettings, requester: Requester, new: NewJob
) -> tuple[ReviewReason, ...]:
    """Why the server's rules hold ``new`` for review (none: they don't)."""
    if is_moderator(requester.can_manage_guild, requester.role_ids, settings):
        return ()
    reasons = []
    above = settings.review_cost_above
    if above is not None and new.estimated_cost > above:
        reasons.append(ReviewReason.COST)
    if settings.review_reference_videos and new.request.reference_videos:
        reasons.append(ReviewReason.REFERENCE_VIDEOS)
    role = settings.review_unless_role_id
    if role is not None and role not in set(requester.role_ids):
        reasons.append(ReviewReason.ROLE)
    return tuple(reasons)


def unpostable_error(why: str) -> str:
    return (
        f"This server needs a moderator's review for it, but {why}, so it was not made. "
        "Nothing was charged; ask a moderator to set the review channel with "
        "`/videoadmin review channel`."
    )


@dataclass(frozen=True)
class Decided:
    """A review's decision, with its job after it (released or ended)."""

    job: Job
    review: Review
    audit: AuditEntry | None  # a moderator's decision; none for an expiry or a failed post


class AlreadyDecided(Conflict):
    """The review was decided first by someone else, or its job ended meanwhile
    (``review``: as it is now; ``None`` if its job is gone)."""

    def __init__(self, review: Review | None) -> None:
        super().__init__("That review is closed: someone decided first, or its job ended.")
        self.review = review


Move = Callable[[Connection], Awaitable[Job | None]]


class Reviews:
    def __init__(
        self,
        *,
        db: Database,
        jobs: JobRepository,
        reviews: ReviewRepository,
        moderators: Moderators,
        audit: AuditLog,
        deadline_seconds: float,
        clock: Clock,
        on_due: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.jobs = jobs
        self.reviews = reviews
        self.moderators = moderators
        self.audit = audit
        self.deadline_seconds = deadline_seconds
        self.clock = clock
        self.on_due = on_due

    async def open(self, conn: Connection, job: Job, reasons: tuple[ReviewReason, ...]) -> None:
        """In the transaction that stores the held ``job``."""
        assert job.guild_id is not None, "only a server's jobs are admitted"
        now = self.clock()
        await self.reviews.open(
            conn,
            job_id=job.id,
            guild_id=job.guild_id,
            reasons=reasons,
            now=now,
            expires_at=now + REVIEW_LIFETIME,
        )

    async def get(self, job_id: int) -> Review | None:
        return await self.reviews.get(job_id)

    async def undecided(self, actor: Requester, job_id: int) -> Review:
        """The review a moderator is about to decide (before the Deny form opens):
        `PermissionDenied` for a member, `AlreadyDecided` if it is too late."""
        await self.moderators.require(actor)
        review = await self.reviews.get(job_id)
        if review is None or review.guild_id != actor.guild_id:
            raise NotFound(f"There is no review of job #{job_id} in this server.")
        if review.decision is not None:
            raise AlreadyDecided(review)
        return review

    async def approve(self, actor: Requester, job_id: int) -> Decided:
        await self.undecided(actor, job_id)

        async def release(conn: Connection) -> Job | None:
            deadline_at = self.clock() + self.deadline_seconds
            return await self.jobs.release_held(job_id, deadline_at=deadline_at, conn=conn)

        return await self._decide(actor, job_id, ReviewDecision.APPROVED, release)

    async def deny(self, actor: Requester, job_id: int, reason: str) -> Decided:
        reason = " ".join(reason.split())
        if not reason:
            raise InvalidInput("Say why the job is denied: the member is told the reason.")
        reason = reason[:MAX_DENY_REASON]
        await self.undecided(actor, job_id)

        async def end(conn: Connection) -> Job | None:
            return await self.jobs.end_held(
                job_id,
                JobOutcome.CANCELLED,
                error=f"Not approved: {reason}",
                cancelled_by=actor.user_id,
                conn=conn,
            )

        return await self._decide(actor, job_id, ReviewDecision.DENIED, end, reason)

    async def _decide(
        self,
        actor: Requester,
        job_id: int,
        decision: ReviewDecision,
        move: Move,
        reason: str | None = None,
    ) -> Decided:
        now = self.clock()
        async with self.db.transaction() as conn:
            # The job's compare-and-set decides who wins; a job cancelled meanwhile
            # withdraws its review (a no-op if another decision won).
            job = await move(conn)
            if job is None:
                await self.reviews.decide(conn, job_id, ReviewDecision.WITHDRAWN, by=None, at=now)
                decided = None
            else:
                decided = await self.reviews.decide(
                    conn, job_id, decision, by=actor.user_id, at=now, reason=reason
                )
                assert decided is not None, "the held job's review is undecided"
                audit = await self.audit.record(
                    conn,
                    guild_id=decided.guild_id,
                    actor_id=actor.user_id,
                    action=_AUDITED[decision],
                    subject=str(job_id),
                    target=user_target(job.user_id),
                    new=reason,
                    at=now,
                )
        if job is None or decided is None:
            raise AlreadyDecided(await self.reviews.get(job_id))
        self.on_due()
        return Decided(job, decided, audit)

    # -- the review desk's timers ------------------------------------------------------

    async def take_to_post(self, limit: int = 10) -> list[Review]:
        return await self.reviews.take_to_post(self.clock(), POST_LEASE_SECONDS, limit)

    async def posted(self, review: Review, channel_id: int, message_id: int) -> None:
        await self.reviews.posted(review.job_id, channel_id, message_id)

    async def unpostable(self, review: Review, why: str) -> Decided | None:
        """The review could not be posted: its job ends without charge, saying ``why``."""
        return await self._close(
            review,
            ReviewDecision.UNPOSTABLE,
            JobOutcome.CANCELLED,
            unpostable_error(why),
        )

    async def close_due(self, limit: int = 20) -> list[Decided]:
        """End the jobs whose review nobody decided in time (EXPIRED), and close the
        reviews of jobs that ended meanwhile (WITHDRAWN)."""
        closed = []
        for review in await self.reviews.closable(self.clock(), limit):
            decided = await self._close(
                review, ReviewDecision.EXPIRED, JobOutcome.TIMED_OUT, EXPIRED_ERROR
            )
            if decided is not None:
                closed.append(decided)
        return closed

    async def _close(
        self, review: Review, decision: ReviewDecision, outcome: JobOutcome, error: str
    ) -> Decided | None:
        """End ``review``'s held job by the bot, not a moderator; ``None`` if a decision
        came first. A job that is gone (withdrawn before its member saw it) takes its
        review with it."""
        now = self.clock()
        async with self.db.transaction() as conn:
            job = await self.jobs.end_held(
                review.job_id, outcome, error=error, cancelled_by=None, conn=conn
            )
            if job is None:
                decision = ReviewDecision.WITHDRAWN
                job = await self.jobs.get(review.job_id, conn=conn)
            decided = await self.reviews.decide(conn, review.job_id, decision, by=None, at=now)
        if job is None:
            await self.reviews.delete(review.job_id)
            return None
        self.on_due()
        return None if decided is None else Decided(job, decided, None)

    async def next_due_at(self) -> float | None:
        return await self.reviews.next_due_at()


_AUDITED = {
    ReviewDecision.APPROVED: AuditAction.REVIEW_APPROVE,
    ReviewDecision.DENIED: AuditAction.REVIEW_DENY,
}
