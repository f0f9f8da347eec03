"""The database: one SQLite file in WAL mode, versioned migrations, parameterised SQL only.

Two connections: the *writer* runs every transaction (``BEGIN IMMEDIATE``, one at a time),
and the *reader* answers plain reads. A read through the reader never sees the writer's
uncommitted work, so a lookup that runs while another coroutine holds a transaction open
reads the last committed state, never half of someone else's change. Repositories take an
optional `Connection` so a caller can run several of them inside one transaction.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

log = logging.getLogger(__name__)

Params = Sequence[Any] | Mapping[str, Any]
Row = aiosqlite.Row
Migration = str | Callable[["Connection"], Awaitable[None]]
WAL_SIZE_LIMIT = 64 * 2**20
MAX_BATCH = 500
T = TypeVar("T")


@dataclass
class _Batched:
    work: Callable[[Connection], Awaitable[Any]]
    done: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    result: Any = None
    error: BaseException | None = None


class Connection:
    """What a repository talks to: one connection, inside a transaction or not."""

    def __init__(self, raw: aiosqlite.Connection) -> None:
        self._raw = raw
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once this transaction committed (never if it rolls back)."""
        self._after_commit.append(callback)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        async with self._raw.execute(sql, params) as cursor:
            return await cursor.fetchone()

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._raw.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row (``None`` when there is no row)."""
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return how many rows it changed."""
        async with self._raw.execute(sql, params) as cursor:
            return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        await self._raw.executemany(sql, rows)

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run an ``INSERT ... RETURNING id``; return the new row's id."""
        row = await self.fetchone(sql, params)
        assert row is not None, "an INSERT ... RETURNING id returns its row"
        return int(row[0])


class Database:
    def __init__(self, writer: aiosqlite.Connection, reader: aiosqlite.Connection) -> None:
        self._writer = writer
        self._reader = reader
        self._write_lock = asyncio.Lock()
        self.reader = Connection(reader)
        self._batch: list[_Batched] = []
        self._batcher: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, path: str | Path, migrations: Sequence[Migration] | None = None) -> Database:
        """Open (creating if needed) the database and bring its schema up to date."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        writer = await _connect(path)
        try:
            await Connection(writer).fetchval("PRAGMA journal_mode=WAL")
            reader = await _connect(path)
        except BaseException:
            await writer.close()
            raise
        database = cls(writer, reader)
        if migrations is None:
            from bot.db.migrations import MIGRATIONS

            migrations = MIGRATIONS
        try:
            await database.migrate(migrations)
        except BaseException:
            await database.close()
            raise
        return database

    @classmethod
    async def open_read_only(cls, path: str | Path) -> Database:
        """The database as it is, to inspect it (``python -m bot doctor``): no migration,
        and SQLite refuses any write."""
        conn = await aiosqlite.connect(_read_only_uri(path), uri=True, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        return cls(conn, conn)

    async def close(self) -> bool:
        """Finish queued writes, checkpoint and close; True if the WAL was emptied.

        The reader closes first: a read cut short by a cancelled task can leave a statement
        open on it, and a checkpoint would then wait for it (``busy_timeout``) in vain."""
        if self._batcher is not None:
            await asyncio.gather(self._batcher, return_exceptions=True)
        if self._reader is not self._writer:
            await self._reader.close()
        whole = await self.checkpoint()
        await self._writer.close()
        return whole

    async def batched(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        """Run ``work`` in a transaction shared with the other work queued meanwhile (group
        commit), and return its result once that transaction committed.

        Under a burst, one BEGIN and one COMMIT serve a whole batch, and each piece of work
        costs only its own statements: a hundred accepts at once take one write lock, not a
        hundred. The pieces run one after another, so each sees the ones before it (a quota
        check still counts every job accepted ahead of it). ``work`` must write nothing
        before it raises: batch-mates share the transaction, and a raised error is handed
        to its caller alone."""
        item = _Batched(work)
        self._batch.append(item)
        if self._batcher is None or self._batcher.done():
            self._batcher = asyncio.create_task(self._run_batches(), name="db-batches")
        result: T = await asyncio.shield(item.done)
        return result

    async def _run_batches(self) -> None:
        while self._batch:
            batch, self._batch = self._batch[:MAX_BATCH], self._batch[MAX_BATCH:]
            try:
                async with self.transaction() as conn:
                    for item in batch:
                        try:
                            item.result = await item.work(conn)
                        except Exception as error:  # this item's refusal, not the batch's
                            item.error = error
            except BaseException as error:
                for item in batch:
                    if not item.done.done():
                        item.done.set_exception(error)
                if not isinstance(error, Exception):
                    raise
                continue
            for item in batch:
                if item.error is not None:
                    item.done.set_exception(item.error)
                else:
                    item.done.set_result(item.result)

    async def journal_mode(self) -> str:
        return str(await self.reader.fetchval("PRAGMA journal_mode"))

    async def checkpoint(self) -> bool:
        """Copy the write-ahead log into the database file and empty it, so the file alone
        is whole (a copy or a backup of it needs no ``-wal``). False if it could not finish
        now (another process reading, a statement cut short still running); SQLite then
        completes it when the last connection closes or the file is next opened."""
        async with self._write_lock:
            try:
                row = await Connection(self._writer).fetchone("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.OperationalError as error:
                log.info("WAL checkpoint not done now: %s", error)
                return False
        return row is not None and row[0] == 0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """One writer at a time; ``BEGIN IMMEDIATE`` takes SQLite's write lock up front so
        a check and the write that depends on it cannot be interleaved by another process."""
        async with self._write_lock:
            conn = Connection(self._writer)
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            else:
                await conn.execute("COMMIT")
                for callback in conn._after_commit:
                    callback()

    @asynccontextmanager
    async def writing(self, conn: Connection | None) -> AsyncIterator[Connection]:
        """``conn`` when the caller already holds a transaction, else a new one."""
        if conn is not None:
            yield conn
            return
        async with self.transaction() as own:
            yield own

    def read(self, conn: Connection | None) -> Connection:
        """``conn`` inside a caller's transaction (it sees its own writes), else the reader."""
        return conn if conn is not None else self.reader

    async def size_bytes(self) -> int:
        """How big the database is (pages in use)."""
        pages = await self.reader.fetchval("PRAGMA page_count")
        size = await self.reader.fetchval("PRAGMA page_size")
        return int(pages) * int(size)

    async def schema_version(self) -> int:
        return int(await self.reader.fetchval("PRAGMA user_version"))

    async def migrate(self, migrations: Sequence[Migration]) -> int:
        """Apply the migrations this file has not seen yet; return the schema version."""
        version = await self.schema_version()
        for number, step in enumerate(migrations[version:], start=version + 1):
            async with self.transaction() as conn:
                if isinstance(step, str):
                    for statement in _statements(step):
                        await conn.execute(statement)
                else:
                    await step(conn)
                await conn.execute(f"PRAGMA user_version = {int(number)}")
            log.info("database migrated to schema version %d", number)
        return max(version, len(migrations))


async def _connect(path: str | Path) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(str(path), isolation_level=None)
    conn.row_factory = aiosqlite.Row
    try:
        # The write-ahead log is checkpointed automatically every 1000 pages; the size limit
        # truncates it after each checkpoint, so a busy bot's WAL stays bounded.
        pragmas = (
            "busy_timeout=5000",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            f"journal_size_limit={WAL_SIZE_LIMIT}",
        )
        for pragma in pragmas:
            await Connection(conn).execute(f"PRAGMA {pragma}")
    except BaseException:
        await conn.close()
        raise
    return conn


def _read_only_uri(path: str | Path) -> str:
    return Path(path).absolute().as_uri() + "?mode=ro"


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
