"""The ``library_assets`` table: the references a server's moderators approved, by name."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

from bot.db.database import Connection, Database, Row

AssetKind = Literal["image", "video", "audio", "asset"]


@dataclass(frozen=True)
class LibraryAsset:
    """One approved reference: a file in a message the bot posted (``channel_id``,
    ``message_id``, ``attachment_id``), with what it was checked to be when it was added;
    or, of kind ``asset``, the id of an asset uploaded to the provider."""

    id: int
    guild_id: int
    name_key: str  # the name as compared: one asset per key and server
    name: str  # as the moderator wrote it
    kind: AssetKind
    added_by: int
    added_at: float
    channel_id: int | None = None
    message_id: int | None = None
    attachment_id: int | None = None
    provider_asset_id: str | None = None
    filename: str | None = None
    content_type: str | None = None
    size: int | None = None
    width: int | None = None
    height: int | None = None
    detected: str | None = None
    seconds: float | None = None  # a video's or audio clip's length
    missing_since: float | None = None  # its message was found gone from Discord


class DuplicateAsset(Exception):
    """The server already has an asset of that name."""


_COLUMNS = [f.name for f in fields(LibraryAsset) if f.name != "id"]
# The columns are the record's own field names, never a value: the values are parameters.
_INSERT = (
    f"INSERT INTO library_assets ({', '.join(_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(':' + name for name in _COLUMNS)}) "
    "ON CONFLICT DO NOTHING RETURNING id"
)


class AssetRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, asset: LibraryAsset, *, conn: Connection) -> LibraryAsset:
        """Store ``asset`` (its ``id`` is ignored) and return it with its id; raises
        `DuplicateAsset` when the server already has one of that name."""
        values = {name: getattr(asset, name) for name in _COLUMNS}
        row = await conn.fetchone(_INSERT, values)
        if row is None:
            raise DuplicateAsset(asset.name)
        return LibraryAsset(id=int(row[0]), **values)

    async def named(
        self, guild_id: int, name_key: str, *, conn: Connection | None = None
    ) -> LibraryAsset | None:
        row = await self.db.read(conn).fetchone(
            "SELECT * FROM library_assets WHERE guild_id = ? AND name_key = ?",
            (guild_id, name_key),
        )
        return _asset(row) if row else None

    async def listed(self, guild_id: int) -> list[LibraryAsset]:
        """The server's assets by name."""
        rows = await self.db.reader.fetchall(
            "SELECT * FROM library_assets WHERE guild_id = ? ORDER BY name_key, id",
            (guild_id,),
        )
        return [_asset(r) for r in rows]

    async def remove(self, asset_id: int, *, conn: Connection) -> None:
        await conn.execute("DELETE FROM library_assets WHERE id = ?", (asset_id,))

    async def set_missing(self, asset_id: int, since: float | None) -> bool:
        """Note that the asset's message is gone (``since``), or back (None); True if that
        changed anything, so a moderator hears of a loss once."""
        async with self.db.transaction() as conn:
            if since is None:
                changed = await conn.execute(
                    "UPDATE library_assets SET missing_since = NULL "
                    "WHERE id = ? AND missing_since IS NOT NULL",
                    (asset_id,),
                )
            else:
                changed = await conn.execute(
                    "UPDATE library_assets SET missing_since = ? "
                    "WHERE id = ? AND missing_since IS NULL",
                    (since, asset_id),
                )
        return changed > 0


def _asset(row: Row) -> LibraryAsset:
    return LibraryAsset(id=row["id"], **{name: row[name] for name in _COLUMNS})
