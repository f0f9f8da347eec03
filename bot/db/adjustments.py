"""The ``quota_adjustments`` table: grants (extra allowance) and resets, per member and window.

Each one applies from when it was made until ``expires_at`` (the end of the window it was
made in), so changing the server's time zone or reset hour never loses one.
"""

from __future__ import annotations

from bot.db.database import Connection, Database
from bot.db.jobs.ledger import Usage


class AdjustmentRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self,
        guild_id: int,
        user_id: int,
        *,
        kind: str,  # "grant" or "reset"
        window: str,
        window_start: float,
        expires_at: float,
        extra: Usage,
        actor_id: int,
        at: float,
        conn: Connection,
    ) -> None:
        await conn.execute(
            "INSERT INTO quota_adjustments (guild_id, user_id, kind, window, window_start, "
            "expires_at, generations, seconds, cost, actor_id, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                guild_id,
                user_id,
                kind,
                window,
                int(window_start),
                expires_at,
                extra.generations,
                extra.seconds,
                extra.cost,
                actor_id,
                at,
            ),
        )

    async def in_force(
        self,
        guild_id: int,
        user_id: int,
        window: str,
        now: float,
        *,
        conn: Connection | None = None,
    ) -> tuple[Usage, float | None]:
        """(extra granted, last reset time) of this member's ``window`` that apply now."""
        row = await self.db.read(conn).fetchone(
            "SELECT COALESCE(SUM(CASE WHEN kind = 'grant' THEN generations END), 0), "
            "COALESCE(SUM(CASE WHEN kind = 'grant' THEN seconds END), 0), "
            "COALESCE(SUM(CASE WHEN kind = 'grant' THEN cost END), 0), "
            "MAX(CASE WHEN kind = 'reset' THEN created_at END) "
            "FROM quota_adjustments WHERE guild_id = ? AND user_id = ? AND window = ? "
            "AND created_at <= ? AND expires_at > ?",
            (guild_id, user_id, window, now, now),
        )
        assert row is not None
        generations, seconds, cost, reset_at = row
        return Usage(int(generations), int(seconds), float(cost)), reset_at
