"""The ``challenges``, ``challenge_entries`` and ``challenge_votes`` tables.

A challenge is ``open`` until its deadline, then ``closed`` (its places decided, its quota
rewards granted) or ``cancelled``; ``finished_at`` is set once the Discord side of that end
is done too (results posted, buttons closed, roles given), so a restart finishes the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.db.database import Connection, Database, Row

OPEN, CLOSED, CANCELLED = "open", "closed", "cancelled"


@dataclass(frozen=True)
class Challenge:
    id: int
    guild_id: int
    channel_id: int  # where entries go (and the announcement)
    thread_id: int | None  # started from the announcement: generating there enters
    announcement_message_id: int | None
    theme: str
    started_by: int
    started_at: float
    ends_at: float
    entries_per_member: int
    winners: int
    show_votes: bool
    reward_generations: int
    reward_window: str | None
    reward_role_id: int | None
    state: str
    ended_by: int | None
    closed_at: float | None
    results_attempts: int
    results_message_id: int | None
    finished_at: float | None

    @property
    def is_open(self) -> bool:
        return self.state == OPEN

    @property
    def has_reward(self) -> bool:
        return bool(self.reward_generations) or self.reward_role_id is not None


@dataclass(frozen=True)
class Entry:
    id: int
    challenge_id: int
    job_id: int
    user_id: int
    entered_at: float
    post_attempts: int
    message_id: int | None
    place: int | None  # decided at the close: 1 is first; None below the winners


@dataclass(frozen=True)
class Tally:
    """An entry and the votes it has."""

    entry: Entry
    votes: int


@dataclass(frozen=True)
class ChallengeTerms:
    """What a moderator sets when starting a challenge."""

    channel_id: int  # where the announcement and the entries go
    theme: str
    ends_at: float
    entries_per_member: int = 1
    winners: int = 1
    show_votes: bool = False
    reward_generations: int = 0
    reward_window: str = "month"  # the quota window the extra videos count in
    reward_role_id: int | None = None


class ChallengeRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _update(self, sql: str, params: tuple[int | float | None, ...]) -> None:
        """One write on its own (what the runner records after each Discord step)."""
        async with self.db.transaction() as conn:
            await conn.execute(sql, params)

    # -- challenges ----------------------------------------------------------------------

    async def add(
        self, terms: ChallengeTerms, guild_id: int, started_by: int, at: float, *, conn: Connection
    ) -> Challenge:
        row = await conn.fetchone(
            "INSERT INTO challenges (guild_id, channel_id, theme, started_by, started_at, "
            "ends_at, entries_per_member, winners, show_votes, reward_generations, "
            "reward_window, reward_role_id, state) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
            (
                guild_id,
                terms.channel_id,
                terms.theme,
                started_by,
                at,
                terms.ends_at,
                terms.entries_per_member,
                terms.winners,
                int(terms.show_votes),
                terms.reward_generations,
                terms.reward_window if terms.reward_generations else None,
                terms.reward_role_id,
                OPEN,
            ),
        )
        assert row is not None
        return _challenge(row)

    async def get(self, challenge_id: int, *, conn: Connection | None = None) -> Challenge | None:
        row = await self.db.read(conn).fetchone(
            "SELECT * FROM challenges WHERE id = ?", (challenge_id,)
        )
        return _challenge(row) if row else None

    async def open_in(self, guild_id: int, *, conn: Connection | None = None) -> Challenge | None:
        row = await self.db.read(conn).fetchone(
            "SELECT * FROM challenges WHERE guild_id = ? AND state = ?", (guild_id, OPEN)
        )
        return _challenge(row) if row else None

    async def announced(
        self, challenge_id: int, message_id: int, thread_id: int | None
    ) -> None:
        await self._update(
            "UPDATE challenges SET announcement_message_id = ?, thread_id = ? WHERE id = ?",
            (message_id, thread_id, challenge_id),
        )

    async def set_ends_at(self, challenge_id: int, ends_at: float, ended_by: int, *, conn: Connection) -> None:
        await conn.execute(
            "UPDATE challenges SET ends_at = ?, ended_by = ? WHERE id = ? AND state = ?",
            (ends_at, ended_by, challenge_id, OPEN),
        )

    async def end(
        self, challenge_id: int, state: str, at: float, *, conn: Connection
    ) -> Challenge | None:
        """Open -> ``state`` (closed or cancelled), once: None if it was no longer open."""
        row = await conn.fetchone(
            "UPDATE challenges SET state = ?, closed_at = ? WHERE id = ? AND state = ? "
            "RETURNING *",
            (state, at, challenge_id, OPEN),
        )
        return _challenge(row) if row else None

    async def unfinished(self, now: float) -> list[Challenge]:
        """Open challenges past their deadline, and ended ones whose Discord side is undone
        (few at any time: the loop filters them by the servers its process serves)."""
        rows = await self.db.reader.fetchall(
            "SELECT * FROM challenges WHERE finished_at IS NULL AND (state <> ? OR ends_at <= ?) "
            "ORDER BY ends_at, id",
            (OPEN, now),
        )
        return [_challenge(r) for r in rows]

    async def open_ones(self) -> list[Challenge]:
        """Every open challenge (at most one per server), the soonest deadline first."""
        rows = await self.db.reader.fetchall(
            "SELECT * FROM challenges WHERE state = ? ORDER BY ends_at, id", (OPEN,)
        )
        return [_challenge(r) for r in rows]

    async def results_attempted(self, challenge_id: int) -> None:
        await self._update(
            "UPDATE challenges SET results_attempts = results_attempts + 1 WHERE id = ?",
            (challenge_id,),
        )

    async def results_posted(self, challenge_id: int, message_id: int) -> None:
        await self._update(
            "UPDATE challenges SET results_message_id = ? WHERE id = ?",
            (message_id, challenge_id),
        )

    async def finished(self, challenge_id: int, at: float) -> None:
        await self._update(
            "UPDATE challenges SET finished_at = ? WHERE id = ?", (at, challenge_id)
        )

    # -- entries -------------------------------------------------------------------------

    async def add_entry(
        self, challenge_id: int, job_id: int, user_id: int, at: float, *, conn: Connection
    ) -> Entry:
        row = await conn.fetchone(
            "INSERT INTO challenge_entries (challenge_id, job_id, user_id, entered_at) "
            "VALUES (?, ?, ?, ?) RETURNING *",
            (challenge_id, job_id, user_id, at),
        )
        assert row is not None
        return _entry(row)

    async def entry(self, entry_id: int, *, conn: Connection | None = None) -> Entry | None:
        row = await self.db.read(conn).fetchone(
            "SELECT * FROM challenge_entries WHERE id = ?", (entry_id,)
        )
        return _entry(row) if row else None

    async def entry_of_job(
        self, challenge_id: int, job_id: int, *, conn: Connection | None = None
    ) -> Entry | None:
        row = await self.db.read(conn).fetchone(
            "SELECT * FROM challenge_entries WHERE challenge_id = ? AND job_id = ?",
            (challenge_id, job_id),
        )
        return _entry(row) if row else None

    async def entries_of(
        self, challenge_id: int, user_id: int, *, conn: Connection | None = None
    ) -> int:
        return int(
            await self.db.read(conn).fetchval(
                "SELECT COUNT(*) FROM challenge_entries WHERE challenge_id = ? AND user_id = ?",
                (challenge_id, user_id),
            )
        )

    async def entries(self, challenge_id: int) -> list[Entry]:
        rows = await self.db.reader.fetchall(
            "SELECT * FROM challenge_entries WHERE challenge_id = ? ORDER BY id", (challenge_id,)
        )
        return [_entry(r) for r in rows]

    async def unposted_entries(self, challenge_id: int) -> list[Entry]:
        rows = await self.db.reader.fetchall(
            "SELECT * FROM challenge_entries WHERE challenge_id = ? AND message_id IS NULL "
            "AND abandoned_at IS NULL ORDER BY id",
            (challenge_id,),
        )
        return [_entry(r) for r in rows]

    async def entry_attempted(self, entry_id: int) -> None:
        await self._update(
            "UPDATE challenge_entries SET post_attempts = post_attempts + 1 WHERE id = ?",
            (entry_id,),
        )

    async def entry_abandoned(self, entry_id: int, at: float) -> None:
        """Discord refused its post for good: it stays unposted (and can't be voted for)."""
        await self._update(
            "UPDATE challenge_entries SET abandoned_at = ? WHERE id = ?", (at, entry_id)
        )

    async def entry_posted(self, entry_id: int, message_id: int) -> None:
        await self._update(
            "UPDATE challenge_entries SET message_id = ? WHERE id = ?", (message_id, entry_id)
        )

    async def thread_jobs_to_enter(self, challenge: Challenge, limit: int = 50) -> list[tuple[int, int]]:
        """(job id, member) of succeeded jobs delivered in the challenge's thread since it
        started, not entered yet, whose member may still enter; the earliest first."""
        rows = await self.db.reader.fetchall(
            "SELECT j.id, j.user_id FROM jobs j WHERE j.guild_id = ? AND j.channel_id = ? "
            "AND j.state = 'delivered' AND j.outcome = 'succeeded' AND j.created_at >= ? "
            "AND NOT EXISTS (SELECT 1 FROM challenge_entries e "
            "WHERE e.challenge_id = ? AND e.job_id = j.id) "
            "AND (SELECT COUNT(*) FROM challenge_entries m "
            "WHERE m.challenge_id = ? AND m.user_id = j.user_id) < ? "
            "ORDER BY j.delivered_at, j.id LIMIT ?",
            (
                challenge.guild_id,
                challenge.thread_id,
                challenge.started_at,
                challenge.id,
                challenge.id,
                challenge.entries_per_member,
                limit,
            ),
        )
        return [(int(r[0]), int(r[1])) for r in rows]

    async def set_place(self, entry_id: int, place: int, *, conn: Connection) -> None:
        await conn.execute(
            "UPDATE challenge_entries SET place = ? WHERE id = ?", (place, entry_id)
        )

    # -- votes ---------------------------------------------------------------------------

    async def vote_of(
        self, challenge_id: int, voter_id: int, *, conn: Connection | None = None
    ) -> int | None:
        """The entry this member votes for, if any."""
        value = await self.db.read(conn).fetchval(
            "SELECT entry_id FROM challenge_votes WHERE challenge_id = ? AND voter_id = ?",
            (challenge_id, voter_id),
        )
        return None if value is None else int(value)

    async def put_vote(
        self, challenge_id: int, voter_id: int, entry_id: int, at: float, *, conn: Connection
    ) -> None:
        await conn.execute(
            "INSERT INTO challenge_votes (challenge_id, voter_id, entry_id, voted_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (challenge_id, voter_id) DO UPDATE "
            "SET entry_id = excluded.entry_id, voted_at = excluded.voted_at",
            (challenge_id, voter_id, entry_id, at),
        )

    async def votes_for(self, entry_id: int) -> int:
        return int(
            await self.db.reader.fetchval(
                "SELECT COUNT(*) FROM challenge_votes WHERE entry_id = ?", (entry_id,)
            )
        )

    async def tallies(self, challenge_id: int, *, conn: Connection | None = None) -> list[Tally]:
        """Every entry with its votes, most votes first, then the earliest entry."""
        rows = await self.db.read(conn).fetchall(
            "SELECT e.*, (SELECT COUNT(*) FROM challenge_votes v WHERE v.entry_id = e.id) "
            "AS votes FROM challenge_entries e WHERE e.challenge_id = ? ORDER BY votes DESC, e.id",
            (challenge_id,),
        )
        return [Tally(_entry(r), int(r["votes"])) for r in rows]


def _challenge(row: Row) -> Challenge:
    return Challenge(
        id=row["id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        thread_id=row["thread_id"],
        announcement_message_id=row["announcement_message_id"],
        theme=row["theme"],
        started_by=row["started_by"],
        started_at=row["started_at"],
        ends_at=row["ends_at"],
        entries_per_member=row["entries_per_member"],
        winners=row["winners"],
        show_votes=bool(row["show_votes"]),
        reward_generations=row["reward_generations"],
        reward_window=row["reward_window"],
        reward_role_id=row["reward_role_id"],
        state=row["state"],
        ended_by=row["ended_by"],
        closed_at=row["closed_at"],
        results_attempts=row["results_attempts"],
        results_message_id=row["results_message_id"],
        finished_at=row["finished_at"],
    )


def _entry(row: Row) -> Entry:
    return Entry(
        id=row["id"],
        challenge_id=row["challenge_id"],
        job_id=row["job_id"],
        user_id=row["user_id"],
        entered_at=row["entered_at"],
        post_attempts=row["post_attempts"],
        message_id=row["message_id"],
        place=row["place"],
    )
