"""Cancelling and deleting jobs: members their own, moderators any job in their server.

The provider has no cancel endpoint, so cancelling means the bot stops following the job:
a compare-and-set to CANCELLED from an active state, due at once so the scheduler posts
the "cancelled" outcome. A cancelled job is refunded to the member like a failed one, but if
it had reached the provider it still counts in the server's budget (see bot.quotas.LEDGER).
Deleting removes the row of a finished job whose outcome has been posted; what it counted is
kept in ``deleted_jobs`` so a deletion never gives back quota or budget that was spent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from bot.jobs import ACTIVE_STATES, TERMINAL_STATES, Job, JobState
from bot.moderation import (
    AuditEntry,
    ModerationError,
    PermissionDenied,
    Requester,
    is_moderator,
    load_guild_settings,
    record_audit,
)
from bot.store import JobStore

Clock = Callable[[], float]


class JobNotFound(ModerationError):
    pass


class JobNotChangeable(ModerationError):
    """The job is in a state the action does not apply to (already finished, still running)."""


@dataclass(frozen=True)
class JobActionResult:
    job: Job  # the job after cancelling, or as it was before deletion
    audit: AuditEntry | None  # set when a moderator acted on someone else's job


class JobActions:
    def __init__(self, store: JobStore, clock: Clock | None = None) -> None:
        self.store = store
        self.clock = clock or store.clock

    async def cancel_job(self, job_id: int, actor: Requester) -> JobActionResult:
        job = await self._authorised(job_id, actor)
        now = self.clock()
        moved = await self.store.transition(
            job_id,
            from_states=ACTIVE_STATES,
            to_state=JobState.CANCELLED,
            finished_at=now,
            next_check_at=now,
            error=f"Cancelled by <@{actor.user_id}>.",
        )
        if moved is None:
            current = await self.store.get(job_id)
            state = current.display_state if current else "deleted"
            raise JobNotChangeable(f"Job #{job_id} can't be cancelled: it is {state.lower()}.")
        audit = None
        if moved.user_id != actor.user_id and moved.guild_id is not None:
            async with self.store.transaction() as conn:
                audit = await record_audit(
                    conn,
                    guild_id=moved.guild_id,
                    actor_id=actor.user_id,
                    action=f"cancelled job #{job_id} of",
                    target=f"user:{moved.user_id}",
                    old_value=job.state.value,
                    new_value=JobState.CANCELLED.value,
                    at=now,
                )
        return JobActionResult(moved, audit)

    async def delete_job(self, job_id: int, actor: Requester) -> JobActionResult:
        """Delete a finished job whose outcome has been posted (cancel a running one first).
        Until ``delivered_at`` is set the scheduler may still post the result, which would
        then never come or land after the row is gone. The cog removes the job's messages
        (``status_message_id``, ``result_message_id`` of the returned job)."""
        job = await self._authorised(job_id, actor)
        now = self.clock()
        terminal = [s.value for s in TERMINAL_STATES]
        async with self.store.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO deleted_jobs (job_id, guild_id, channel_id, user_id, state, "
                "request_id, seconds, resolution, estimated_cost, created_at, deleted_by, "
                "deleted_at) SELECT id, guild_id, channel_id, user_id, state, request_id, "
                "CAST(json_extract(params_json, '$.duration') AS INTEGER), "
                "json_extract(params_json, '$.resolution'), estimated_cost, created_at, ?, ? "
                "FROM jobs WHERE id = ? AND state IN (?, ?, ?, ?) AND delivered_at IS NOT NULL",
                (actor.user_id, now, job_id, *terminal),
            )
            if not cursor.rowcount:
                async with conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)) as cur:
                    row = await cur.fetchone()
                if row is None:
                    raise JobNotFound(f"There is no job #{job_id}.")
                if JobState(row[0]).is_terminal:
                    raise JobNotChangeable(
                        f"Job #{job_id} is still being posted; try again in a minute."
                    )
                raise JobNotChangeable(
                    f"Job #{job_id} is still running: cancel it first, then delete it."
                )
            await conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
            audit = None
            if job.user_id != actor.user_id and job.guild_id is not None:
                audit = await record_audit(
                    conn,
                    guild_id=job.guild_id,
                    actor_id=actor.user_id,
                    action=f"deleted job #{job_id} of",
                    target=f"user:{job.user_id}",
                    old_value=json.dumps(
                        {"state": job.state.value, "prompt": job.request.prompt[:200]}
                    ),
                    new_value=None,
                    at=now,
                )
        return JobActionResult(job, audit)

    async def _authorised(self, job_id: int, actor: Requester) -> Job:
        job = await self.store.get(job_id)
        if job is None:
            raise JobNotFound(f"There is no job #{job_id}.")
        if job.user_id == actor.user_id and job.guild_id == actor.guild_id:
            return job
        if job.guild_id is not None and job.guild_id == actor.guild_id:
            settings = await load_guild_settings(self.store.conn, job.guild_id)
            if is_moderator(actor.can_manage_guild, actor.role_ids, settings):
                return job
        if job.guild_id != actor.guild_id:
            raise JobNotFound(f"There is no job #{job_id} in this server.")
        raise PermissionDenied(
            "Only the member who asked for this job, or a moderator, can cancel or delete it."
        )
