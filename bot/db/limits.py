"""The ``quota_limits`` table: limits moderators set per server, role or member."""

from __future__ import annotations

from dataclasses import dataclass

from bot.db.database import Connection, Database, Row
from bot.quotas.catalogue import LIMITS, LimitValue

SCOPES = ("server", "role", "member")


@dataclass(frozen=True)
class StoredLimit:
    """One limit as a moderator set it."""

    scope: str  # server, role or member
    scope_id: int  # 0 for the server, else the role or member id
    name: str
    value: LimitValue
    updated_by: int
    updated_at: float


class LimitRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def for_member(
        self, guild_id: int, user_id: int, *, conn: Connection | None = None
    ) -> list[StoredLimit]:
        """The server's and every role's limits, and this member's own overrides."""
        rows = await self.db.read(conn).fetchall(
            "SELECT * FROM quota_limits WHERE guild_id = ? AND (scope != 'member' OR scope_id = ?)",
            (guild_id, user_id),
        )
        return [_limit(r) for r in rows if r["name"] in LIMITS]

    async def listed(
        self, guild_id: int, scope: str | None = None, scope_id: int | None = None
    ) -> list[StoredLimit]:
        rows = await self.db.reader.fetchall(
            "SELECT * FROM quota_limits WHERE guild_id = ? AND (? IS NULL OR scope = ?) "
            "AND (? IS NULL OR scope_id = ?) ORDER BY scope, scope_id, name",
            (guild_id, scope, scope, scope_id, scope_id),
        )
        return [_limit(r) for r in rows if r["name"] in LIMITS]

    async def stored_text(
        self, guild_id: int, scope: str, scope_id: int, name: str, *, conn: Connection
    ) -> str | None:
        value = await conn.fetchval(
            "SELECT value FROM quota_limits WHERE guild_id = ? AND scope = ? "
            "AND scope_id = ? AND name = ?",
            (guild_id, scope, scope_id, name),
        )
        return None if value is None else str(value)

    async def put(
        self,
        guild_id: int,
        scope: str,
        scope_id: int,
        name: str,
        value: LimitValue,
        *,
        by: int,
        at: float,
        conn: Connection,
    ) -> None:
        await conn.execute(
            "INSERT INTO quota_limits (guild_id, scope, scope_id, name, value, "
            "updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (guild_id, scope, scope_id, name) DO UPDATE SET "
            "value = excluded.value, updated_by = excluded.updated_by, "
            "updated_at = excluded.updated_at",
            (guild_id, scope, scope_id, name, str(value), by, at),
        )

    async def remove(
        self, guild_id: int, scope: str, scope_id: int, name: str, *, conn: Connection
    ) -> bool:
        removed = await conn.execute(
            "DELETE FROM quota_limits WHERE guild_id = ? AND scope = ? "
            "AND scope_id = ? AND name = ?",
            (guild_id, scope, scope_id, name),
        )
        return removed > 0


def _limit(row: Row) -> StoredLimit:
    name = row["name"]
    return StoredLimit(
        scope=row["scope"],
        scope_id=row["scope_id"],
        name=name,
        value=LIMITS[name].parse(row["value"]),
        updated_by=row["updated_by"],
        updated_at=row["updated_at"],
    )
