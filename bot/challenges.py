"""Challenges: moderators set a theme and a deadline, members enter their videos and vote,
and at the deadline the places are decided and the rewards granted, exactly once.

At most one challenge is open per server, so an "Enter challenge" button on a result
never has to ask which one. Everything lives in the database: the deadline is a row that
`ChallengeRunner` (a loop on the bot's clock) picks up, also after a restart. The close is
one transaction (open -> closed, each entry's place, the quota rewards, the audit entries),
so a crash leaves it either not done or done whole; what Discord must show afterwards (the
results post, the closed Vote buttons, the reward role) is done by the runner until the
challenge is marked finished, each post found again by its marker if an attempt may have
landed.

Places: entries are ranked by votes; ties share a place (3, 3, 1 votes rank 1st, 1st, 3rd)
and every entry whose place is within the number of winners wins, so a tie at the last
winning place makes more winners, never fewer. An entry with no votes never wins.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Protocol

from bot.clock import Clock
from bot.db.audit import AuditEntry
from bot.db.challenges import (
    CANCELLED,
    CLOSED,
    Challenge,
    ChallengeRepository,
    ChallengeTerms,
    Entry,
    Tally,
)
from bot.db.database import Connection, Database
from bot.db.jobs import JobRepository, Usage
from bot.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Refused
from bot.jobs.lifecycle import JobState
from bot.markup import plural
from bot.moderation.audit import AuditAction, AuditLog
from bot.moderation.requester import Moderators, Requester, guild_of
from bot.quotas.administration import LimitAdministration
from bot.quotas.catalogue import Window
from bot.tasks import run_passes

log = logging.getLogger(__name__)

MIN_SECONDS = 60
MAX_SECONDS = 90 * 86400
MAX_ENTRIES_PER_MEMBER = 10
MAX_WINNERS = 10
MAX_THEME_CHARS = 200
# The runner looks again at least this often (the clock may jump; jobs delivered in a
# challenge's thread are entered on the next look).
RESCAN_SECONDS = 2.0


@dataclass(frozen=True)
class Vote:
    challenge: Challenge
    entry: Entry
    moved_from: int | None  # the entry the member voted for before, if another
    unchanged: bool = False  # they already voted for this one


@dataclass(frozen=True)
class Placed:
    place: int
    tally: Tally


@dataclass(frozen=True)
class Closing:
    challenge: Challenge
    winners: list[Placed]
    audit: list[AuditEntry]


def places(tallies: list[Tally], winners: int) -> list[Placed]:
    """The winning entries, ranked (ties share a place; see the module's docstring)."""
    ranked = sorted((t for t in tallies if t.votes > 0), key=lambda t: (-t.votes, t.entry.id))
    placed = []
    for tally in ranked:
        place = 1 + sum(1 for other in ranked if other.votes > tally.votes)
        if place > winners:
            break
        placed.append(Placed(place, tally))
    return placed


class Challenges:
    def __init__(
        self,
        *,
        db: Database,
        challenges: ChallengeRepository,
        jobs: JobRepository,
        moderators: Moderators,
        audit: AuditLog,
        limit_admin: LimitAdministration,
        clock: Clock,
        on_due: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.challenges = challenges
        self.jobs = jobs
        self.moderators = moderators
        self.audit = audit
        self.limit_admin = limit_admin
        self.clock = clock
        self.on_due = on_due  # the runner has work: an entry to post, a deadline moved

    # -- moderators ----------------------------------------------------------------------

    async def start(self, actor: Requester, terms: ChallengeTerms) -> tuple[Challenge, AuditEntry]:
        await self.moderators.require(actor)
        guild_id = guild_of(actor)
        now = self.clock()
        theme = terms.theme.strip()
        if not 1 <= len(theme) <= MAX_THEME_CHARS:
            raise InvalidInput(f"Give a theme of 1 to {MAX_THEME_CHARS} characters.")
        if not MIN_SECONDS <= terms.ends_at - now <= MAX_SECONDS:
            raise InvalidInput("The deadline must be between a minute and 90 days from now.")
        if not 1 <= terms.entries_per_member <= MAX_ENTRIES_PER_MEMBER:
            raise InvalidInput(f"Entries per member must be 1 to {MAX_ENTRIES_PER_MEMBER}.")
        if not 1 <= terms.winners <= MAX_WINNERS:
            raise InvalidInput(f"The number of winners must be 1 to {MAX_WINNERS}.")
        if terms.reward_generations < 0:
            raise InvalidInput("The reward can't be a negative number of videos.")
        window = Window.parse(terms.reward_window)
        async with self.db.transaction() as conn:
            if await self.challenges.open_in(guild_id, conn=conn) is not None:
                raise Conflict(
                    "A challenge is already open in this server (one at a time): end it with "
                    "`/videoadmin challenge end` or `cancel` first."
                )
            challenge = await self.challenges.add(
                replace(terms, theme=theme, reward_window=window.value),
                guild_id,
                actor.user_id,
                now,
                conn=conn,
            )
            entry = await self._audit(
                conn,
                challenge,
                actor.user_id,
                AuditAction.CHALLENGE_START,
                json.dumps(
                    {
                        "theme": theme,
                        "ends_at": terms.ends_at,
                        "entries_per_member": terms.entries_per_member,
                        "winners": terms.winners,
                        "show_votes": terms.show_votes,
                        "reward_generations": terms.reward_generations,
                        "reward_window": challenge.reward_window,
                        "reward_role_id": terms.reward_role_id,
                    }
                ),
                now,
            )
            conn.after_commit(self.on_due)
        return challenge, entry

    async def end_early(self, actor: Requester) -> Challenge:
        """Move the open challenge's deadline to now; the runner closes it at once."""
        await self.moderators.require(actor)
        async with self.db.transaction() as conn:
            challenge = await self._open(guild_of(actor), conn=conn)
            await self.challenges.set_ends_at(challenge.id, self.clock(), actor.user_id, conn=conn)
            conn.after_commit(self.on_due)
        return challenge

    async def cancel(self, actor: Requester) -> tuple[Challenge, AuditEntry]:
        """End the open challenge with no winners and no rewards."""
        await self.moderators.require(actor)
        guild_id = guild_of(actor)
        now = self.clock()
        async with self.db.transaction() as conn:
            challenge = await self._open(guild_id, conn=conn)
            ended = await self.challenges.end(challenge.id, CANCELLED, now, conn=conn)
            assert ended is not None  # open, and we are the only writer
            entry = await self._audit(
                conn, challenge, actor.user_id, AuditAction.CHALLENGE_CANCEL, challenge.theme, now
            )
            conn.after_commit(self.on_due)
        return ended, entry

    async def _audit(
        self,
        conn: Connection,
        challenge: Challenge,
        actor_id: int,
        action: AuditAction,
        new: str,
        at: float,
    ) -> AuditEntry:
        return await self.audit.record(
            conn,
            guild_id=challenge.guild_id,
            actor_id=actor_id,
            action=action,
            target=f"channel:{challenge.channel_id}",
            subject=str(challenge.id),
            new=new,
            at=at,
        )

    async def _open(self, guild_id: int, *, conn: Connection) -> Challenge:
        challenge = await self.challenges.open_in(guild_id, conn=conn)
        if challenge is None:
            raise NotFound("No challenge is open in this server.")
        return challenge

    # -- members -------------------------------------------------------------------------

    async def open_in(self, guild_id: int | None) -> Challenge | None:
        return None if guild_id is None else await self.challenges.open_in(guild_id)

    async def current(self, guild_id: int | None) -> tuple[Challenge, list[Tally]]:
        """The open challenge and its entries (with votes; whether to show them is the
        caller's to decide by `Challenge.show_votes`)."""
        challenge = await self.open_in(guild_id)
        if challenge is None:
            raise NotFound("No challenge is open in this server right now.")
        return challenge, await self.challenges.tallies(challenge.id)

    async def enter(self, member: Requester, job_id: int) -> tuple[Challenge, Entry]:
        """Enter one of the member's own succeeded videos in the server's open challenge."""
        job = await self.jobs.get(job_id)
        if job is None or job.guild_id is None or job.guild_id != member.guild_id:
            raise NotFound(f"There is no video #{job_id} in this server.")
        if job.user_id != member.user_id:
            raise PermissionDenied(
                f"Only <@{job.user_id}>, who made #{job.id}, can enter it in a challenge."
            )
        if not (job.succeeded and job.state in (JobState.POSTING, JobState.DELIVERED)):
            raise Conflict(f"#{job.id} has no finished video to enter.")
        async with self.db.transaction() as conn:
            challenge = await self._open(job.guild_id, conn=conn)
            entry = await self._add_entry(challenge, job.id, job.user_id, job.created_at, conn)
            conn.after_commit(self.on_due)
        return challenge, entry

    async def _add_entry(
        self, challenge: Challenge, job_id: int, user_id: int, made_at: float, conn: Connection
    ) -> Entry:
        now = self.clock()
        if now >= challenge.ends_at:
            raise Conflict("This challenge has reached its deadline: entries are closed.")
        if made_at < challenge.started_at:
            raise Refused(
                "Only videos made since the challenge started can enter it: make a new one."
            )
        if await self.challenges.entry_of_job(challenge.id, job_id, conn=conn) is not None:
            raise Conflict(f"#{job_id} is already entered in this challenge.")
        entered = await self.challenges.entries_of(challenge.id, user_id, conn=conn)
        if entered >= challenge.entries_per_member:
            raise Refused(
                f"You have entered {plural(entered, 'video')} already, which is this "
                f"challenge's limit of {challenge.entries_per_member} per member."
            )
        return await self.challenges.add_entry(challenge.id, job_id, user_id, now, conn=conn)

    async def enter_from_thread(self, challenge: Challenge) -> list[Entry]:
        """Enter the succeeded videos delivered in the challenge's thread (while it is
        open, and within each member's entries)."""
        if challenge.thread_id is None or self.clock() >= challenge.ends_at:
            return []
        entries = []
        for job_id, user_id in await self.challenges.thread_jobs_to_enter(challenge):
            async with self.db.transaction() as conn:
                current = await self.challenges.get(challenge.id, conn=conn)
                if current is None or not current.is_open:
                    break
                if await self.challenges.entries_of(challenge.id, user_id, conn=conn) >= (
                    challenge.entries_per_member
                ):
                    continue
                entries.append(
                    await self.challenges.add_entry(
                        challenge.id, job_id, user_id, self.clock(), conn=conn
                    )
                )
        return entries

    async def vote(self, voter: Requester, entry_id: int) -> Vote:
        """One vote per member per challenge, never for their own entry (nor for a film
        with a clip of theirs: one made together, say); voting for another entry moves it,
        until the deadline."""
        entry = await self.challenges.entry(entry_id)
        if entry is None:
            raise NotFound("That entry no longer exists.")
        credited = {clip.user_id for clip in await self.jobs.clips(entry.job_id)}
        async with self.db.transaction() as conn:
            challenge = await self.challenges.get(entry.challenge_id, conn=conn)
            assert challenge is not None  # an entry's challenge is never deleted
            if not challenge.is_open or self.clock() >= challenge.ends_at:
                raise Conflict("Voting in this challenge has closed.")
            if entry.user_id == voter.user_id:
                raise Refused(
                    "You can't vote for your own entry: vote for the one you like best among "
                    "the others."
                )
            if voter.user_id in credited:
                raise Refused(
                    "You can't vote for a film with a clip of yours in it (it is partly your "
                    "own entry): vote for the one you like best among the others."
                )
            before = await self.challenges.vote_of(challenge.id, voter.user_id, conn=conn)
            if before == entry.id:
                return Vote(challenge, entry, None, unchanged=True)
            await self.challenges.put_vote(
                challenge.id, voter.user_id, entry.id, self.clock(), conn=conn
            )
        return Vote(challenge, entry, before)

    # -- the deadline --------------------------------------------------------------------

    async def close(self, challenge_id: int) -> Closing | None:
        """Open -> closed with its places, rewards and audit entries, in one transaction;
        None if it was closed already (by another attempt or process)."""
        now = self.clock()
        async with self.db.transaction() as conn:
            challenge = await self.challenges.end(challenge_id, CLOSED, now, conn=conn)
            if challenge is None:
                return None
            winners = places(await self.challenges.tallies(challenge.id, conn=conn), challenge.winners)
            actor_id = challenge.ended_by or challenge.started_by  # whose decision it is
            audit = []
            for placed in winners:
                await self.challenges.set_place(placed.tally.entry.id, placed.place, conn=conn)
            if challenge.reward_generations and challenge.reward_window:
                for user_id in sorted({p.tally.entry.user_id for p in winners}):
                    audit.append(
                        await self.limit_admin.grant_in(
                            conn,
                            challenge.guild_id,
                            actor_id,
                            user_id,
                            Window.parse(challenge.reward_window),
                            Usage(generations=challenge.reward_generations),
                            now,
                        )
                    )
            audit.insert(
                0,
                await self._audit(
                    conn,
                    challenge,
                    actor_id,
                    AuditAction.CHALLENGE_END,
                    json.dumps({"winners": [[p.place, p.tally.entry.user_id] for p in winners]}),
                    now,
                ),
            )
        return Closing(challenge, winners, audit)

    async def winners_of(self, challenge: Challenge) -> list[Placed]:
        """The places decided at the close, as stored."""
        tallies = await self.challenges.tallies(challenge.id)
        placed = [Placed(t.entry.place, t) for t in tallies if t.entry.place is not None]
        return sorted(placed, key=lambda p: (p.place, p.tally.entry.id))


class PostRefused(Exception):
    """Discord refused a post for good (the channel is gone, or the bot lost its rights
    there): it is not tried again, and the board has told the moderators."""


class ChallengeBoard(Protocol):
    """Discord's side of challenges (`cogs.video.challenges`). Each post can be looked for
    (``find_``) after an attempt that may have landed, so it is made once."""

    async def find_entry(self, challenge: Challenge, entry: Entry) -> int | None: ...

    async def post_entry(self, challenge: Challenge, entry: Entry) -> int: ...

    async def find_results(self, challenge: Challenge) -> int | None: ...

    async def post_results(self, challenge: Challenge, winners: list[Placed]) -> int: ...

    async def close_voting(self, challenge: Challenge) -> None:
        """Disable the Vote buttons (showing the final counts) and mark the announcement."""

    async def give_role(self, challenge: Challenge, user_ids: list[int]) -> None:
        """Give the reward role (told to the mod-log if Discord refuses)."""

    async def report(self, challenge: Challenge, audit: list[AuditEntry]) -> None:
        """The close's audit entries in the mod-log, like a moderator's changes."""


class ChallengeRunner:
    """The loop that posts entries and ends challenges at their deadline. ``serves`` says
    which servers are this process's (the shards it connects)."""

    def __init__(
        self,
        challenges: Challenges,
        board: ChallengeBoard,
        clock: Clock,
        serves: Callable[[int], bool],
    ) -> None:
        self.challenges = challenges
        self.repo = challenges.challenges
        self.board = board
        self.clock = clock
        self.serves = serves
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        await run_passes("challenges", self._pass, self._wake, retry=RESCAN_SECONDS)

    async def _pass(self) -> float:
        await self.tick()
        return await self._until_next()

    async def tick(self) -> None:
        """One pass over every challenge of this process; one failing (Discord down for
        its channel) holds up no other, and is tried again on the next pass."""
        for challenge in await self.repo.open_ones():
            if self.serves(challenge.guild_id) and challenge.announcement_message_id:
                await self._isolated(challenge, self._take_entries(challenge))
        for challenge in await self.repo.unfinished(self.clock()):
            if self.serves(challenge.guild_id):
                await self._isolated(challenge, self._end(challenge))

    async def _isolated(self, challenge: Challenge, work: Awaitable[None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("challenge %d: a step failed; trying again shortly", challenge.id)

    async def _take_entries(self, challenge: Challenge) -> None:
        await self.challenges.enter_from_thread(challenge)
        await self._post_entries(challenge)

    async def _post_entries(self, challenge: Challenge) -> None:
        for entry in await self.repo.unposted_entries(challenge.id):
            job = await self.challenges.jobs.get(entry.job_id)
            if job is not None and not job.is_delivered:
                continue  # its result is still being recorded: the next pass posts it
            found = await self.board.find_entry(challenge, entry) if entry.post_attempts else None
            if found is None:
                await self.repo.entry_attempted(entry.id)
                try:
                    found = await self.board.post_entry(challenge, entry)
                except PostRefused:
                    await self.repo.entry_abandoned(entry.id, self.clock())
                    continue
            await self.repo.entry_posted(entry.id, found)

    async def _end(self, challenge: Challenge) -> None:
        if challenge.is_open:
            closing = await self.challenges.close(challenge.id)
            if closing is None:
                return  # another attempt closed it; it finishes the rest
            challenge = closing.challenge
            await self.board.report(challenge, closing.audit)
            log.info(
                "challenge %d in guild %d closed: %d winner(s)",
                challenge.id, challenge.guild_id, len(closing.winners),
            )  # fmt: skip
        await self._post_entries(challenge)  # entries made just before the deadline
        if challenge.state == CLOSED:
            winners = await self.challenges.winners_of(challenge)
            await self._post_results(challenge, winners)
            if challenge.reward_role_id is not None and winners:
                await self.board.give_role(
                    challenge, sorted({p.tally.entry.user_id for p in winners})
                )
        await self.board.close_voting(challenge)
        await self.repo.finished(challenge.id, self.clock())

    async def _post_results(self, challenge: Challenge, winners: list[Placed]) -> None:
        if challenge.results_message_id is not None:
            return
        found = await self.board.find_results(challenge) if challenge.results_attempts else None
        if found is None:
            await self.repo.results_attempted(challenge.id)
            try:
                found = await self.board.post_results(challenge, winners)
            except PostRefused:
                return  # the places and rewards stand; the moderators were told
        await self.repo.results_posted(challenge.id, found)

    async def _until_next(self) -> float:
        """Seconds until the next deadline, or `RESCAN_SECONDS`, whichever comes first."""
        timeout = RESCAN_SECONDS
        deadlines = [c.ends_at for c in await self.repo.open_ones() if self.serves(c.guild_id)]
        if deadlines:
            timeout = min(timeout, max(0.5, min(deadlines) - self.clock()))
        return timeout
