"""The ``job_previews`` table: jobs a member asked to confirm, priced but not yet stored.

A preview is PENDING until its member confirms it (it then names the job it became) or
cancels it; one that is still pending past ``expires_at`` is expired. Every move out of
PENDING happens inside the transaction that decides it, so one preview becomes one job.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from bot.db.database import Connection, Database, Row
from bot.jobs.model import JobDraft, JobOrigin
from bot.params import GenerationRequest


class PreviewState(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class JobPreview:
    id: int
    guild_id: int
    channel_id: int
    user_id: int
    draft: JobDraft
    estimated_cost: float
    created_at: float
    expires_at: float
    state: PreviewState
    job_id: int | None  # the job a confirmed preview became
    # The token of the interaction that showed the preview (it lives as long as the
    # preview): Confirm edits the preview through it.
    interaction_token: str | None = field(default=None, repr=False)


class PreviewRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self,
        *,
        guild_id: int,
        channel_id: int,
        user_id: int,
        draft: JobDraft,
        estimated_cost: float,
        now: float,
        expires_at: float,
        interaction_token: str | None,
        forget_before: float,
    ) -> JobPreview:
        """Store a pending preview; previews that ended before ``forget_before`` go."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM job_previews WHERE expires_at < ?", (forget_before,))
            row = await conn.fetchone(
                """
                INSERT INTO job_previews (guild_id, channel_id, user_id, params_json, origin,
                                          parent_job_id, first_frame_from, source_user_id,
                                          source_message_id, estimated_cost, created_at,
                                          expires_at, state, interaction_token)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                RETURNING *
                """,
                (
                    guild_id,
                    channel_id,
                    user_id,
                    draft.request.to_json(),
                    str(draft.origin),
                    draft.parent_job_id,
                    draft.first_frame_from,
                    draft.source_user_id,
                    draft.source_message_id,
                    estimated_cost,
                    now,
                    expires_at,
                    PreviewState.PENDING.value,
                    interaction_token,
                ),
            )
        assert row is not None, "an INSERT ... RETURNING returns its row"
        return _preview(row)

    async def get(self, preview_id: int, *, conn: Connection | None = None) -> JobPreview | None:
        row = await self.db.read(conn).fetchone(
            "SELECT * FROM job_previews WHERE id = ?", (preview_id,)
        )
        return _preview(row) if row else None

    async def confirmed(self, preview_id: int, job_id: int, *, conn: Connection) -> None:
        """The pending preview became ``job_id`` (checked pending in this transaction)."""
        await conn.execute(
            "UPDATE job_previews SET state = ?, job_id = ?, interaction_token = NULL "
            "WHERE id = ? AND state = ?",
            (PreviewState.CONFIRMED.value, job_id, preview_id, PreviewState.PENDING.value),
        )

    async def cancel(self, preview_id: int, now: float) -> bool:
        """Cancel the preview if it is still pending and unexpired; False otherwise."""
        async with self.db.transaction() as conn:
            changed = await conn.execute(
                "UPDATE job_previews SET state = ?, interaction_token = NULL "
                "WHERE id = ? AND state = ? AND expires_at > ?",
                (PreviewState.CANCELLED.value, preview_id, PreviewState.PENDING.value, now),
            )
        return changed > 0


def _preview(row: Row) -> JobPreview:
    return JobPreview(
        id=row["id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        user_id=row["user_id"],
        draft=JobDraft(
            request=GenerationRequest.from_json(row["params_json"]),
            origin=JobOrigin(row["origin"]),
            parent_job_id=row["parent_job_id"],
            first_frame_from=row["first_frame_from"],
            source_user_id=row["source_user_id"],
            source_message_id=row["source_message_id"],
        ),
        estimated_cost=row["estimated_cost"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        state=PreviewState(row["state"]),
        job_id=row["job_id"],
        interaction_token=row["interaction_token"],
    )
