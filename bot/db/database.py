"""The database every repository talks to, on SQLite or PostgreSQL, with one behaviour.

`Database.open` takes where the data is: a ``postgresql://`` URL selects PostgreSQL,
anything else is the path of a SQLite file. Every difference between the engines lives in
`bot.db.dialect`, so repositories write one SQL for both.

Transactions run one at a time (`Database.transaction`), across connections and processes:
a check and the write that depends on it are never interleaved with another writer. Small
write transactions that arrive together can share one (`Database.batched`: group commit).
Plain reads go through `Database.reader`, a connection (SQLite) or pool (PostgreSQL) of its
own that sees committed data only, never half of a transaction that is still open.
Repositories take an optional `Connection` so a caller can run several of them inside one
transaction; `Connection.after_commit` defers what must wait until the data is committed.

How to write a query that works on both engines (the tests run every one on each):

- Parameters only, never values formatted into SQL: ``?`` with a sequence, or ``:name``
  with a mapping (a name may repeat); not both in one statement.
- Pass each parameter as its column's Python type: ``int`` for INTEGER, ``float`` (or
  ``int``) for REAL, ``str`` for TEXT. PostgreSQL refuses a ``str`` for an INTEGER column.
- Null-safe equality is ``col IS ?``; an optional filter is ``(? IS NULL OR col = ?)``.
- A count of matching rows is ``SUM(col = value)`` (one comparison); anything longer is
  ``SUM(CASE WHEN ... THEN 1 ELSE 0 END)``. No other arithmetic on comparisons.
- New rows: ``INSERT ... RETURNING id`` through `Connection.insert` (or ``RETURNING *``
  through `Connection.fetchone`, as an ``UPDATE ... RETURNING *`` may). Upserts: ``INSERT ...
  ON CONFLICT (cols) DO UPDATE SET c = excluded.c`` or ``ON CONFLICT DO NOTHING`` (never
  ``INSERT OR REPLACE`` / ``OR IGNORE``).
- Standard functions only: ``COALESCE`` (not ``IFNULL``), ``CASE``, ``CAST``, ``substr``,
  ``length``, ``lower``, ``||``, ``MIN``/``MAX``/``SUM``/``COUNT``; never ``json_extract``,
  ``strftime``, ``datetime()``, ``GROUP_CONCAT``, scalar ``MAX(a, b)``. Times are Unix
  seconds (REAL) computed in Python and passed in.
- A subquery in ``FROM`` has an alias: ``FROM (SELECT ...) AS recent`` (PostgreSQL 15
  requires one).
- Every selected column that isn't aggregated is in ``GROUP BY``; ``ORDER BY`` ends with a
  unique key (PostgreSQL promises no order otherwise) and says ``NULLS FIRST`` or ``NULLS
  LAST`` where NULLs can sort (the engines disagree on the default).
- ``LIKE`` ignores case on SQLite only: compare ``lower(col) LIKE lower(?)``.
- Within a transaction, never catch a database error and carry on: PostgreSQL aborts the
  transaction at its first error. Use ``ON CONFLICT`` (or check first) instead.
- A check and the write it decides belong in one `Database.transaction`. Only work that
  locks its own rows (``SELECT ... FOR UPDATE [SKIP LOCKED]``, which SQLite, alone in
  writing, drops) may run in `Database.locking_rows` instead.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar, overload

log = logging.getLogger(__name__)

Params = Sequence[Any] | Mapping[str, Any]
# Work shares a transaction 50 at a time: every piece of a batch is answered when it commits,
# so a burst's first answers go out while the next batch runs (one batch of 500 held every
# answer until the last accept; 50 brought a 500-command burst's p99 from ~750 to ~560 ms).
MAX_BATCH = 50
T = TypeVar("T")


class Row(Protocol):
    """One result row, by column name (``row["id"]``) or by position (``row[0]``, unpacking)."""

    @overload
    def __getitem__(self, key: str, /) -> Any: ...
    @overload
    def __getitem__(self, key: int, /) -> Any: ...
    def __iter__(self) -> Iterator[Any]: ...
    def __len__(self) -> int: ...
    def keys(self) -> Iterable[str]: ...


class ConstraintViolation(Exception):
    """A write broke a UNIQUE, NOT NULL, CHECK or foreign-key constraint (either engine)."""


class DatabaseUnavailable(Exception):
    """PostgreSQL could not be reached or refused us; the message never holds the password."""


class Connection(ABC):
    """What a repository talks to: one connection, inside a transaction or not."""

    def __init__(self) -> None:
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once this transaction committed (never if it rolls back)."""
        self._after_commit.append(callback)

    def _committed(self) -> None:
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    @asynccontextmanager
    async def contained(self) -> AsyncIterator[None]:
        """A block whose failure leaves this transaction usable for what follows, and
        forgets the `after_commit` callbacks the block registered. On PostgreSQL that takes
        a savepoint: there a failed statement aborts the whole transaction. A SQLite
        statement that fails undoes only itself, so SQLite needs none."""
        registered = len(self._after_commit)
        try:
            async with self._savepoint():
                yield
        except BaseException:
            del self._after_commit[registered:]
            raise

    @abstractmethod
    def _savepoint(self) -> AbstractAsyncContextManager[None]: ...

    @abstractmethod
    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...

    @abstractmethod
    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...

    @abstractmethod
    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return how many rows it changed."""

    @abstractmethod
    async def executemany(self, sql: str, rows: Iterable[Params]) -> None: ...

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row (``None`` when there is no row)."""
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run an ``INSERT ... RETURNING id``; return the new row's id."""
        row = await self.fetchone(sql, params)
        assert row is not None, "an INSERT ... RETURNING id returns its row"
        return int(row[0])


class Engine(ABC):
    """What `Database` needs from one engine; `bot.db.dialect` has SQLite's and PostgreSQL's."""

    name: str  # "sqlite" or "postgresql": which half of a `ByDialect` migration runs
    reader: Connection

    @abstractmethod
    def transaction(self, *, serialised: bool = True) -> AbstractAsyncContextManager[Connection]:
        """A transaction that no other writer (connection or process) interleaves with, on
        a `Connection` of its own (its `after_commit` list starts empty); with
        ``serialised=False`` one that relies on the row locks its statements take."""

    async def write_statement(
        self, sql: str, params: Params, *, serialised: bool = True
    ) -> list[Row]:
        """One statement in a `transaction` of its own; its rows (``RETURNING``)."""
        async with self.transaction(serialised=serialised) as conn:
            return await conn.fetchall(sql, params)

    @abstractmethod
    async def schema_version(self, conn: Connection) -> int: ...

    @abstractmethod
    async def set_schema_version(self, conn: Connection, version: int) -> None: ...

    @abstractmethod
    async def size_bytes(self) -> int:
        """How much room the data takes."""

    @abstractmethod
    async def journal_mode(self) -> str | None:
        """SQLite's journal mode (``"wal"``); ``None`` where the server keeps its own log."""

    @abstractmethod
    async def close(self) -> str:
        """Close every connection; return what closing did, for the log."""


SQLStep = str | Callable[[Connection], Awaitable[None]]


@dataclass(frozen=True)
class ByDialect:
    """A migration step written once per engine, for what no SQL says on both."""

    sqlite: SQLStep
    postgresql: SQLStep

    def for_engine(self, name: str) -> SQLStep:
        return self.postgresql if name == "postgresql" else self.sqlite


Migration = SQLStep | ByDialect


@dataclass
class _Batched:
    work: Callable[[Connection], Awaitable[Any]]
    done: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    result: Any = None
    error: BaseException | None = None


class Database:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.reader = engine.reader
        self._batch: list[_Batched] = []
        self._batcher: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls, location: str | Path, migrations: Sequence[Migration] | None = None
    ) -> Database:
        """Open the database at ``location`` (a ``postgresql://`` URL or a SQLite file path,
        created if needed) and bring its schema up to date."""
        from bot.db.dialect import open_engine

        database = cls(await open_engine(location))
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
    async def open_read_only(cls, location: str | Path) -> Database:
        """The database as it is, to inspect it (``python -m bot doctor``): no migration,
        and the engine refuses any write (SQLite opens the file read-only; PostgreSQL
        makes every transaction read-only)."""
        from bot.db.dialect import open_engine

        return cls(await open_engine(location, read_only=True))

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engine.name

    async def close(self) -> str:
        """Finish queued batches, then close the engine's connections (SQLite checkpoints
        its WAL first, best effort); return what closing did, for the log."""
        if self._batcher is not None:
            await asyncio.gather(self._batcher, return_exceptions=True)
        return await self._engine.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """One writer at a time, across processes too (see the engines in `bot.db.dialect`);
        rolled back if the block raises. The `Connection.after_commit` callbacks run once
        the commit is visible to every reader."""
        async with self._engine.transaction() as conn:
            yield conn
        conn._committed()

    @asynccontextmanager
    async def locking_rows(self) -> AsyncIterator[Connection]:
        """A write transaction for work that locks the rows it touches and decides nothing
        from any other row (``SELECT ... FOR UPDATE [SKIP LOCKED]``, a single-row
        compare-and-set): claiming due jobs, taking provider tokens. On PostgreSQL it
        takes no global write lock, so several processes claiming at once neither queue
        behind every other writer nor behind each other. SQLite has one writer anyway:
        there it is `transaction`."""
        async with self._engine.transaction(serialised=False) as conn:
            yield conn
        conn._committed()

    async def write_statement(
        self, sql: str, params: Params = (), *, locking_rows: bool = False
    ) -> list[Row]:
        """One statement in a transaction of its own (a `transaction`, or with
        ``locking_rows`` a `locking_rows` one); the rows it returns. On SQLite it takes one
        hand-over to the database's thread, not three (BEGIN, the statement, COMMIT): what
        each status check's compare-and-set and each claim of due jobs cost. There, a
        caller cancelled while it runs doesn't undo it: the statement still commits."""
        return await self._engine.write_statement(sql, params, serialised=not locking_rows)

    async def batched(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        """Run ``work`` in a transaction shared with the other work queued meanwhile (group
        commit), and return its result once that transaction committed.

        Under a burst, one BEGIN and one COMMIT (on PostgreSQL, one advisory lock) serve a
        whole batch, and each piece of work costs only its own statements: a hundred
        accepts at once take one write lock, not a hundred. The pieces run one after
        another, so each sees the ones before it (a quota check still counts every job
        accepted ahead of it). Each runs `Connection.contained`, so one that raises hands
        its error to its own caller alone, and its batch-mates commit; it must write
        nothing before it raises (on SQLite only its failed statement is undone)."""
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
                            async with conn.contained():
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

    def read(self, conn: Connection | None) -> Connection:
        """``conn`` inside a caller's transaction (it sees its own writes), else the reader."""
        return conn if conn is not None else self.reader

    async def size_bytes(self) -> int:
        """How big the database is (SQLite: pages in use; PostgreSQL: the database's size)."""
        return await self._engine.size_bytes()

    async def journal_mode(self) -> str | None:
        """SQLite's journal mode (the bot uses ``"wal"``); ``None`` on PostgreSQL."""
        return await self._engine.journal_mode()

    async def schema_version(self) -> int:
        return await self._engine.schema_version(self.reader)

    async def migrate(self, migrations: Sequence[Migration]) -> int:
        """Apply the steps this database has not seen yet, each in its own transaction;
        return the schema version. The version is read inside each step's transaction, so
        processes that start at once apply every step exactly once."""
        while True:
            async with self.transaction() as conn:
                version = await self._engine.schema_version(conn)
                if version >= len(migrations):
                    return version
                step = migrations[version]
                if isinstance(step, ByDialect):
                    step = step.for_engine(self.dialect)
                if isinstance(step, str):
                    for statement in _statements(step):
                        await conn.execute(statement)
                else:
                    await step(conn)
                await self._engine.set_schema_version(conn, version + 1)
            log.info("database migrated to schema version %d", version + 1)


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
