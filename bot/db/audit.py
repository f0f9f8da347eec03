"""The ``audit_log`` table: every moderation change, with raw values (ids, Unix times, JSON).

What each action records is `bot.moderation.audit.AuditAction`'s to say; this module only
stores and reads entries.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.db.database import Connection, Database, Row


@dataclass(frozen=True)
class AuditEntry:
    id: int
    guild_id: int
    actor_id: int
    action: str  # an AuditAction value (older unknown rows: their own text)
    subject: str | None  # what within the target: a limit name, a job id, a window...
    target: str  # "server", "user:<id>", "role:<id>", "channel:<id>", "pattern:<id>"
    old_value: str | None
    new_value: str | None
    at: float


class AuditRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self,
        *,
        guild_id: int,
        actor_id: int,
        action: str,
        target: str,
        subject: str | None,
        old_value: str | None,
        new_value: str | None,
        at: float,
        conn: Connection,
    ) -> AuditEntry:
        entry_id = await conn.insert(
            "INSERT INTO audit_log (guild_id, actor_id, action, subject, target, old_value, "
            "new_value, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (guild_id, actor_id, action, subject, target, old_value, new_value, at),
        )
        return AuditEntry(
            entry_id, guild_id, actor_id, action, subject, target, old_value, new_value, at
        )

    async def listed(
        self,
        guild_id: int,
        *,
        limit: int,
        offset: int,
        target: str | None = None,
        actor_id: int | None = None,
    ) -> list[AuditEntry]:
        """Newest first; ``target`` like ``user:123``, ``role:456``, ``server``."""
        rows = await self.db.reader.fetchall(
            "SELECT * FROM audit_log WHERE guild_id = ? AND (? IS NULL OR target = ?) "
            "AND (? IS NULL OR actor_id = ?) ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            (guild_id, target, target, actor_id, actor_id, limit, offset),
        )
        return [_entry(r) for r in rows]


def _entry(row: Row) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        guild_id=row["guild_id"],
        actor_id=row["actor_id"],
        action=row["action"],
        subject=row["subject"],
        target=row["target"],
        old_value=row["old_value"],
        new_value=row["new_value"],
        at=row["created_at"],
    )
