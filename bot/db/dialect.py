"""The two engines behind `bot.db.database`, and every difference between them.

Repositories and migrations write SQLite's SQL; on PostgreSQL `to_postgres` rewrites it:

* ``?`` and ``:name`` parameters become ``$1, $2...`` (a repeated name keeps its number);
* ``x IS ?`` / ``x IS NOT ?`` (null-safe comparisons) become ``IS [NOT] DISTINCT FROM``;
* a boolean sum, ``SUM(a = b)`` (one comparison of two columns, literals or parameters:
  SQLite's comparisons are 0 or 1), becomes ``SUM(CASE WHEN a = b THEN 1 ELSE 0 END)``;
* ``? IS NULL`` gets a cast from the value's Python type, since PostgreSQL cannot infer the
  type of a parameter that is only tested for NULL (``(? IS NULL OR target = ?)`` filters);
* types (in DDL and casts): ``INTEGER`` becomes ``BIGINT`` (Discord ids need 64 bits), ``REAL`` becomes
  ``DOUBLE PRECISION`` (PostgreSQL's REAL has 24 bits: Unix times need a double), and
  ``INTEGER PRIMARY KEY AUTOINCREMENT`` an identity column;
* ``window``, a column name SQLite allows bare and PostgreSQL reserves, is quoted.

Nothing inside quotes or ``--`` comments is touched. Results read the same on both: a
PostgreSQL ``numeric`` (what ``SUM`` of a BIGINT gives) comes back as an ``int`` (or a
``float`` when it has a fraction), as SQLite's sums do; a constraint violation raises
`ConstraintViolation` on both.

Locking: see `SQLiteEngine.transaction` and `PostgresEngine.transaction`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import sqlite3
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    closing,
    contextmanager,
    nullcontext,
)
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import aiosqlite
import asyncpg

from bot.backoff import full_jitter
from bot.db.database import (
    Connection,
    ConstraintViolation,
    DatabaseUnavailable,
    Engine,
    Params,
    Row,
)

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

log = logging.getLogger(__name__)
T = TypeVar("T")

POSTGRES_SCHEMES = ("postgresql", "postgres")


async def open_engine(location: str | Path, *, read_only: bool = False) -> Engine:
    """PostgreSQL for a ``postgresql://`` URL, else SQLite at that path; ``read_only`` to
    inspect it (nothing created, every write refused)."""
    if is_postgres_url(location):
        assert isinstance(location, str)
        return await PostgresEngine.open(location, read_only=read_only)
    if read_only:
        return await SQLiteEngine.open_read_only(Path(location))
    log.info("database: SQLite file %s", location)
    return await SQLiteEngine.open(Path(location))


def is_postgres_url(location: str | Path) -> bool:
    return isinstance(location, str) and urlsplit(location).scheme in POSTGRES_SCHEMES


def describe_location(location: str | Path) -> str:
    """Which engine and where, safe to log: ``PostgreSQL at postgresql://bot:***@db/bot``."""
    if is_postgres_url(location):
        return f"PostgreSQL at {redacted_url(str(location))}"
    return f"SQLite file {Path(location).resolve()}"


# -- SQLite --------------------------------------------------------------------------------


@contextmanager
def _constraint_errors(driver_error: type[Exception]) -> Iterator[None]:
    """A driver's own constraint error as `ConstraintViolation`, the same on both engines."""
    try:
        yield
    except driver_error as error:
        raise ConstraintViolation(str(error)) from error


def _sqlite_errors() -> AbstractContextManager[None]:
    return _constraint_errors(sqlite3.IntegrityError)


_ROW_LOCK = re.compile(r"\s+FOR\s+UPDATE(?:\s+SKIP\s+LOCKED)?\b", re.I)


@functools.lru_cache(maxsize=256)
def to_sqlite(sql: str) -> str:
    """``sql`` without PostgreSQL's row locks (``FOR UPDATE [SKIP LOCKED]``): SQLite has
    one writer at a time, so a transaction's rows are its own anyway."""
    return _ROW_LOCK.sub("", sql) if "FOR UPDATE" in sql.upper() else sql


def _fetchone(sql: str, params: Params, conn: sqlite3.Connection) -> Row | None:
    with closing(conn.execute(sql, params)) as cursor:  # a read left open pins the WAL
        row: Row | None = cursor.fetchone()
        return row


def _fetchall(sql: str, params: Params, conn: sqlite3.Connection) -> list[Row]:
    rows: list[Row] = conn.execute(sql, params).fetchall()
    return rows


def _in_transaction(sql: str, params: Params, conn: sqlite3.Connection) -> list[Row]:
    """``BEGIN IMMEDIATE``, the statement, ``COMMIT`` (``ROLLBACK`` if any of it fails)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        rows: list[Row] = conn.execute(sql, params).fetchall()
        conn.execute("COMMIT")
    except BaseException:
        _end_open_transaction(conn)
        raise
    return rows


def _end_open_transaction(conn: sqlite3.Connection) -> None:
    """Roll back whatever transaction is still open on ``conn``: after a failed COMMIT, or
    a BEGIN that ran although the task waiting for it was cancelled. Left open, every later
    BEGIN on the writer would fail ("cannot start a transaction within a transaction")."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _execute(sql: str, params: Params, conn: sqlite3.Connection) -> int:
    with closing(conn.execute(sql, params)) as cursor:
        return cursor.rowcount


class SQLiteConnection(Connection):
    """Each statement is one call on aiosqlite's thread: executed, read and closed there.
    (aiosqlite's own cursors take a call each to execute, to fetch and to close: three
    hand-overs between threads a statement, which made a burst of commands queue on them.)"""

    def __init__(self, raw: aiosqlite.Connection) -> None:
        super().__init__()
        self._raw = raw

    async def _on_thread(self, work: Callable[[sqlite3.Connection], T]) -> T:
        with _sqlite_errors():
            # aiosqlite's one primitive: run a function on the connection's thread.
            run: Callable[..., Awaitable[T]] = self._raw._execute  # noqa: SLF001
            return await run(work, self._raw._conn)  # noqa: SLF001

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        return await self._on_thread(functools.partial(_fetchone, to_sqlite(sql), params))

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return await self._on_thread(functools.partial(_fetchall, to_sqlite(sql), params))

    async def execute(self, sql: str, params: Params = ()) -> int:
        return await self._on_thread(functools.partial(_execute, to_sqlite(sql), params))

    async def in_own_transaction(self, sql: str, params: Params) -> list[Row]:
        """The statement in a transaction of its own, all in one call on the thread."""
        return await self._on_thread(functools.partial(_in_transaction, to_sqlite(sql), params))

    async def end_open_transaction(self) -> None:
        await self._on_thread(_end_open_transaction)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        with _sqlite_errors():
            await self._raw.executemany(to_sqlite(sql), rows)

    def _savepoint(self) -> AbstractAsyncContextManager[None]:
        return nullcontext()  # a failed statement undoes itself; the transaction goes on


WAL_SIZE_LIMIT = 64 * 2**20


class SQLiteEngine(Engine):
    """One file in WAL mode: a *writer* connection runs every transaction, a *reader*
    answers plain reads (WAL lets it read the last commit while a transaction is open)."""

    name = "sqlite"

    def __init__(
        self, writer: aiosqlite.Connection, reader: aiosqlite.Connection, *, read_only: bool = False
    ) -> None:
        self._writer = writer
        self._raw_reader = reader
        self._read_only = read_only
        self._write_lock = asyncio.Lock()
        self.reader = SQLiteConnection(reader)

    @classmethod
    async def open(cls, path: Path) -> SQLiteEngine:
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = await _sqlite_connect(str(path))
        try:
            await _use_wal(writer)
            reader = await _sqlite_connect(str(path))
        except BaseException:
            await writer.close()
            raise
        return cls(writer, reader)

    @classmethod
    async def open_read_only(cls, path: Path) -> SQLiteEngine:
        """One connection that SQLite refuses any write on; no checkpoint at close."""
        conn = await aiosqlite.connect(_read_only_uri(path), uri=True, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        return cls(conn, conn, read_only=True)

    @asynccontextmanager
    async def transaction(self, *, serialised: bool = True) -> AsyncIterator[Connection]:
        """One writer at a time in this process (the lock), and across processes:
        ``BEGIN IMMEDIATE`` takes SQLite's write lock up front, so a check and the write
        that depends on it cannot be interleaved by anyone. Every transaction is
        serialised, whatever ``serialised`` says."""
        async with self._write_lock:
            conn = SQLiteConnection(self._writer)
            try:
                await conn.execute("BEGIN IMMEDIATE")
                yield conn
                await conn.execute("COMMIT")
            except BaseException:
                # Queued on the writer's thread behind the BEGIN or COMMIT it follows, so
                # it runs, and before the next transaction, even if this task is cancelled.
                await conn.end_open_transaction()
                raise

    async def write_statement(
        self, sql: str, params: Params, *, serialised: bool = True
    ) -> list[Row]:
        async with self._write_lock:
            return await SQLiteConnection(self._writer).in_own_transaction(sql, params)

    async def schema_version(self, conn: Connection) -> int:
        return int(await conn.fetchval("PRAGMA user_version"))

    async def set_schema_version(self, conn: Connection, version: int) -> None:
        await conn.execute(f"PRAGMA user_version = {int(version)}")

    async def size_bytes(self) -> int:
        pages = await self.reader.fetchval("PRAGMA page_count")
        size = await self.reader.fetchval("PRAGMA page_size")
        return int(pages) * int(size)

    async def journal_mode(self) -> str | None:
        return str(await self.reader.fetchval("PRAGMA journal_mode"))

    async def checkpoint(self) -> bool:
        """Copy the write-ahead log into the database file and empty it, so the file alone
        is whole (a copy or a backup of it needs no ``-wal``). False if it could not finish
        now (another process reading, a statement cut short still running); SQLite then
        completes it when the last connection closes or the file is next opened."""
        async with self._write_lock:
            try:
                row = await SQLiteConnection(self._writer).fetchone(
                    "PRAGMA wal_checkpoint(TRUNCATE)"
                )
            except sqlite3.OperationalError as error:
                log.info("WAL checkpoint not done now: %s", error)
                return False
        return row is not None and row[0] == 0

    async def close(self) -> str:
        """The reader closes first: a read cut short by a cancelled task can leave a
        statement open on it, and a checkpoint would then wait for it (``busy_timeout``)
        in vain."""
        if self._read_only:
            await self._writer.close()
            return "closed"
        await self._raw_reader.close()
        whole = await self.checkpoint()
        await self._writer.close()
        if whole:
            return "checkpointed (its WAL emptied) and closed"
        return "closed (SQLite completes the WAL checkpoint as it closes)"


def _read_only_uri(path: Path) -> str:
    return path.absolute().as_uri() + "?mode=ro"


WAL_SWITCH_ATTEMPTS = 6


async def _use_wal(conn: aiosqlite.Connection) -> None:
    """Switch the file to WAL. The switch needs the file to itself, and SQLite answers
    "database is locked" at once (the busy timeout does not apply) when several processes
    open a new file together, so it is retried a few times with backoff (at most ~1.6 s)."""
    for attempt in range(WAL_SWITCH_ATTEMPTS):
        try:
            await SQLiteConnection(conn).fetchval("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == WAL_SWITCH_ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.05 * 2**attempt)


async def _sqlite_connect(path: str) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
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
            await SQLiteConnection(conn).execute(f"PRAGMA {pragma}")
    except BaseException:
        await conn.close()
        raise
    return conn


# -- PostgreSQL: the SQL -------------------------------------------------------------------

# Quoted strings, quoted identifiers and comments: never rewritten.
_LITERAL = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*")
_PARAMETER = r"(?:\?|(?<!:):[A-Za-z_]\w*)"
_REWRITES = [
    (
        re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b", re.I),
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    ),
    (re.compile(r"\bINTEGER\b", re.I), "BIGINT"),
    (re.compile(r"\bREAL\b", re.I), "DOUBLE PRECISION"),
    (re.compile(rf"\bIS\s+NOT\s+(?={_PARAMETER})", re.I), "IS DISTINCT FROM "),
    (re.compile(rf"\bIS\s+(?={_PARAMETER})", re.I), "IS NOT DISTINCT FROM "),
    (re.compile(r"\bwindow\b", re.I), '"window"'),
]
_OPERAND = r"(?:'(?:[^']|'')*'|[\w.]+|\?|:\w+)"
_BOOLEAN_SUM = re.compile(rf"\bSUM\(\s*({_OPERAND}\s*(?:=|<>|!=|<=|>=|<|>)\s*{_OPERAND})\s*\)", re.I)
_PARAMETERS = re.compile(r"\?|(?<!:):([A-Za-z_]\w*)")
_NULL_TEST = re.compile(r"\s+IS\s+(?:NOT\s+)?NULL\b", re.I)
# The type a parameter tested only for NULL is given, by its value's Python type.
_NULL_TEST_CASTS: tuple[tuple[type, str], ...] = (
    (int, "::bigint"),  # bool too
    (float, "::double precision"),
    (str, "::text"),
    (bytes, "::bytea"),
)


@dataclass(frozen=True)
class _Statement:
    """A statement in PostgreSQL's spelling. ``pieces`` is the SQL split right after each
    parameter in ``null_tests`` (argument positions), where the cast for its value goes."""

    pieces: tuple[str, ...]
    null_tests: tuple[int, ...]
    names: tuple[str, ...] | None  # argument order of a ``:name`` statement

    def arguments(self, params: Params) -> list[Any]:
        if self.names is None:
            if isinstance(params, Mapping):
                raise TypeError("a statement with ? parameters takes a sequence")
            return list(params)
        if not isinstance(params, Mapping):
            raise TypeError("a statement with :name parameters takes a mapping")
        missing = [name for name in self.names if name not in params]
        if missing:
            raise KeyError(f"no value for the parameters {missing}")
        return [params[name] for name in self.names]

    def sql(self, args: Sequence[Any]) -> str:
        casts = [_null_test_cast(args[i]) for i in self.null_tests]
        return "".join(piece + cast for piece, cast in zip(self.pieces, [*casts, ""], strict=True))


def _null_test_cast(value: Any) -> str:
    if value is None:
        return "::text"
    for kind, cast in _NULL_TEST_CASTS:
        if isinstance(value, kind):
            return cast
    raise TypeError(f"no PostgreSQL type for a {type(value).__name__} tested for NULL")


def _segments(sql: str) -> Iterator[tuple[str, bool]]:
    """``sql`` cut into code and literals (quoted strings and names, comments): (text, is literal)."""
    position = 0
    for literal in _LITERAL.finditer(sql):
        yield sql[position : literal.start()], False
        yield literal.group(), True
        position = literal.end()
    yield sql[position:], False


@functools.lru_cache(maxsize=1024)
def _translate(sql: str) -> _Statement:
    sql = _BOOLEAN_SUM.sub(r"SUM(CASE WHEN \1 THEN 1 ELSE 0 END)", sql)  # spans literals
    pieces = [""]  # a new piece starts after each parameter tested for NULL
    null_tests: list[int] = []
    names: list[str] = []
    positional = 0
    for text, is_literal in _segments(sql):
        if is_literal:
            pieces[-1] += text
            continue
        for pattern, replacement in _REWRITES:
            text = pattern.sub(replacement, text)
        cursor = 0
        for parameter in _PARAMETERS.finditer(text):
            name = parameter.group(1)
            if name is None:
                index, positional = positional, positional + 1
            else:
                if name not in names:
                    names.append(name)
                index = names.index(name)
            pieces[-1] += f"{text[cursor : parameter.start()]}${index + 1}"
            cursor = parameter.end()
            if _NULL_TEST.match(text, cursor):
                null_tests.append(index)
                pieces.append("")
        pieces[-1] += text[cursor:]
    if positional and names:
        raise ValueError("a statement uses ? or :name parameters, not both")
    return _Statement(tuple(pieces), tuple(null_tests), tuple(names) if names else None)


def to_postgres(sql: str, params: Params = ()) -> tuple[str, list[Any]]:
    """``sql`` (SQLite's spelling, see the module) and its parameters, for asyncpg."""
    statement = _translate(sql)
    args = statement.arguments(params)
    return statement.sql(args), args


# -- PostgreSQL: connections -----------------------------------------------------------------

PgConnection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"
STATEMENT_TIMEOUT = 30.0  # seconds one statement (or waiting for the write lock) may take
CONNECT_TIMEOUT = 10.0
CONNECT_ATTEMPTS = 5  # at start, while the server may still be coming up
READERS = 4  # connections for plain reads
LOCKERS = 2  # connections for transactions that rely on row locks
# The key of the transaction-scoped advisory lock every write transaction holds.
WRITE_LOCK = 0x5EED_0001


def _postgres_errors() -> AbstractContextManager[None]:
    return _constraint_errors(asyncpg.IntegrityConstraintViolationError)


class PostgresConnection(Connection):
    """Runs statements on the connection ``acquire`` lends: the transaction's own, or one
    of the readers' pool for each plain read."""

    def __init__(self, acquire: Callable[[], AbstractAsyncContextManager[PgConnection]]) -> None:
        super().__init__()
        self._acquire = acquire

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        query, args = to_postgres(sql, params)
        async with self._acquire() as raw:
            with _postgres_errors():
                return await raw.fetchrow(query, *args)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        query, args = to_postgres(sql, params)
        async with self._acquire() as raw:
            with _postgres_errors():
                return list(await raw.fetch(query, *args))

    async def execute(self, sql: str, params: Params = ()) -> int:
        query, args = to_postgres(sql, params)
        async with self._acquire() as raw:
            with _postgres_errors():
                status = await raw.execute(query, *args)
        count = status.rsplit(" ", 1)[-1]  # "UPDATE 3", "INSERT 0 1", "CREATE TABLE"
        return int(count) if count.isdigit() else 0

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        statement = _translate(sql)
        batch = [statement.arguments(params) for params in rows]
        async with self._acquire() as raw:
            with _postgres_errors():
                if statement.null_tests:  # the SQL depends on each row's values
                    for args in batch:
                        await raw.execute(statement.sql(args), *args)
                elif batch:
                    await raw.executemany(statement.sql(batch[0]), batch)

    @asynccontextmanager
    async def _savepoint(self) -> AsyncIterator[None]:
        async with self._acquire() as raw, raw.transaction():  # nested: a SAVEPOINT
            yield


class PostgresEngine(Engine):
    """A writer pool of one connection runs every serialised transaction (a pool, so a
    connection the server dropped is replaced); a pool of two runs the transactions that
    rely on row locks (``serialised=False``: claims, provider tokens, lease renewals), so
    they never wait for this process's other writes either; a pool of readers answers
    plain reads, each statement in its own implicit transaction, so it sees committed data
    only (READ COMMITTED)."""

    name = "postgresql"

    def __init__(
        self,
        writer: asyncpg.Pool[asyncpg.Record],
        lockers: asyncpg.Pool[asyncpg.Record],
        readers: asyncpg.Pool[asyncpg.Record],
    ) -> None:
        self._pools = (writer, lockers, readers)
        self.reader = PostgresConnection(readers.acquire)
        self._versioned = True  # the schema_version table exists

    @classmethod
    async def open(cls, url: str, *, read_only: bool = False) -> PostgresEngine:
        """Read-only: one connection on which the server refuses every write (its
        transactions are READ ONLY), and the schema version of a database the bot never
        started on reads 0."""
        log.info("database: PostgreSQL at %s", redacted_url(url))
        if read_only:
            pool = await _pool(url, size=1, read_only=True)
            engine = cls(pool, pool, pool)
            try:
                engine._versioned = bool(
                    await engine.reader.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
                )
            except BaseException:
                await engine.close()
                raise
            return engine
        pools: list[asyncpg.Pool[asyncpg.Record]] = []
        try:
            for size in (1, LOCKERS, READERS):
                pools.append(await _pool(url, size=size))
        except BaseException:
            for opened in pools:
                await opened.close()
            raise
        engine = cls(*pools)
        try:
            async with engine.transaction() as conn:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
                )
        except BaseException:
            await engine.close()
            raise
        return engine

    @asynccontextmanager
    async def transaction(self, *, serialised: bool = True) -> AsyncIterator[Connection]:
        """One writer at a time, across connections and processes: the transaction first
        takes a transaction-scoped advisory lock (`WRITE_LOCK`), which PostgreSQL releases
        at COMMIT or ROLLBACK, after the commit is visible to everyone. So a transaction
        sees every write committed before it started, and a check and the write that
        depends on it can't be interleaved: exactly SQLite's ``BEGIN IMMEDIATE``, so the
        engines behave alike and every check-then-write (quota admission, compare-and-set
        transitions) stays correct without a lock of its own.

        Why not SERIALIZABLE with retries: a serialisation failure must re-run the whole
        transaction, and a ``with`` block can't be re-run; callers also act outside the
        database within one (they schedule background work, raise refusals). The cost,
        one writer at a time, is what SQLite has always had; transactions are short.

        Where several processes contend, work that locks the rows it touches instead
        (``FOR UPDATE SKIP LOCKED`` to claim due jobs) asks for ``serialised=False``: no
        advisory lock, on a connection of its own, so claims never queue behind other
        writers, in this process or any other."""
        writer, lockers, _ = self._pools
        async with (writer if serialised else lockers).acquire() as raw, raw.transaction():
            if serialised:
                await raw.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK)
            yield PostgresConnection(lambda: nullcontext(raw))

    async def schema_version(self, conn: Connection) -> int:
        if not self._versioned:
            return 0
        return int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version"))

    async def set_schema_version(self, conn: Connection, version: int) -> None:
        await conn.execute("DELETE FROM schema_version")
        await conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))

    async def size_bytes(self) -> int:
        return int(await self.reader.fetchval("SELECT pg_database_size(current_database())"))

    async def journal_mode(self) -> str | None:
        return None  # the server keeps (and checkpoints) its own write-ahead log

    async def close(self) -> str:
        for pool in dict.fromkeys(reversed(self._pools)):  # each once (read-only: one)
            await pool.close()
        return "connections to PostgreSQL closed"


@dataclass(frozen=True)
class PostgresAccess:
    """What the doctor says about a PostgreSQL database."""

    server: str  # "PostgreSQL 16.4"
    user: str
    refusal: str | None  # why the bot could not write there, if it could not


async def postgres_access(conn: Connection) -> PostgresAccess:
    """The server's version, who we are, and whether we may create the bot's tables (a new
    database) or write them (one the bot already uses)."""
    row = await conn.fetchone(
        "SELECT current_setting('server_version') AS version, current_user AS who, "
        "has_schema_privilege(current_schema(), 'CREATE') AS may_create, "
        "to_regclass('jobs') IS NOT NULL AS has_jobs"
    )
    assert row is not None
    refusal = None
    if row["has_jobs"]:
        if not await conn.fetchval("SELECT has_table_privilege('jobs', 'INSERT, UPDATE, DELETE')"):
            refusal = "this user may not write the bot's tables (grant INSERT, UPDATE, DELETE)"
    elif not row["may_create"]:
        refusal = "this user may not create tables in the schema (grant CREATE on it)"
    version = str(row["version"]).split()[0]
    return PostgresAccess(f"PostgreSQL {version}", str(row["who"]), refusal)


async def _pool(url: str, *, size: int, read_only: bool = False) -> asyncpg.Pool[asyncpg.Record]:
    """A pool whose first connection is made with bounded retries: a server that is still
    starting (or a network blip) gets a few seconds; a refusal (bad password) fails at once."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=size,
                timeout=CONNECT_TIMEOUT,
                command_timeout=STATEMENT_TIMEOUT,
                init=_numbers_as_python_numbers,
                server_settings={"default_transaction_read_only": "on"} if read_only else None,
            )
        except (OSError, asyncpg.CannotConnectNowError, TimeoutError) as error:
            if attempt == CONNECT_ATTEMPTS:
                raise _unavailable(url, error) from None
            await asyncio.sleep(full_jitter(attempt, base=0.5, cap=4.0))
        except (asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as error:
            raise _unavailable(url, error) from None


def _unavailable(url: str, error: BaseException) -> DatabaseUnavailable:
    detail = _redact(f"{type(error).__name__}: {error}", url)
    return DatabaseUnavailable(f"cannot use the database at {redacted_url(url)}: {detail}")


async def _numbers_as_python_numbers(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    await conn.set_type_codec(
        "numeric", schema="pg_catalog", format="text", encoder=str, decoder=_number
    )


def _number(text: str) -> int | float:
    return int(text) if text.lstrip("-").isdigit() else float(text)


def url_secrets(url: str) -> list[str]:
    """The password of a database URL (in its user part or a ``password=`` query
    parameter) as written and decoded, longest first: what logs and errors must not show."""
    parts = urlsplit(url)
    passwords = [parts.password or "", *parse_qs(parts.query).get("password", [])]
    forms = {form for p in passwords for form in (p, unquote(p)) if form}
    return sorted(forms, key=len, reverse=True)


def redacted_url(url: str) -> str:
    """``url`` with its password replaced by ``***``: safe to log and show."""
    return _redact(url, url)


def _redact(text: str, url: str) -> str:
    for secret in url_secrets(url):
        text = text.replace(secret, "***")
    return text
