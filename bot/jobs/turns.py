"""Fair turns: which waiting job goes to the provider next when something holds jobs back.

Three things can: a server's own cap on jobs in flight (a moderator setting), the bot-wide
cap (an operator setting), and the provider's rate limit (`ProviderBudget`). Waiting jobs go
round-robin, across members within a server and across servers
(`JobRepository.waiting_in_order` is the order), so nobody waits behind another member's
batch; a moderator may move a job ahead, or drop it.

The check against the caps and the move to SUBMITTING happen in one write transaction, so
processes that dispatch at once can never exceed a cap together. A job whose turn has not
come waits without polling (``awaits_turn``, checked again after `TURN_RECHECK` in case a
wake was lost with a crashed process): whenever a job gives up its turn (it finished, or
left the queue) the jobs whose turn came are made due at once and the scheduler woken.

Submits waiting for the provider's budget go in the same spirit (`FairTags`): each
member's k-th submit in round k, so a batch never holds the budget's queue either.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.clock import Clock
from bot.db.audit import AuditEntry
from bot.db.database import Connection, Database
from bot.db.jobs import Everywhere, JobRepository
from bot.db.servers import ServerSettingsRepository
from bot.errors import Conflict, InvalidInput
from bot.jobs.lifecycle import JobOutcome, JobState
from bot.jobs.model import Job
from bot.moderation.audit import AuditAction, AuditLog, user_target
from bot.moderation.requester import Moderators, Requester, guild_of
from bot.tasks import BackgroundTasks

log = logging.getLogger(__name__)

TURN_RECHECK = 60.0  # seconds: a held job looks again this often, whatever wakes were lost
# Why a dropped job ended, wherever it is read (its status message names the moderator;
# a storyboard's pause notice has only these words).
DROPPED = "A moderator took it out of the queue before it was sent: nothing was charged."


@dataclass(frozen=True)
class Caps:
    """The caps on jobs in flight: the bot's (``None``: none) and each server's own."""

    bot_wide: int | None
    servers: Mapping[int, int]

    def hold(self, guild_id: int | None) -> bool:
        """Whether any cap can hold back this server's jobs."""
        return self.bot_wide is not None or (guild_id is not None and guild_id in self.servers)

    def of(self, guild_id: int | None) -> int | None:
        return None if guild_id is None else self.servers.get(guild_id)


def next_in_turn(
    queue: Sequence[Job], in_flight: Mapping[int | None, int], caps: Caps, now: float
) -> list[Job]:
    """The waiting jobs the caps let go now: down the queue, each job ready to go whose
    server (and the bot) still has room takes a slot; a full server's jobs are passed over,
    not waited for. A job not ready (in a retry's backoff, or waiting for the video it
    builds on) takes no slot meanwhile: it claims its turn when it is due again."""
    total = sum(in_flight.values())
    taken = dict(in_flight)
    chosen = []
    for job in queue:
        if caps.bot_wide is not None and total >= caps.bot_wide:
            break
        if not job.awaits_turn and (job.next_check_at is None or job.next_check_at > now):
            continue
        cap = caps.of(job.guild_id)
        if cap is not None and taken.get(job.guild_id, 0) >= cap:
            continue
        chosen.append(job)
        total += 1
        taken[job.guild_id] = taken.get(job.guild_id, 0) + 1
    return chosen


@dataclass(frozen=True)
class ServerQueue:
    """One server's queue as `/video queue` shows it, and what holds it back."""

    entries: list[Job]  # in the order they go
    in_flight: int  # this server's jobs at the provider
    cap: int | None  # the server's own cap
    bot_in_flight: int
    bot_cap: int | None
    provider_holding: bool  # submits wait for the provider's rate limit

    @property
    def held_by_server_cap(self) -> bool:
        return self.cap is not None and self.in_flight >= self.cap

    @property
    def held_by_bot_cap(self) -> bool:
        return self.bot_cap is not None and self.bot_in_flight >= self.bot_cap

    @property
    def held(self) -> bool:
        """Whether a job ready now waits for its turn (a cap or the provider holds it)."""
        return self.held_by_server_cap or self.held_by_bot_cap or self.provider_holding


@dataclass(frozen=True)
class QueueChange:
    job: Job
    audit: AuditEntry


class Turns:
    """``on_due``: a job became due now (the scheduler's wake); ``on_queue_changed``: the
    places in a server's queue may have changed (its status messages are refreshed);
    ``provider_holding``: whether submits wait for the provider's rate limit now."""

    def __init__(
        self,
        db: Database,
        jobs: JobRepository,
        servers: ServerSettingsRepository,
        moderators: Moderators,
        audit: AuditLog,
        clock: Clock,
        *,
        bot_cap: int | None = None,
    ) -> None:
        self.db = db
        self.jobs = jobs
        self.servers = servers
        self.moderators = moderators
        self.audit = audit
        self.clock = clock
        self.bot_cap = bot_cap
        self.on_due: Callable[[], None] = lambda: None
        self.on_queue_changed: Callable[[int | None], None] = lambda guild_id: None
        self.provider_holding: Callable[[], bool] = lambda: False
        self._releasing = BackgroundTasks("turns")
        self._again = False
        jobs.on_turn_freed = self.turn_freed

    async def close(self) -> None:
        await self._releasing.close()

    async def caps(self, conn: Connection | None = None) -> Caps:
        return Caps(self.bot_cap, await self.servers.in_flight_caps(conn))

    # -- dispatching -------------------------------------------------------------------

    async def dispatch(self, job: Job, **fields: Any) -> Job | None:
        """Move ``job`` to SUBMITTING (with ``fields``) if its turn has come; else it waits
        for its turn (None, as when another step moved it first)."""
        async with self.db.transaction() as conn:
            if await self._its_turn(job, conn):
                claimed = await self.jobs.transition(
                    job.id,
                    from_states={JobState.ACCEPTED},
                    to_state=JobState.SUBMITTING,
                    awaits_turn=0,
                    conn=conn,
                    **fields,
                )
                newly_held = False
            else:
                claimed = None
                await self.jobs.transition(
                    job.id,
                    from_states={JobState.ACCEPTED},
                    awaits_turn=1,
                    next_check_at=self.clock() + TURN_RECHECK,
                    conn=conn,
                )
                newly_held = not job.awaits_turn
        if newly_held or claimed is not None:
            self.on_queue_changed(job.guild_id)  # one more held, or one place less for all
        return claimed

    async def _its_turn(self, job: Job, conn: Connection) -> bool:
        caps = await self.caps(conn)
        if not caps.hold(job.guild_id):
            return True
        scope = Everywhere.ALL if caps.bot_wide is not None else job.guild_id
        queue = await self.jobs.waiting_in_order(conn, guild_id=scope)
        in_flight = await self.jobs.in_flight_by_guild(conn)
        chosen = next_in_turn(queue, in_flight, caps, self.clock())
        return job.id in {j.id for j in chosen}

    def turn_freed(self) -> None:
        """A job gave up its turn: let the next ones go (in the background, coalesced)."""
        if self._releasing.closed:
            return
        self._again = True
        if self._releasing.running("release") is None:
            self._releasing.spawn(self._release_while_freed(), name="release", key="release")

    async def _release_while_freed(self) -> None:
        while self._again:
            self._again = False
            try:
                await self.release()
            except asyncio.CancelledError:
                raise
            except Exception:  # the held jobs look again by themselves (TURN_RECHECK)
                log.exception("could not let the next jobs in turn go")
        self._releasing.release("release")

    async def release(self) -> int:
        """Make due the held jobs whose turn has come; returns how many."""
        if not await self.jobs.any_awaiting_turn():
            return 0  # the common case, with no cap: no write at all
        async with self.db.transaction() as conn:
            caps = await self.caps(conn)
            queue = await self.jobs.waiting_in_order(conn)
            in_flight = await self.jobs.in_flight_by_guild(conn)
            chosen = next_in_turn(queue, in_flight, caps, self.clock())
            due = await self.jobs.make_due([j.id for j in chosen if j.awaits_turn], conn)
        if due:
            self.on_due()
        for guild_id in {job.guild_id for job in queue}:
            self.on_queue_changed(guild_id)
        return due

    # -- looking -----------------------------------------------------------------------

    async def server_queue(self, guild_id: int) -> ServerQueue:
        in_flight = await self.jobs.in_flight_by_guild()
        return ServerQueue(
            entries=await self.jobs.waiting_in_order(guild_id=guild_id),
            in_flight=in_flight.get(guild_id, 0),
            cap=(await self.servers.get(guild_id)).max_in_flight,
            bot_in_flight=sum(in_flight.values()),
            bot_cap=self.bot_cap,
            provider_holding=self.provider_holding(),
        )

    async def place_of(self, job: Job) -> int | None:
        """The job's place in its server's queue (1: next), None if it isn't waiting."""
        queue = await self.jobs.places(guild_id=job.guild_id)
        return next((place for place, j in enumerate(queue, 1) if j.id == job.id), None)

    # -- moderators' changes -----------------------------------------------------------

    async def move(self, actor: Requester, job_id: int, place: int) -> QueueChange:
        """Put a waiting job at ``place`` in its server's queue (1: the front). It and the
        jobs ahead of it keep their places from now on; the others follow in fair turns."""
        await self.moderators.require(actor)
        guild_id = guild_of(actor)
        if place < 1:
            raise InvalidInput("Places start at 1 (the front of the queue).")
        now = self.clock()
        async with self.db.transaction() as conn:
            queue = await self.jobs.waiting_in_order(conn, guild_id=guild_id)
            job, old = self._waiting(queue, job_id)
            order = [j for j in queue if j.id != job_id]
            new = min(place, len(order) + 1)
            order.insert(new - 1, job)
            pinned = [i for i, j in enumerate(order) if j.queue_pin is not None or j.id == job_id]
            await self.jobs.pin(guild_id, [j.id for j in order[: max(pinned) + 1]], conn)
            entry = await self._audit(conn, actor, AuditAction.QUEUE_MOVE, job, old, new, now)
        self.turn_freed()  # at the front, its turn may have come
        self.on_queue_changed(guild_id)
        return QueueChange(job, entry)

    async def drop(self, actor: Requester, job_id: int) -> QueueChange:
        """Take a waiting job out of the queue: cancelled before it was sent, so it costs
        the member nothing; its status message tells them why."""
        await self.moderators.require(actor)
        guild_id = guild_of(actor)
        now = self.clock()
        async with self.db.transaction() as conn:
            job, old = self._waiting(await self.jobs.waiting_in_order(conn, guild_id=guild_id), job_id)
            dropped = await self.jobs.transition(
                job_id,
                from_states={JobState.ACCEPTED},
                to_state=JobState.FINISHED,
                outcome=JobOutcome.CANCELLED,
                finished_at=now,
                next_check_at=now,
                cancelled_by=actor.user_id,
                error=DROPPED,
                conn=conn,
            )
            assert dropped is not None, "a waiting job, read in this transaction"
            entry = await self._audit(conn, actor, AuditAction.QUEUE_DROP, job, old, None, now)
        self.on_due()  # its outcome is posted
        return QueueChange(dropped, entry)

    async def _audit(
        self,
        conn: Connection,
        actor: Requester,
        action: AuditAction,
        job: Job,
        old: int,
        new: int | None,
        at: float,
    ) -> AuditEntry:
        """A moderator's change to the queue, with the job's places before and after."""
        return await self.audit.record(
            conn,
            guild_id=guild_of(actor),
            actor_id=actor.user_id,
            action=action,
            subject=str(job.id),
            target=user_target(job.user_id),
            old=old,
            new=new,
            at=at,
        )

    @staticmethod
    def _waiting(queue: Sequence[Job], job_id: int) -> tuple[Job, int]:
        for place, job in enumerate(queue, 1):
            if job.id == job_id:
                return job, place
        raise Conflict(
            f"Job #{job_id} is not waiting in this server's queue: it was sent already, or "
            "ended. `/video queue` lists the jobs that wait."
        )


class FairTags:
    """Priorities for submits waiting for the provider's budget, round-robin across members
    (start-time fair queueing): a member's next submit is one round after their last one
    still waiting, and never before the round being served. Ties go in arrival order."""

    def __init__(self) -> None:
        self._served = 0.0  # the round of the last submit answered
        self._last: dict[tuple[int | None, int], float] = {}  # member -> their last round

    def tag(self, job: Job) -> float:
        member = (job.guild_id, job.user_id)
        round_ = max(self._served, self._last.get(member, 0.0)) + 1
        self._last[member] = round_
        return round_

    def served(self, tag: float) -> None:
        self._served = max(self._served, tag)
        if len(self._last) > 1024:  # members with nothing waiting: their round is history
            self._last = {m: r for m, r in self._last.items() if r > self._served}

