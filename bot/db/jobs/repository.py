"""Every write to a job and every lookup of one.

A job is written before anything is sent to the provider, and every later step is a
compare-and-set on its state that the lifecycle allows (`bot.jobs.lifecycle`), so a crash at
any instant leaves a row the scheduler can pick up again, and two coroutines can never both
move the same job forward.
"""

from __future__ import annotations

import enum
import heapq
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Literal, NamedTuple, Protocol, TypeVar

from bot.clock import Clock
from bot.db.database import Connection, Database, Row
from bot.errors import Unavailable
from bot.jobs.lifecycle import IN_FLIGHT_STATES, JobOutcome, JobState, check_transition
from bot.jobs.model import (
    STATUS_MESSAGE_GRACE,
    TOO_BUSY,
    Credit,
    Job,
    JobOrigin,
    NewJob,
    ShardScope,
)
from bot.params import GenerationRequest, MediaInput, canonical_payload

Admission = Callable[[Connection, NewJob, float], Awaitable[None]]
# Runs after the insert, in its transaction (a held job's review is opened so).
Inserted = Callable[[Connection, Job], Awaitable[None]]


class Claim(Protocol):
    """Something the new job uses up, taken in the transaction that stores it (a preview
    the member confirmed): ``check`` reads and raises to refuse, before anything is
    written; ``settle`` records the job against it and never raises."""

    async def check(self, conn: Connection, now: float) -> None: ...

    async def settle(self, conn: Connection, job: Job) -> None: ...

# Columns a caller may set through `transition`; names never come from user input.
_UPDATABLE = frozenset(
    {
        "request_id",
        "status_message_id",
        "provider_status",
        "error",
        "cancelled_by",
        "result_url",
        "thumbnail_url",
        "result_message_id",
        "delivered_via",
        "submitted_at",
        "finished_at",
        "delivered_at",
        "next_check_at",
        "failed_checks",
        "leased_until",
        "provider_created_at",
        "processing_started_at",
        "provider_finished_at",
        "predicted_finish_at",
        "reconcile_until",
        "interaction_token",
        "status_shown",
        "result_channel_id",
        "gallery_channel_id",
        "gallery_message_id",
        "held",
        "awaits_turn",
    }
)


# The one condition that keeps a job waiting for a moderator's review from the scheduler
# (`bot.moderation.reviews`): every query that takes jobs to run has it, and such a job
# waits for the moderators, not for its turn in the queue.
NOT_HELD = "held = 0"
# Written out (not parameters), so the planner of either engine can use the partial indexes
# that serve the queue and the counts of jobs in flight.
_WAITING = f"state = '{JobState.ACCEPTED.value}' AND {NOT_HELD}"
_IN_FLIGHT = "state IN ({})".format(", ".join(f"'{s.value}'" for s in sorted(IN_FLIGHT_STATES)))


class Everywhere(enum.Enum):
    """Every server's queue at once (the bot-wide order), DMs included."""

    ALL = "all"


# When a job's next step is due: a leased job counts from when its lease ends.
_DUE = "CASE WHEN leased_until > next_check_at THEN leased_until ELSE next_check_at END"
# Steps due by a time and not taken (a leased job counts from when its lease ends), every
# shard's: read from the index on _DUE alone.
COUNT_DUE_BY = (
    f"SELECT COUNT(*) FROM jobs WHERE next_check_at IS NOT NULL AND {NOT_HELD} "  # noqa: S608
    f"AND {_DUE} <= ?"
)


class JobRepository:
    """``shards``: the jobs this process serves (by default every job: the whole bot)."""

    def __init__(self, db: Database, clock: Clock, shards: ShardScope | None = None) -> None:
        self.db = db
        self.clock = clock
        self.shards = shards if shards is not None else ShardScope()
        # Told (after the commit) whenever a job gave up its turn: it left the provider or
        # the queue, so the next job in turn may go (`bot.jobs.turns.Turns.turn_freed`).
        self.on_turn_freed: Callable[[], None] = lambda: None

    def _ours(self) -> tuple[str, list[Any]]:
        """SQL that is true for the jobs of this process's shards, and its parameters."""
        if self.shards.every_shard:
            return "1 = 1", []
        ids = sorted(self.shards.ids)
        placeholders = ", ".join("?" for _ in ids)
        return f"COALESCE((guild_id >> 22) % ?, 0) IN ({placeholders})", [self.shards.count, *ids]

    # -- accepting ---------------------------------------------------------------------

    async def accept(
        self,
        new: NewJob,
        *,
        deadline_seconds: float,
        admission: Admission | None = None,
        claim: Claim | None = None,
        inserted: Inserted | None = None,
    ) -> Job:
        """Store a job in state ACCEPTED, due ``new.first_step_after`` seconds from now;
        held for review if ``new`` gives reasons for one.

        ``claim`` and ``admission`` run inside the same transaction (in that order: what the
        job uses up, then quota checks and reservations), and ``inserted`` after the insert;
        if any raises, nothing is written and the exception propagates.
        """
        async def insert(conn: Connection) -> Job:
            now = self.clock()
            if new.answer_by is not None and now > new.answer_by:
                # The member's interaction expires before its answer could be sent: under
                # an overload, store nothing for no one and let the next accepts catch up.
                raise Unavailable(TOO_BUSY)
            if claim is not None:
                await claim.check(conn, now)
            if admission is not None:
                await admission(conn, new, now)
            payload = new.request.to_payload() if new.calls_provider else {}
            queue_turn, server_turn = await self._turns(conn, new.guild_id, new.user_id)
            row = await conn.fetchone(
                """
                INSERT INTO jobs (guild_id, channel_id, user_id, model, params_json,
                                  payload_json, duration, resolution, origin, parent_job_id,
                                  estimated_cost, state, created_at, updated_at,
                                  next_check_at, deadline_at, interaction_token,
                                  first_frame_from, source_user_id, source_message_id, held,
                                  queue_turn, server_turn)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                RETURNING *
                """,
                (
                    new.guild_id,
                    new.channel_id,
                    new.user_id,
                    new.model,
                    new.request.to_json(),
                    canonical_payload(payload),
                    new.request.duration,
                    new.request.resolution,
                    str(new.origin),
                    new.parent_job_id,
                    new.estimated_cost,
                    JobState.ACCEPTED.value,
                    now,
                    now,
                    now + new.first_step_after,
                    now + deadline_seconds,
                    new.interaction_token,
                    new.first_frame_from,
                    new.source_user_id,
                    new.source_message_id,
                    1 if new.review_reasons else 0,
                    queue_turn,
                    server_turn,
                ),
            )
            assert row is not None, "an INSERT ... RETURNING returns its row"
            if new.clips:  # a stitch's (each statement is a hand-over to the database's thread)
                await conn.executemany(
                    "INSERT INTO stitch_clips (job_id, place, clip_job_id, user_id) "
                    "VALUES (?, ?, ?, ?)",
                    [(row["id"], place, c.job_id, c.user_id) for place, c in enumerate(new.clips)],
                )
            job = _job(row)
            if claim is not None:
                await claim.settle(conn, job)
            if inserted is not None:
                await inserted(conn, job)
            return job

        return await self.db.batched(insert)

    async def _turns(self, conn: Connection, guild_id: int | None, user_id: int) -> tuple[int, int]:
        """A new job's turns (start-time fair queueing, kept as rounds): its member's next
        round in the server, never before the round the server's queue is at (its oldest
        waiting round; with none waiting, the last round given); and the same for its server
        among the servers. Rounds only grow, so sending a job changes no one's turn."""
        server, params = _in_server(guild_id)
        row = await conn.fetchone(
            "SELECT COALESCE((SELECT MIN(queue_turn) FROM jobs "  # noqa: S608 - constants
            f"WHERE {server} AND {_WAITING}), "
            f"(SELECT MAX(queue_turn) FROM jobs WHERE {server}), 0), "
            "(SELECT MAX(queue_turn) FROM jobs "
            f"WHERE {server} AND user_id = :user AND {_WAITING}), "
            f"COALESCE((SELECT MIN(server_turn) FROM jobs WHERE {_WAITING}), "
            "(SELECT MAX(server_turn) FROM jobs), 0), "
            f"(SELECT MAX(server_turn) FROM jobs WHERE {server} AND {_WAITING})",
            {**params, "user": user_id},
        )
        assert row is not None, "a SELECT of aggregates returns one row"
        server_round, member_last, bot_round, server_last = row
        return _next_turn(server_round, member_last), _next_turn(bot_round, server_last)

    # -- reading -----------------------------------------------------------------------

    async def get(self, job_id: int, conn: Connection | None = None) -> Job | None:
        row = await self.db.read(conn).fetchone("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return _job(row) if row else None

    async def get_by_request_id(self, request_id: str) -> Job | None:
        row = await self.db.reader.fetchone(
            "SELECT * FROM jobs WHERE request_id = ?", (request_id,)
        )
        return _job(row) if row else None

    async def get_by_message(self, message_id: int) -> Job | None:
        """The job whose status or result message this is."""
        row = await self.db.reader.fetchone(
            "SELECT * FROM jobs WHERE status_message_id = ? OR result_message_id = ? "
            "ORDER BY id LIMIT 1",
            (message_id, message_id),
        )
        return _job(row) if row else None

    async def known_request_ids(self, request_ids: Iterable[str]) -> set[str]:
        ids = list(request_ids)
        if not ids:
            return set()
        placeholders = ",".join("?" for _ in ids)
        rows = await self.db.reader.fetchall(
            f"SELECT request_id FROM jobs WHERE request_id IN ({placeholders})",  # noqa: S608
            ids,
        )
        return {row[0] for row in rows}

    async def clips(self, job_id: int) -> list[Credit]:
        """A stitch's clips, in the order they play."""
        rows = await self.db.reader.fetchall(
            "SELECT clip_job_id, user_id FROM stitch_clips WHERE job_id = ? ORDER BY place",
            (job_id,),
        )
        return [Credit(row["clip_job_id"], row["user_id"]) for row in rows]

    async def children(self, job_id: int, *, limit: int) -> list[Job]:
        """The jobs made from this one (re-rolls, remixes, continuations...), oldest first."""
        rows = await self.db.reader.fetchall(
            "SELECT * FROM jobs WHERE parent_job_id = ? ORDER BY id LIMIT ?", (job_id, limit)
        )
        return [_job(r) for r in rows]

    async def recent_for_user(
        self, user_id: int, guild_id: int | None, *, limit: int, offset: int = 0
    ) -> list[Job]:
        rows = await self.db.reader.fetchall(
            "SELECT * FROM jobs WHERE user_id = ? AND guild_id IS ? "
            "ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            (user_id, guild_id, limit, offset),
        )
        return [_job(r) for r in rows]

    async def recent_in_guild(self, guild_id: int, *, limit: int) -> list[Job]:
        rows = await self.db.reader.fetchall(
            "SELECT * FROM jobs WHERE guild_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
            (guild_id, limit),
        )
        return [_job(r) for r in rows]

    async def count_for_user(self, user_id: int, guild_id: int | None) -> int:
        return int(
            await self.db.reader.fetchval(
                "SELECT COUNT(*) FROM jobs WHERE user_id = ? AND guild_id IS ?",
                (user_id, guild_id),
            )
        )

    # -- the scheduler's due times -----------------------------------------------------

    async def claim_due(self, now: float, limit: int, lease_seconds: float) -> list[Job]:
        """Take the jobs whose next step is due and lease them for ``lease_seconds``, so that
        a crash while one is being handled only delays it: the lease runs out and the job
        is taken again. Planning a job's next check (``next_check_at``) ends its lease. A
        job held for review is never taken (`NOT_HELD`).

        This process's shards' jobs are taken as soon as they are due, another shard's
        once they have waited ``shards.takeover_after`` seconds unclaimed. On PostgreSQL
        the rows are locked with ``SKIP LOCKED`` and no global write lock is taken, so
        processes claiming at once each get different jobs and never wait for each other."""
        ours, params = self._ours()
        stale = now - self.shards.takeover_after
        sql = (
            "UPDATE jobs SET leased_until = ?, leased_by = ? WHERE id IN ("  # noqa: S608
            "SELECT id FROM jobs WHERE next_check_at IS NOT NULL AND next_check_at <= ? "
            f"AND {NOT_HELD} AND (leased_until IS NULL OR leased_until <= ?) "
            f"AND ({ours} OR {_DUE} <= ?) "
            "ORDER BY next_check_at, id LIMIT ? FOR UPDATE SKIP LOCKED) RETURNING *"
        )
        until = now + lease_seconds
        rows = await self.db.write_statement(
            sql, [until, self.shards.worker, now, now, *params, stale, limit], locking_rows=True
        )
        jobs = [_job(row) for row in rows]
        return sorted(jobs, key=lambda job: (job.next_check_at or 0.0, job.id))

    async def renew_leases(self, job_ids: Iterable[int], until: float) -> int:
        """Extend this process's leases on the jobs it is still working on (never one that
        ran out and another process took); returns how many it renewed. A row another
        transaction has locked right now is skipped (never waited for: no deadlock with
        it) and renewed next time."""
        return await self._own_leases(job_ids, "leased_until = ?", [until], "AND leased_until IS NOT NULL")

    async def _own_leases(
        self, job_ids: Iterable[int], assignment: str, values: list[Any], condition: str = ""
    ) -> int:
        ids = list(job_ids)
        if not ids:
            return 0
        placeholders = ", ".join("?" for _ in ids)
        async with self.db.locking_rows() as conn:
            return await conn.execute(
                f"UPDATE jobs SET {assignment} WHERE id IN (SELECT id FROM jobs "  # noqa: S608
                f"WHERE leased_by = ? {condition} AND id IN ({placeholders}) "
                "FOR UPDATE SKIP LOCKED)",
                [*values, self.shards.worker, *ids],
            )

    async def release_leases(self, job_ids: Iterable[int]) -> int:
        """At a graceful stop: give up this process's leases on the jobs whose steps were
        cut, so they are due again at once, for whichever process takes them."""
        return await self._own_leases(job_ids, "leased_until = NULL", [])

    async def resume(self, started: float, spread: float, rng: Callable[[], float]) -> int:
        """At start (``started``): this process's shards' jobs whose check was due before
        the start are late, and a job still waiting for its status message's id waits for a
        process that is gone (it would have recorded it at once): they are due again within
        ``spread`` seconds, each at its own random moment (never all at once, never in
        lockstep); the others, and jobs accepted since, keep their plan. Returns how many
        jobs were resumed so.

        A process that serves every shard is the whole bot: a lease it finds was taken by
        a process that is gone, so leased jobs resume too. A process that serves some
        shards never breaks another's lease: it may be alive (a lease ends by time)."""
        ours, params = self._ours()
        late = "next_check_at < ? OR (state = ? AND status_message_id IS NULL AND created_at < ?)"
        values: list[Any] = [started, JobState.ACCEPTED.value, started]
        if self.shards.every_shard:
            leases = f"AND ({late} OR leased_until IS NOT NULL)"
        else:
            leases = f"AND ({late}) AND (leased_until IS NULL OR leased_until <= ?)"
            values.append(started)
        async with self.db.locking_rows() as conn:
            rows = await conn.fetchall(
                f"SELECT id FROM jobs WHERE next_check_at IS NOT NULL {leases} "  # noqa: S608
                f"AND {ours} FOR UPDATE SKIP LOCKED",
                [*values, *params],
            )
            await conn.executemany(
                "UPDATE jobs SET next_check_at = ?, leased_until = NULL WHERE id = ?",
                [(started + spread * rng(), int(row[0])) for row in rows],
            )
        return len(rows)

    async def next_due_at(self) -> float | None:
        """When the next check this process may claim is due (a leased job counts from when
        its lease ends; another shard's job from when this process would take it over)."""
        # Each MIN reads the first entry of the index on _DUE (ours: the first of ours in
        # it), however many jobs are in flight: the scheduler asks after every claim.
        in_flight = f"FROM jobs WHERE next_check_at IS NOT NULL AND {NOT_HELD}"
        if self.shards.every_shard:
            value = await self.db.reader.fetchval(f"SELECT MIN({_DUE}) {in_flight}")  # noqa: S608
        else:
            ours, params = self._ours()
            value = await self.db.reader.fetchval(
                f"SELECT MIN(due) FROM (SELECT MIN({_DUE}) AS due {in_flight} AND {ours} "  # noqa: S608
                f"UNION ALL SELECT MIN({_DUE}) + ? AS due {in_flight}) AS candidates",
                [*params, self.shards.takeover_after],
            )
        return None if value is None else float(value)

    async def count_due_by(self, at: float) -> int:
        """Steps due by ``at`` and not taken (`COUNT_DUE_BY`), every shard's: the provider
        budget they spend is shared."""
        return int(await self.db.reader.fetchval(COUNT_DUE_BY, (at,)))

    async def count_in_flight(self) -> int:
        """Jobs with a next step (running, or finished and not yet posted)."""
        return int(
            await self.db.reader.fetchval(
                "SELECT COUNT(*) FROM jobs WHERE next_check_at IS NOT NULL"
            )
        )

    # -- the queue (`bot.jobs.turns`) --------------------------------------------------

    async def waiting_in_order(
        self,
        conn: Connection | None = None,
        *,
        guild_id: int | None | Literal[Everywhere.ALL] = Everywhere.ALL,
    ) -> list[Job]:
        """The jobs waiting to be sent to the provider (accepted, their status message
        posted; a stitch is never sent), in the order they are to go: THE definition of the
        queue, so a condition that holds a job back belongs here.

        Fair turns: within a server, by round (``queue_turn``: a member's k-th job waiting
        is in the k-th round from the one being served), the oldest first within one; jobs a
        moderator moved (``queue_pin``) go before every round, in the order set. Servers
        interleave the same way: a server's jobs, in that order, take its rounds among the
        servers (``server_turn``), the oldest first within one. ``guild_id``: one server's
        queue (``None``: the DMs') instead of the bot's."""
        rows = await self._waiting_rows("*", conn, guild_id)
        return _fair_order([_job(row) for row in rows])

    async def places(self, *, guild_id: int | None) -> list[QueuePlace]:
        """One server's queue as `waiting_in_order` orders it, with only what its places
        need: read on every change of the queue and for every status edit of a waiting job,
        so it builds no `Job` (a queue of hundreds is read in a millisecond or two)."""
        columns = ", ".join(QueuePlace._fields)
        rows = await self._waiting_rows(columns, None, guild_id)
        return _fair_order([QueuePlace(*row) for row in rows])  # columns in field order

    async def _waiting_rows(
        self, columns: str, conn: Connection | None, guild_id: int | None | Literal[Everywhere.ALL]
    ) -> list[Row]:
        where = f"{_WAITING} AND status_message_id IS NOT NULL AND origin != :stitch"
        params: dict[str, Any] = {"stitch": JobOrigin.STITCH.value}
        if guild_id is not Everywhere.ALL:
            server, in_server = _in_server(guild_id)
            where += f" AND {server}"
            params.update(in_server)
        return await self.db.read(conn).fetchall(
            f"SELECT {columns} FROM jobs WHERE {where} "  # noqa: S608 - fixed columns and conditions only
            "ORDER BY CASE WHEN queue_pin IS NULL THEN 1 ELSE 0 END, queue_pin, queue_turn, "
            "created_at, id",
            params,
        )

    async def in_flight_by_guild(self, conn: Connection | None = None) -> dict[int | None, int]:
        """How many jobs each server has at the provider (``None``: the DMs')."""
        rows = await self.db.read(conn).fetchall(
            f"SELECT guild_id, COUNT(*) FROM jobs WHERE {_IN_FLIGHT} GROUP BY guild_id"  # noqa: S608
        )
        return {row[0]: int(row[1]) for row in rows}

    async def any_awaiting_turn(self) -> bool:
        """Whether a cap holds any job back (if none does, no turn can come)."""
        return (
            await self.db.reader.fetchval(
                f"SELECT 1 FROM jobs WHERE {_WAITING} AND awaits_turn = 1 LIMIT 1"  # noqa: S608
            )
            is not None
        )

    async def make_due(self, job_ids: Iterable[int], conn: Connection) -> int:
        """Jobs held back for their turn whose turn came: due now (never one in a backoff)."""
        ids = list(job_ids)
        if not ids:
            return 0
        now = self.clock()
        return await conn.execute(
            f"UPDATE jobs SET next_check_at = ? WHERE awaits_turn = 1 AND {_WAITING} "  # noqa: S608
            f"AND next_check_at > ? AND id IN ({', '.join('?' for _ in ids)})",
            [now, now, *ids],
        )

    async def pin(self, guild_id: int, job_ids: Sequence[int], conn: Connection) -> None:
        """A moderator's order for the head of a server's queue: these waiting jobs, in this
        order, go before every fair round; the server's other waiting jobs follow in turn."""
        await conn.execute(
            f"UPDATE jobs SET queue_pin = NULL WHERE guild_id = ? AND {_WAITING} "  # noqa: S608
            "AND queue_pin IS NOT NULL",
            (guild_id,),
        )
        await conn.executemany(
            "UPDATE jobs SET queue_pin = ? WHERE id = ? AND guild_id = ? AND state = ?",
            [
                (place, job_id, guild_id, JobState.ACCEPTED.value)
                for place, job_id in enumerate(job_ids, start=1)
            ],
        )

    async def with_stale_status(self, since: float, limit: int) -> list[Job]:
        """This process's shards' jobs settled since ``since`` whose status message may not
        show it yet."""
        ours, params = self._ours()
        rows = await self.db.reader.fetchall(
            "SELECT * FROM jobs WHERE status_message_id IS NOT NULL AND state IN (?, ?) "  # noqa: S608
            "AND (status_shown IS NULL OR status_shown != state) AND updated_at >= ? "
            f"AND {ours} ORDER BY updated_at, id LIMIT ?",
            [JobState.DELIVERED.value, JobState.UNDELIVERABLE.value, since, *params, limit],
        )
        return [_job(r) for r in rows]

    # -- moving a job forward ----------------------------------------------------------

    async def transition(
        self,
        job_id: int,
        *,
        from_states: Iterable[JobState],
        to_state: JobState | None = None,
        outcome: JobOutcome | None = None,
        count_attempt: bool = False,
        count_poll: bool = False,
        count_delivery: bool = False,
        count_gallery: bool = False,
        conn: Connection | None = None,
        **fields: Any,
    ) -> Job | None:
        """Compare-and-set: apply the change only if the job is still in one of
        ``from_states``. Returns the updated job, or ``None`` if someone else moved it first.
        Raises `IllegalTransition` for a move the lifecycle does not allow. ``conn``: inside
        the caller's transaction."""
        states = frozenset(from_states)
        check_transition(states, to_state, outcome)
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        assignments = ["updated_at = ?"]
        values: list[Any] = [self.clock()]
        if to_state is not None:
            assignments.append("state = ?")
            values.append(to_state.value)
        if outcome is not None:
            assignments.append("outcome = ?")
            values.append(outcome.value)
        if count_attempt:
            assignments.append("attempts = attempts + 1")
        if count_poll:
            assignments.append("poll_count = poll_count + 1")
        if count_delivery:
            assignments.append("delivery_attempts = delivery_attempts + 1")
        if count_gallery:
            assignments.append("gallery_attempts = gallery_attempts + 1")
        if "next_check_at" in fields:
            fields.setdefault("leased_until", None)
        for name, value in fields.items():
            assignments.append(f"{name} = ?")
            values.append(value)
        placeholders = ",".join("?" for _ in states)
        sql = (
            f"UPDATE jobs SET {', '.join(assignments)} "  # noqa: S608 - names are whitelisted
            f"WHERE id = ? AND state IN ({placeholders}) RETURNING *"
        )
        params = [*values, job_id, *(s.value for s in states)]
        if conn is None:  # a transaction of its own, committed when this returns
            row = next(iter(await self.db.write_statement(sql, params)), None)
        else:
            row = await conn.fetchone(sql, params)
        if row is not None and _frees_a_turn(states, to_state):
            if conn is None:
                self.on_turn_freed()
            else:
                conn.after_commit(self.on_turn_freed)
        return _job(row) if row else None

    # -- a job held for review -----------------------------------------------------------

    async def release_held(
        self, job_id: int, *, deadline_at: float, conn: Connection
    ) -> Job | None:
        """Approved: the held job joins the scheduler's queue now, its deadline counted
        from now (the wait for review is no part of it), and its turns given now, as to a
        job stored now (held, it was in no queue: a member's jobs approved together would
        otherwise share one round, a batch ahead of everyone). ``None`` if it is no longer
        held (cancelled, or decided already)."""
        now = self.clock()
        held = await conn.fetchone(
            "SELECT guild_id, user_id FROM jobs WHERE id = ? AND held = 1 AND state = ?",
            (job_id, JobState.ACCEPTED.value),
        )
        if held is None:
            return None
        queue_turn, server_turn = await self._turns(conn, held["guild_id"], held["user_id"])
        row = await conn.fetchone(
            "UPDATE jobs SET held = 0, deadline_at = ?, next_check_at = ?, updated_at = ?, "
            "queue_turn = ?, server_turn = ? WHERE id = ? AND held = 1 AND state = ? RETURNING *",
            (deadline_at, now, now, queue_turn, server_turn, job_id, JobState.ACCEPTED.value),
        )
        return _job(row) if row else None

    async def end_held(
        self,
        job_id: int,
        outcome: JobOutcome,
        *,
        error: str,
        cancelled_by: int | None,
        conn: Connection,
    ) -> Job | None:
        """Denied, expired or unpostable: the held job ends, never sent (so it counts
        nowhere, see `bot.db.jobs.ledger`), and is due for delivery, which tells the member.
        ``None`` if it is no longer held."""
        check_transition(frozenset({JobState.ACCEPTED}), JobState.FINISHED, outcome)
        now = self.clock()
        row = await conn.fetchone(
            "UPDATE jobs SET held = 0, state = ?, outcome = ?, error = ?, cancelled_by = ?, "
            "finished_at = ?, next_check_at = ?, leased_until = NULL, updated_at = ? "
            "WHERE id = ? AND held = 1 AND state = ? RETURNING *",
            (
                JobState.FINISHED.value,
                outcome.value,
                error,
                cancelled_by,
                now,
                now,
                now,
                job_id,
                JobState.ACCEPTED.value,
            ),
        )
        return _job(row) if row else None

    async def set_status_message(self, job_id: int, message_id: int) -> None:
        """Record the job's public status message (its token is no longer needed); a job
        still waiting for it is due now."""

        async def record(conn: Connection) -> None:
            now = self.clock()
            await conn.execute(
                "UPDATE jobs SET status_message_id = ?, interaction_token = NULL, "
                "updated_at = ?, "
                "next_check_at = CASE WHEN state = ? THEN ? ELSE next_check_at END WHERE id = ?",
                (message_id, now, JobState.ACCEPTED.value, now, job_id),
            )

        await self.db.batched(record)

    async def set_first_frame(self, job_id: int, frame: MediaInput) -> Job | None:
        """A waiting continuation gets its first frame: its request and the payload it will
        be sent with change together. ``None`` if the job is no longer waiting to be sent."""
        job = await self.get(job_id)
        if job is None or job.state is not JobState.ACCEPTED:
            return None
        request = job.request.with_changes(first_frame=frame)
        async with self.db.transaction() as conn:
            row = await conn.fetchone(
                "UPDATE jobs SET params_json = ?, payload_json = ?, updated_at = ? "
                "WHERE id = ? AND state = ? RETURNING *",
                (
                    request.to_json(),
                    canonical_payload(request.to_payload()),
                    self.clock(),
                    job_id,
                    JobState.ACCEPTED.value,
                ),
            )
        return _job(row) if row else None

    async def wake_dependents(self, job_id: int) -> int:
        """Jobs waiting for this one (a continuation of it, a stitch with it) are due now.
        One whose answer may still be on its way to Discord (no status message recorded,
        inside its grace) is left to `set_status_message`, which makes it due: looked up
        now, its answer would not be found yet."""
        now = self.clock()
        async with self.db.transaction() as conn:
            return await conn.execute(
                "UPDATE jobs SET next_check_at = ? WHERE state = ? AND next_check_at IS NOT NULL "
                "AND (status_message_id IS NOT NULL OR created_at <= ?) "
                "AND (first_frame_from = ? "
                "OR id IN (SELECT job_id FROM stitch_clips WHERE clip_job_id = ?))",
                (now, JobState.ACCEPTED.value, now - STATUS_MESSAGE_GRACE, job_id, job_id),
            )

    async def set_status_shown(self, job_id: int, state: JobState) -> None:
        """The status message now shows ``state`` (written after a successful edit)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE jobs SET status_shown = ? WHERE id = ?", (state.value, job_id)
            )

    # -- removing ----------------------------------------------------------------------

    async def delete_unsent(self, job_id: int) -> bool:
        """Remove a job that was never sent to the provider; False if it already was."""
        async with self.db.transaction() as conn:
            changed = await conn.execute(
                "DELETE FROM jobs WHERE id = ? AND state = ?", (job_id, JobState.ACCEPTED.value)
            )
            if changed:
                conn.after_commit(self.on_turn_freed)
        return changed > 0

    async def archive_and_delete(
        self, job_id: int, *, deleted_by: int, now: float, conn: Connection
    ) -> bool:
        """Move a settled job (its outcome posted, or never postable) to ``deleted_jobs``,
        which keeps what it counted, so a deletion never gives back quota or budget that
        was spent (a stitch counted nothing: it just goes). False, and nothing changed,
        when the job isn't settled (or is gone)."""
        settled = [JobState.DELIVERED.value, JobState.UNDELIVERABLE.value]
        await conn.execute(
            "INSERT INTO deleted_jobs (job_id, guild_id, channel_id, user_id, outcome, "
            "request_id, duration, resolution, estimated_cost, created_at, deleted_by, "
            "deleted_at, undeliverable) SELECT id, guild_id, channel_id, user_id, outcome, "
            "request_id, duration, resolution, estimated_cost, created_at, ?, ?, "
            "CASE WHEN state = 'undeliverable' THEN 1 ELSE 0 END "
            "FROM jobs WHERE id = ? AND state IN (?, ?) AND origin != ?",
            (deleted_by, now, job_id, *settled, JobOrigin.STITCH.value),
        )
        deleted = await conn.execute(
            "DELETE FROM jobs WHERE id = ? AND state IN (?, ?)", (job_id, *settled)
        )
        if deleted:
            await conn.execute("DELETE FROM stitch_clips WHERE job_id = ?", (job_id,))
        return deleted > 0

    async def state_of(self, job_id: int, conn: Connection | None = None) -> JobState | None:
        value = await self.db.read(conn).fetchval("SELECT state FROM jobs WHERE id = ?", (job_id,))
        return None if value is None else JobState(value)


class QueuePlace(NamedTuple):
    """A waiting job as the places in its server's queue see it."""

    id: int
    guild_id: int | None
    channel_id: int
    status_message_id: int | None
    server_turn: int
    created_at: float

    @property
    def has_ended(self) -> bool:
        return False  # waiting: its status message still changes


class _Queued(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def guild_id(self) -> int | None: ...
    @property
    def server_turn(self) -> int: ...
    @property
    def created_at(self) -> float: ...


Queued = TypeVar("Queued", bound=_Queued)


def _fair_order(in_server_order: list[Queued]) -> list[Queued]:
    """Waiting jobs, each server's in its own order, interleaved by the servers' rounds."""
    servers: dict[int | None, list[Queued]] = {}
    for job in in_server_order:
        servers.setdefault(job.guild_id, []).append(job)
    turns = [
        [(turn, job.created_at, job.id, job) for turn, job in zip(
            sorted(j.server_turn for j in queue), queue, strict=True
        )]
        for queue in servers.values()
    ]  # fmt: skip
    # A merge takes each server's jobs in its own order, whatever the ties.
    return [job for *_, job in heapq.merge(*turns, key=lambda entry: entry[:3])]


def _in_server(guild_id: int | None) -> tuple[str, dict[str, Any]]:
    """The jobs of one server (or the DMs), as SQL an index serves (PostgreSQL uses none
    for a null-safe ``IS``), and its parameter."""
    if guild_id is None:
        return "guild_id IS NULL", {}
    return "guild_id = :guild", {"guild": guild_id}


def _next_turn(current: int, last: int | None) -> int:
    """In the round being served, or one after the last one of its own still waiting."""
    return int(current) if last is None else max(int(current), int(last) + 1)


def _frees_a_turn(from_states: frozenset[JobState], to_state: JobState | None) -> bool:
    """A job leaves the provider or the queue: it finished (only an active job can), or a
    submit was put back for a retry."""
    if to_state is JobState.FINISHED:
        return True
    return to_state is JobState.ACCEPTED and bool(from_states & IN_FLIGHT_STATES)


def _job(row: Row) -> Job:
    values = dict(zip(row.keys(), row, strict=True))  # a SQLite row finds each name by a scan
    return Job(
        id=values["id"],
        guild_id=values["guild_id"],
        channel_id=values["channel_id"],
        user_id=values["user_id"],
        request=GenerationRequest.from_json(values["params_json"]),
        payload_json=values["payload_json"],
        model=values["model"],
        state=JobState(values["state"]),
        outcome=JobOutcome(values["outcome"]) if values["outcome"] else None,
        origin=values["origin"],
        parent_job_id=values["parent_job_id"],
        estimated_cost=values["estimated_cost"],
        request_id=values["request_id"],
        status_message_id=values["status_message_id"],
        provider_status=values["provider_status"],
        error=values["error"],
        cancelled_by=values["cancelled_by"],
        result_url=values["result_url"],
        thumbnail_url=values["thumbnail_url"],
        result_message_id=values["result_message_id"],
        delivered_via=values["delivered_via"],
        attempts=values["attempts"],
        poll_count=values["poll_count"],
        failed_checks=values["failed_checks"],
        delivery_attempts=values["delivery_attempts"],
        created_at=values["created_at"],
        updated_at=values["updated_at"],
        submitted_at=values["submitted_at"],
        finished_at=values["finished_at"],
        delivered_at=values["delivered_at"],
        next_check_at=values["next_check_at"],
        deadline_at=values["deadline_at"],
        leased_until=values["leased_until"],
        leased_by=values["leased_by"],
        provider_created_at=values["provider_created_at"],
        processing_started_at=values["processing_started_at"],
        provider_finished_at=values["provider_finished_at"],
        predicted_finish_at=values["predicted_finish_at"],
        reconcile_until=values["reconcile_until"],
        status_shown=values["status_shown"],
        interaction_token=values["interaction_token"],
        first_frame_from=values["first_frame_from"],
        source_user_id=values["source_user_id"],
        source_message_id=values["source_message_id"],
        result_channel_id=values["result_channel_id"],
        gallery_channel_id=values["gallery_channel_id"],
        gallery_message_id=values["gallery_message_id"],
        gallery_attempts=values["gallery_attempts"],
        held=bool(values["held"]),
        queue_turn=values["queue_turn"],
        server_turn=values["server_turn"],
        awaits_turn=bool(values["awaits_turn"]),
        queue_pin=values["queue_pin"],
    )
