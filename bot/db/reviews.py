"""The ``job_reviews`` table: one review per job held for a moderator's decision.

A review is opened in the transaction that stores its held job, so it exists iff the job
was accepted held. Its message in the review channel is posted under a short lease
(``post_lease``: one process posts it at a time; ``post_attempts`` tells a retry that an
earlier post may have landed), and its decision is set once, by compare-and-set.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass

from bot.db.database import Connection, Database, Row
from bot.jobs.model import ReviewReason


class ReviewDecision(enum.StrEnum):
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"  # nobody decided in time
    UNPOSTABLE = "unpostable"  # no review channel, or the bot can't post there
    WITHDRAWN = "withdrawn"  # the job ended before a decision (its member cancelled it)


@dataclass(frozen=True)
class Review:
    job_id: int
    guild_id: int
    reasons: tuple[ReviewReason, ...]
    created_at: float
    expires_at: float
    channel_id: int | None
    message_id: int | None
    post_attempts: int
    decision: ReviewDecision | None
    decided_by: int | None
    decided_at: float | None
    reason: str | None  # the moderator's, for a denial


class ReviewRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def open(
        self,
        conn: Connection,
        *,
        job_id: int,
        guild_id: int,
        reasons: tuple[ReviewReason, ...],
        now: float,
        expires_at: float,
    ) -> None:
        await conn.execute(
            "INSERT INTO job_reviews (job_id, guild_id, reasons, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (job_id, guild_id, json.dumps([str(r) for r in reasons]), now, expires_at),
        )

    async def get(self, job_id: int, conn: Connection | None = None) -> Review | None:
        row = await self.db.read(conn).fetchone(
            "SELECT * FROM job_reviews WHERE job_id = ?", (job_id,)
        )
        return _review(row) if row else None

    async def take_to_post(self, now: float, lease_seconds: float, limit: int) -> list[Review]:
        """Undecided reviews with no message yet and no post under way, leased to this
        process for ``lease_seconds`` (a crash mid-post only delays the retry)."""
        async with self.db.locking_rows() as conn:
            rows = await conn.fetchall(
                "UPDATE job_reviews SET post_lease = ?, post_attempts = post_attempts + 1 "
                "WHERE job_id IN (SELECT job_id FROM job_reviews WHERE decision IS NULL "
                "AND message_id IS NULL AND (post_lease IS NULL OR post_lease <= ?) "
                "ORDER BY job_id LIMIT ? FOR UPDATE SKIP LOCKED) RETURNING *",
                (now + lease_seconds, now, limit),
            )
        return sorted((_review(row) for row in rows), key=lambda review: review.job_id)

    async def posted(self, job_id: int, channel_id: int, message_id: int) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE job_reviews SET channel_id = ?, message_id = ?, post_lease = NULL "
                "WHERE job_id = ?",
                (channel_id, message_id, job_id),
            )

    async def closable(self, now: float, limit: int) -> list[Review]:
        """Undecided reviews to close: past their expiry, or whose job is no longer held
        (its member cancelled it) or gone (withdrawn before its member saw it)."""
        rows = await self.db.reader.fetchall(
            "SELECT r.* FROM job_reviews r LEFT JOIN jobs j ON j.id = r.job_id "
            "WHERE r.decision IS NULL AND (r.expires_at <= ? OR j.id IS NULL OR j.held = 0) "
            "ORDER BY r.job_id LIMIT ?",
            (now, limit),
        )
        return [_review(row) for row in rows]

    async def next_due_at(self) -> float | None:
        """When an undecided review next needs the bot: its post (now, or when a post's
        lease ends) or its expiry."""
        value = await self.db.reader.fetchval(
            "SELECT MIN(CASE WHEN message_id IS NULL THEN COALESCE(post_lease, created_at) "
            "ELSE expires_at END) FROM job_reviews WHERE decision IS NULL"
        )
        return None if value is None else float(value)

    async def decide(
        self,
        conn: Connection,
        job_id: int,
        decision: ReviewDecision,
        *,
        by: int | None,
        at: float,
        reason: str | None = None,
    ) -> Review | None:
        """Compare-and-set: the first decision wins; ``None`` if the review was decided
        already (or is gone)."""
        row = await conn.fetchone(
            "UPDATE job_reviews SET decision = ?, decided_by = ?, decided_at = ?, reason = ?, "
            "post_lease = NULL WHERE job_id = ? AND decision IS NULL RETURNING *",
            (decision.value, by, at, reason, job_id),
        )
        return _review(row) if row else None

    async def delete(self, job_id: int) -> None:
        """A review whose job is gone (withdrawn before its member saw it)."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM job_reviews WHERE job_id = ?", (job_id,))


def _review(row: Row) -> Review:
    return Review(
        job_id=row["job_id"],
        guild_id=row["guild_id"],
        reasons=tuple(ReviewReason(r) for r in json.loads(row["reasons"])),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        channel_id=row["channel_id"],
        message_id=row["message_id"],
        post_attempts=row["post_attempts"],
        decision=ReviewDecision(row["decision"]) if row["decision"] else None,
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        reason=row["reason"],
    )
