"""The ``blocked_patterns`` and ``blocked_prompt_events`` tables: the prompt filter's words
and patterns, and the prompts it refused."""

from __future__ import annotations

from dataclasses import dataclass

from bot.db.database import Connection, Database, Row


@dataclass(frozen=True)
class BlockedPattern:
    id: int
    guild_id: int
    kind: str  # "word" (whole word or phrase, any case) or "regex"
    pattern: str
    added_by: int
    created_at: float


@dataclass(frozen=True)
class BlockedPromptEvent:
    id: int
    guild_id: int
    channel_id: int
    user_id: int
    pattern_id: int | None
    pattern: str
    prompt_excerpt: str
    at: float


class DuplicatePattern(Exception):
    """The server already blocks that pattern."""


class FilterRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def patterns(
        self, guild_id: int, *, conn: Connection | None = None
    ) -> list[BlockedPattern]:
        rows = await self.db.read(conn).fetchall(
            "SELECT * FROM blocked_patterns WHERE guild_id = ? ORDER BY id", (guild_id,)
        )
        return [_pattern(r) for r in rows]

    async def pattern(
        self, guild_id: int, pattern_id: int, *, conn: Connection
    ) -> BlockedPattern | None:
        row = await conn.fetchone(
            "SELECT * FROM blocked_patterns WHERE id = ? AND guild_id = ?", (pattern_id, guild_id)
        )
        return _pattern(row) if row else None

    async def count(self, guild_id: int, *, conn: Connection) -> int:
        return int(
            await conn.fetchval(
                "SELECT COUNT(*) FROM blocked_patterns WHERE guild_id = ?", (guild_id,)
            )
        )

    async def add(
        self, guild_id: int, kind: str, pattern: str, *, by: int, at: float, conn: Connection
    ) -> BlockedPattern:
        """Raises `DuplicatePattern` when the server already blocks it."""
        row = await conn.fetchone(
            "INSERT INTO blocked_patterns (guild_id, kind, pattern, added_by, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
            (guild_id, kind, pattern, by, at),
        )
        if row is None:
            raise DuplicatePattern(pattern)
        pattern_id = int(row[0])
        return BlockedPattern(pattern_id, guild_id, kind, pattern, by, at)

    async def remove(self, pattern_id: int, *, conn: Connection) -> None:
        await conn.execute("DELETE FROM blocked_patterns WHERE id = ?", (pattern_id,))

    async def record_event(
        self,
        *,
        guild_id: int,
        channel_id: int,
        user_id: int,
        pattern: BlockedPattern,
        prompt_excerpt: str,
        at: float,
    ) -> BlockedPromptEvent:
        async with self.db.transaction() as conn:
            event_id = await conn.insert(
                "INSERT INTO blocked_prompt_events (guild_id, channel_id, user_id, "
                "pattern_id, pattern, prompt_excerpt, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "RETURNING id",
                (guild_id, channel_id, user_id, pattern.id, pattern.pattern, prompt_excerpt, at),
            )
        return BlockedPromptEvent(
            event_id, guild_id, channel_id, user_id, pattern.id, pattern.pattern, prompt_excerpt, at
        )

    async def events(
        self, guild_id: int, *, limit: int, offset: int, user_id: int | None
    ) -> list[BlockedPromptEvent]:
        rows = await self.db.reader.fetchall(
            "SELECT * FROM blocked_prompt_events WHERE guild_id = ? "
            "AND (? IS NULL OR user_id = ?) ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            (guild_id, user_id, user_id, limit, offset),
        )
        return [
            BlockedPromptEvent(
                id=r["id"],
                guild_id=r["guild_id"],
                channel_id=r["channel_id"],
                user_id=r["user_id"],
                pattern_id=r["pattern_id"],
                pattern=r["pattern"],
                prompt_excerpt=r["prompt_excerpt"],
                at=r["created_at"],
            )
            for r in rows
        ]


def _pattern(row: Row) -> BlockedPattern:
    return BlockedPattern(
        id=row["id"],
        guild_id=row["guild_id"],
        kind=row["kind"],
        pattern=row["pattern"],
        added_by=row["added_by"],
        created_at=row["created_at"],
    )
