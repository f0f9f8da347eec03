"""The ``member_blocks`` table: members a moderator stopped from generating."""

from __future__ import annotations

from dataclasses import dataclass

from bot.db.database import Connection, Database, Row


@dataclass(frozen=True)
class MemberBlock:
    guild_id: int
    user_id: int
    reason: str
    expires_at: float | None
    blocked_by: int
    created_at: float


class BlockRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def active(
        self, guild_id: int, user_id: int, now: float, *, conn: Connection | None = None
    ) -> MemberBlock | None:
        row = await self.db.read(conn).fetchone(
            "SELECT * FROM member_blocks WHERE guild_id = ? AND user_id = ? "
            "AND (expires_at IS NULL OR expires_at > ?)",
            (guild_id, user_id, now),
        )
        return _block(row) if row else None

    async def active_in_guild(self, guild_id: int, now: float) -> list[MemberBlock]:
        rows = await self.db.reader.fetchall(
            "SELECT * FROM member_blocks WHERE guild_id = ? "
            "AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at",
            (guild_id, now),
        )
        return [_block(r) for r in rows]

    async def put(self, block: MemberBlock, *, conn: Connection) -> None:
        await conn.execute(
            "INSERT INTO member_blocks (guild_id, user_id, reason, expires_at, blocked_by, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, user_id) DO UPDATE "
            "SET reason = excluded.reason, expires_at = excluded.expires_at, "
            "blocked_by = excluded.blocked_by, created_at = excluded.created_at",
            (
                block.guild_id,
                block.user_id,
                block.reason,
                block.expires_at,
                block.blocked_by,
                block.created_at,
            ),
        )

    async def remove(self, guild_id: int, user_id: int, *, conn: Connection) -> None:
        await conn.execute(
            "DELETE FROM member_blocks WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
        )


def _block(row: Row) -> MemberBlock:
    return MemberBlock(
        guild_id=row["guild_id"],
        user_id=row["user_id"],
        reason=row["reason"],
        expires_at=row["expires_at"],
        blocked_by=row["blocked_by"],
        created_at=row["created_at"],
    )
