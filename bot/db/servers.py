"""The ``guild_settings`` and ``generation_channels`` tables: each server's own settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.db.database import Connection, Database

# Columns of guild_settings a moderator command may change; names never come from input.
SETTING_COLUMNS = frozenset(
    {
        "mod_role_id",
        "mod_log_channel_id",
        "timezone",
        "reset_hour",
        "refunds_enabled",
        "monthly_budget",
        "moderators_exempt",
        "results_in",
        "gallery_channel_id",
        "confirm_above",
        "review_channel_id",
        "review_cost_above",
        "review_reference_videos",
        "review_unless_role_id",
        "max_in_flight",
    }
)


@dataclass(frozen=True)
class GuildSettings:
    guild_id: int
    mod_role_id: int | None = None
    mod_log_channel_id: int | None = None
    timezone: str = "UTC"
    reset_hour: int = 0
    refunds_enabled: bool = True
    monthly_budget: float | None = None  # estimated cost; None means no budget
    allowed_channel_ids: frozenset[int] = frozenset()  # empty: every channel
    moderators_exempt: bool = False  # moderators skip member limits (the budget still holds)
    results_in: str = "channel"  # a `bot.jobs.destinations.ResultsIn`
    gallery_channel_id: int | None = None  # gets a copy of every finished video
    confirm_above: float | None = None  # members confirm jobs estimated above it; None: off
    # The approval lane (`bot.moderation.reviews`): where reviews go, and what needs one.
    review_channel_id: int | None = None
    review_cost_above: float | None = None  # jobs estimated above this need a review
    review_reference_videos: bool = False  # jobs with reference videos need a review
    review_unless_role_id: int | None = None  # members without this role need a review
    max_in_flight: int | None = None  # jobs at the provider at once; None: no cap of its own


class ServerSettingsRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, guild_id: int, *, conn: Connection | None = None) -> GuildSettings:
        reader = self.db.read(conn)
        row = await reader.fetchone("SELECT * FROM guild_settings WHERE guild_id = ?", (guild_id,))
        channels = await reader.fetchall(
            "SELECT channel_id FROM generation_channels WHERE guild_id = ?", (guild_id,)
        )
        allowed = frozenset(int(r[0]) for r in channels)
        if row is None:
            return GuildSettings(guild_id=guild_id, allowed_channel_ids=allowed)
        return GuildSettings(
            guild_id=guild_id,
            mod_role_id=row["mod_role_id"],
            mod_log_channel_id=row["mod_log_channel_id"],
            timezone=row["timezone"],
            reset_hour=row["reset_hour"],
            refunds_enabled=bool(row["refunds_enabled"]),
            monthly_budget=row["monthly_budget"],
            allowed_channel_ids=allowed,
            moderators_exempt=bool(row["moderators_exempt"]),
            results_in=row["results_in"],
            gallery_channel_id=row["gallery_channel_id"],
            confirm_above=row["confirm_above"],
            review_channel_id=row["review_channel_id"],
            review_cost_above=row["review_cost_above"],
            review_reference_videos=bool(row["review_reference_videos"]),
            review_unless_role_id=row["review_unless_role_id"],
            max_in_flight=row["max_in_flight"],
        )

    async def in_flight_caps(self, conn: Connection | None = None) -> dict[int, int]:
        """Every server's own cap on jobs in flight, for the servers that set one."""
        rows = await self.db.read(conn).fetchall(
            "SELECT guild_id, max_in_flight FROM guild_settings WHERE max_in_flight IS NOT NULL"
        )
        return {int(row[0]): int(row[1]) for row in rows}

    async def set_value(
        self, guild_id: int, column: str, value: Any, *, at: float, conn: Connection
    ) -> None:
        if column not in SETTING_COLUMNS:
            raise ValueError(column)
        await conn.execute(
            "INSERT INTO guild_settings (guild_id, updated_at) VALUES (?, ?) "
            "ON CONFLICT (guild_id) DO NOTHING",
            (guild_id, at),
        )
        await conn.execute(
            f"UPDATE guild_settings SET {column} = ?, updated_at = ? "  # noqa: S608
            "WHERE guild_id = ?",
            (value, at, guild_id),
        )

    async def add_channel(self, guild_id: int, channel_id: int, *, conn: Connection) -> None:
        await conn.execute(
            "INSERT INTO generation_channels (guild_id, channel_id) VALUES (?, ?) "
            "ON CONFLICT DO NOTHING",
            (guild_id, channel_id),
        )

    async def remove_channel(self, guild_id: int, channel_id: int, *, conn: Connection) -> bool:
        removed = await conn.execute(
            "DELETE FROM generation_channels WHERE guild_id = ? AND channel_id = ?",
            (guild_id, channel_id),
        )
        return removed > 0
