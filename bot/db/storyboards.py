"""The ``storyboards`` and ``storyboard_shots`` tables: films made together, their shots.

Every change is a compare-and-set on the state it expects, so a button pressed twice, two
processes, or a restart in the middle never move a storyboard or a shot twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from bot.clock import Clock
from bot.db.database import Connection, Database, Row
from bot.params import MediaInput
from bot.storyboards.model import BoardState, Member, Shot, ShotState, Storyboard

_BOARD_FIELDS = frozenset({"message_id", "film_job_id", "failure"})
_SHOT_FIELDS = frozenset({"job_id", "failure", "prompt", "image"})


class StoryboardRepository:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def create(
        self,
        *,
        guild_id: int,
        channel_id: int,
        starter: Member,
        title: str,
        shot_count: int,
        shot_seconds: int,
    ) -> Storyboard:
        now = self.clock()
        async with self.db.transaction() as conn:
            row = await conn.fetchone(
                "INSERT INTO storyboards (guild_id, channel_id, starter_json, title, shot_count, "
                "shot_seconds, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "RETURNING *",
                (guild_id, channel_id, starter.to_json(), title, shot_count, shot_seconds,
                 BoardState.OPEN.value, now, now),
            )  # fmt: skip
        assert row is not None
        return _board(row)

    async def get(self, board_id: int) -> Storyboard | None:
        row = await self.db.reader.fetchone("SELECT * FROM storyboards WHERE id = ?", (board_id,))
        return _board(row) if row else None

    async def in_state(self, state: BoardState) -> list[Storyboard]:
        rows = await self.db.reader.fetchall(
            "SELECT * FROM storyboards WHERE state = ? ORDER BY id", (state.value,)
        )
        return [_board(row) for row in rows]

    async def shown_lately(self, since: float) -> list[int]:
        """The boards whose message may need drawing again: those still going, and those
        that ended since ``since``."""
        rows = await self.db.reader.fetchall(
            "SELECT id FROM storyboards WHERE message_id IS NOT NULL "
            "AND (state != ? OR updated_at >= ?) ORDER BY id",
            (BoardState.FILMED.value, since),
        )
        return [row["id"] for row in rows]

    async def set_shown(self, board_id: int, shown: str) -> None:
        await self.db.write_statement(
            "UPDATE storyboards SET shown = ? WHERE id = ?", (shown, board_id)
        )

    async def move(
        self,
        board_id: int,
        *,
        from_states: Iterable[BoardState],
        to_state: BoardState | None = None,
        conn: Connection | None = None,
        **fields: Any,
    ) -> Storyboard | None:
        """Compare-and-set: the change, only if the storyboard is in one of ``from_states``;
        ``film_job_id`` is set only where none is. None if it was not. Inside the caller's
        transaction if ``conn`` is given."""
        _check_fields(fields, _BOARD_FIELDS)
        if to_state is not None:
            fields["state"] = to_state.value
        fields["updated_at"] = self.clock()
        guard = " AND film_job_id IS NULL" if fields.get("film_job_id") is not None else ""
        row = await self._update(
            "storyboards", fields, "id = ?" + guard, [board_id], from_states, conn=conn
        )
        return _board(row) if row else None

    async def shots(self, board_id: int) -> list[Shot]:
        rows = await self.db.reader.fetchall(
            "SELECT * FROM storyboard_shots WHERE storyboard_id = ? ORDER BY place", (board_id,)
        )
        return [_shot(row) for row in rows]

    async def waiting_of(self, guild_id: int, user_id: int) -> list[tuple[Storyboard, Shot]]:
        """The member's shots in this server not filmed yet (they will count when they are)."""
        rows = await self.db.reader.fetchall(
            "SELECT storyboard_shots.* FROM storyboard_shots "
            "JOIN storyboards ON storyboards.id = storyboard_shots.storyboard_id "
            "WHERE storyboard_shots.user_id = ? AND storyboard_shots.state = ? "
            "AND storyboards.guild_id = ? "
            "ORDER BY storyboard_shots.storyboard_id, storyboard_shots.place",
            (user_id, ShotState.WAITING.value, guild_id),
        )
        shots = [_shot(row) for row in rows]
        boards = {board_id: await self.get(board_id) for board_id in {s.storyboard_id for s in shots}}
        return [(board, shot) for shot in shots if (board := boards[shot.storyboard_id])]

    async def add_shot(
        self, board_id: int, place: int, author: Member, prompt: str, image: MediaInput | None
    ) -> tuple[Shot, Storyboard] | None:
        """Shot ``place``, if it is the next of an open storyboard; the storyboard moves to
        FILMING with its last. None if another came first, or it is no longer open."""
        now = self.clock()
        async with self.db.transaction() as conn:
            board_row = await conn.fetchone(
                "SELECT * FROM storyboards WHERE id = ? AND state = ?",
                (board_id, BoardState.OPEN.value),
            )
            if board_row is None:
                return None
            board = _board(board_row)
            count = await conn.fetchone(
                "SELECT COUNT(*) FROM storyboard_shots WHERE storyboard_id = ?", (board_id,)
            )
            if count is None or int(count[0]) != place - 1 or place > board.shot_count:
                return None
            row = await conn.fetchone(
                "INSERT INTO storyboard_shots (storyboard_id, place, user_id, author_json, "
                "prompt, image_json, state, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
                (board_id, place, author.user_id, author.to_json(), prompt, _image_json(image),
                 ShotState.WAITING.value, now),
            )  # fmt: skip
            if place == board.shot_count:
                board_row = await conn.fetchone(
                    "UPDATE storyboards SET state = ?, updated_at = ? WHERE id = ? RETURNING *",
                    (BoardState.FILMING.value, now, board_id),
                )
        assert row is not None and board_row is not None
        return _shot(row), _board(board_row)

    async def move_shot(
        self,
        board_id: int,
        place: int,
        *,
        from_states: Iterable[ShotState],
        to_state: ShotState,
        **fields: Any,
    ) -> Shot | None:
        """Compare-and-set on one shot (``image`` is a `MediaInput` or None)."""
        _check_fields(fields, _SHOT_FIELDS)
        if "image" in fields:
            fields["image_json"] = _image_json(fields.pop("image"))
        fields["state"] = to_state.value
        row = await self._update(
            "storyboard_shots", fields, "storyboard_id = ? AND place = ?", [board_id, place],
            from_states,
        )  # fmt: skip
        return _shot(row) if row else None

    async def _update(
        self,
        table: str,
        fields: dict[str, Any],
        where: str,
        keys: list[Any],
        from_states: Iterable[BoardState | ShotState],
        *,
        conn: Connection | None = None,
    ) -> Row | None:
        """``UPDATE table SET fields WHERE where AND state IN from_states RETURNING *``;
        the table and column names are the repository's own, never input."""
        states = [state.value for state in from_states]
        assignments = ", ".join(f"{name} = ?" for name in fields)
        marks = ", ".join("?" for _ in states)
        sql = (
            f"UPDATE {table} SET {assignments} "  # noqa: S608 - names are whitelisted
            f"WHERE {where} AND state IN ({marks}) RETURNING *"
        )
        params = [*fields.values(), *keys, *states]
        if conn is not None:
            return await conn.fetchone(sql, params)
        async with self.db.transaction() as own:
            return await own.fetchone(sql, params)


def _check_fields(fields: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")


def _image_json(image: MediaInput | None) -> str | None:
    return json.dumps(asdict(image), sort_keys=True) if image is not None else None


def _board(row: Row) -> Storyboard:
    return Storyboard(
        id=row["id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        message_id=row["message_id"],
        starter=Member.from_json(row["starter_json"]),
        title=row["title"],
        shot_count=row["shot_count"],
        shot_seconds=row["shot_seconds"],
        state=BoardState(row["state"]),
        film_job_id=row["film_job_id"],
        failure=row["failure"],
        created_at=row["created_at"],
        shown=row["shown"],
    )


def _shot(row: Row) -> Shot:
    image = row["image_json"]
    return Shot(
        storyboard_id=row["storyboard_id"],
        place=row["place"],
        author=Member.from_json(row["author_json"]),
        prompt=row["prompt"],
        image=MediaInput(**json.loads(image)) if image else None,
        state=ShotState(row["state"]),
        job_id=row["job_id"],
        failure=row["failure"],
        added_at=row["added_at"],
    )
