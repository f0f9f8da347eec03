"""The database API on each engine: one behaviour for the SQL repositories write, and
transactions that serialise across connections (as several bot processes will)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from bot.db.database import ConstraintViolation, Database, DatabaseUnavailable
from bot.db.dialect import WRITE_LOCK
from bot.db.migrations import MIGRATIONS
from tests.support.postgres import PASSWORD

SNOWFLAKE = 1_234_567_890_123_456_789  # a Discord id: needs 64 bits
NOW = 1_772_625_600.123456  # a Unix time with microseconds: needs a double

SCRATCH = """
    CREATE TABLE scratch (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        guild_id INTEGER,
        name     TEXT NOT NULL UNIQUE,
        at       REAL NOT NULL,
        window   TEXT
    )
"""


@pytest.fixture
async def scratch(db: Database) -> Database:
    async with db.transaction() as conn:
        await conn.execute(SCRATCH)
    return db


async def add(conn, name: str, guild_id: int | None = SNOWFLAKE) -> int:
    return await conn.insert(
        "INSERT INTO scratch (guild_id, name, at, window) VALUES (?, ?, ?, 'day') RETURNING id",
        (guild_id, name, NOW),
    )


async def test_rows_read_by_name_and_position_with_ids_and_times_intact(scratch):
    async with scratch.transaction() as conn:
        first = await add(conn, "a")
        second = await add(conn, "b", guild_id=None)
    assert second == first + 1
    row = await scratch.reader.fetchone("SELECT * FROM scratch WHERE id = ?", (first,))
    assert (row["guild_id"], row["name"], row["at"], row["window"]) == (SNOWFLAKE, "a", NOW, "day")
    assert row[0] == first and len(row) == 5
    id_, guild_id, *_ = row
    assert (id_, guild_id) == (first, SNOWFLAKE)
    assert await scratch.reader.fetchval("SELECT name FROM scratch WHERE id = ?", (404,)) is None
    assert [r["name"] for r in await scratch.reader.fetchall("SELECT name FROM scratch ORDER BY id")] == ["a", "b"]


async def test_execute_counts_the_rows_it_changed(scratch):
    async with scratch.transaction() as conn:
        await conn.executemany(
            "INSERT INTO scratch (name, at) VALUES (?, ?)", [("a", 1.0), ("b", 2.0), ("c", 3.0)]
        )
        assert await conn.execute("UPDATE scratch SET at = ? WHERE at < ?", (0.0, 2.5)) == 2
        assert await conn.execute("DELETE FROM scratch WHERE name = ?", ("none",)) == 0


async def test_null_safe_comparisons_and_optional_filters(scratch):
    async with scratch.transaction() as conn:
        await add(conn, "in a server")
        await add(conn, "in the DMs", guild_id=None)
    by_guild = "SELECT name FROM scratch WHERE guild_id IS ?"
    assert await scratch.reader.fetchval(by_guild, (None,)) == "in the DMs"
    assert await scratch.reader.fetchval(by_guild, (SNOWFLAKE,)) == "in a server"
    optional = "SELECT COUNT(*) FROM scratch WHERE (? IS NULL OR name = ?)"
    assert await scratch.reader.fetchval(optional, (None, None)) == 2
    assert await scratch.reader.fetchval(optional, ("in the DMs", "in the DMs")) == 1
    named = "SELECT COUNT(*) FROM scratch WHERE (:guild IS NULL OR guild_id = :guild)"
    assert await scratch.reader.fetchval(named, {"guild": SNOWFLAKE}) == 1


async def test_sums_are_python_numbers_on_both_engines(scratch):
    async with scratch.transaction() as conn:
        for name in ("a", "b", "c"):
            await add(conn, name)
    row = await scratch.reader.fetchone(
        "SELECT SUM(name = 'a') AS a, SUM(guild_id) AS ids, COALESCE(SUM(at), 0) AS times, "
        "COALESCE(SUM(name = 'none'), 0) AS none FROM scratch"
    )
    assert (row["a"], row["ids"], row["none"]) == (1, 3 * SNOWFLAKE, 0)
    assert type(row["a"]) is int and type(row["ids"]) is int
    assert row["times"] == pytest.approx(3 * NOW)


async def test_a_broken_constraint_raises_one_error_and_rolls_back(scratch):
    with pytest.raises(ConstraintViolation):
        async with scratch.transaction() as conn:
            await add(conn, "first")
            await add(conn, "first")
    assert await scratch.reader.fetchval("SELECT COUNT(*) FROM scratch") == 0
    async with scratch.transaction() as conn:  # the writer is usable again
        await add(conn, "first")


@pytest.mark.parametrize("locking_rows", [False, True])
async def test_one_statement_is_a_transaction_of_its_own(scratch, locking_rows):
    """Committed when it returns, with the rows it returns; a failing one leaves nothing;
    and it never joins a transaction another task has open on the same connection."""
    rows = await scratch.write_statement(
        "INSERT INTO scratch (name, at) VALUES (?, ?), (?, ?) RETURNING name",
        ("a", 1.0, "b", 2.0), locking_rows=locking_rows,
    )  # fmt: skip
    assert [row["name"] for row in rows] == ["a", "b"]
    assert await scratch.reader.fetchval("SELECT COUNT(*) FROM scratch") == 2
    with pytest.raises(ConstraintViolation):
        await scratch.write_statement(
            "INSERT INTO scratch (name, at) VALUES (?, ?), (?, ?)", ("c", 3.0, "a", 4.0),
            locking_rows=locking_rows,
        )  # fmt: skip
    assert await scratch.reader.fetchval("SELECT COUNT(*) FROM scratch") == 2

    opened, undo = asyncio.Event(), asyncio.Event()

    async def rolled_back() -> None:
        with contextlib.suppress(RuntimeError):
            async with scratch.transaction() as conn:
                await add(conn, "undone")
                opened.set()
                await undo.wait()
                raise RuntimeError("rolled back")

    other = asyncio.create_task(rolled_back())
    await opened.wait()
    written = asyncio.create_task(
        scratch.write_statement("UPDATE scratch SET at = 9 WHERE name = 'a'", locking_rows=locking_rows)
    )
    undo.set()
    await asyncio.gather(other, written)
    assert await scratch.reader.fetchval("SELECT at FROM scratch WHERE name = 'a'") == 9.0
    assert await scratch.reader.fetchval("SELECT COUNT(*) FROM scratch") == 2


async def test_a_transaction_cancelled_as_it_begins_leaves_none_open(scratch):
    """A task cancelled while its BEGIN is on its way (a stop, a timeout) must not leave
    the writer inside a transaction: every later one would fail on SQLite."""

    async def cancelled_at_begin() -> None:
        async with scratch.transaction() as conn:
            await add(conn, "never")

    for _ in range(3):
        task = asyncio.create_task(cancelled_at_begin())
        await asyncio.sleep(0)  # it holds the lock and waits for its BEGIN
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    async with scratch.transaction() as conn:
        await add(conn, "next")
    names = await scratch.reader.fetchall("SELECT name FROM scratch")
    assert [row["name"] for row in names] == ["next"]


async def test_upserts_and_conflicts_do_nothing(scratch):
    async with scratch.transaction() as conn:
        await add(conn, "a")
        again = await conn.fetchone(
            "INSERT INTO scratch (name, at) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING id",
            ("a", 1.0),
        )
        await conn.execute(
            "INSERT INTO scratch (name, at) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET at = excluded.at",
            ("a", 5.0),
        )
    assert again is None
    assert await scratch.reader.fetchval("SELECT at FROM scratch WHERE name = 'a'") == 5.0


async def test_transactions_on_separate_connections_never_interleave(database_location):
    """Read, yield, write back +1: on two connections (two processes, to the database),
    forty of these lose no update, because each transaction waits for the one before."""
    first = await Database.open(database_location)
    second = await Database.open(database_location)
    try:
        async with first.transaction() as conn:
            await conn.execute(SCRATCH)
            await conn.execute("INSERT INTO scratch (name, at) VALUES ('counter', 0)")

        async def increment(db: Database) -> None:
            async with db.transaction() as conn:
                seen = await conn.fetchval("SELECT at FROM scratch WHERE name = 'counter'")
                await asyncio.sleep(0)  # let the other connection run between read and write
                await conn.execute("UPDATE scratch SET at = ? WHERE name = 'counter'", (seen + 1,))

        await asyncio.gather(*[increment(db) for _ in range(20) for db in (first, second)])
        assert await second.reader.fetchval("SELECT at FROM scratch") == 40
    finally:
        await first.close()
        await second.close()


@pytest.mark.engines("postgresql")
async def test_a_writer_on_another_connection_waits_for_the_commit(database_location):
    first = await Database.open(database_location)
    second = await Database.open(database_location)
    later: asyncio.Task[int] | None = None
    try:
        async with first.transaction() as conn:
            await conn.execute(SCRATCH)
        waiting = (
            "SELECT COUNT(*) FROM pg_locks JOIN pg_database ON pg_database.oid = database "
            "WHERE datname = current_database() AND locktype = 'advisory' AND NOT granted "
            "AND objid = ?"
        )
        async with first.transaction() as conn:
            await add(conn, "first")
            later = asyncio.create_task(_add_in_own_transaction(second, "second"))
            async with asyncio.timeout(10):  # until the second waits for the lock
                while not await first.reader.fetchval(waiting, (WRITE_LOCK,)):
                    assert not later.done()
                    await asyncio.sleep(0.01)
        # the second transaction saw the first one's row: it came after it
        assert await later == 1
    finally:
        if later is not None:
            await asyncio.wait([later])  # it ends once the first transaction did
        await first.close()
        await second.close()


async def _add_in_own_transaction(db: Database, name: str) -> int:
    async with db.transaction() as conn:
        seen = int(await conn.fetchval("SELECT COUNT(*) FROM scratch"))
        await add(conn, name)
    return seen


async def test_processes_that_start_at_once_migrate_once(empty_database_location):
    opened = await asyncio.gather(
        *[Database.open(empty_database_location) for _ in range(3)]
    )
    try:
        assert [await db.schema_version() for db in opened] == [len(MIGRATIONS)] * 3
    finally:
        for db in opened:
            await db.close()


@pytest.mark.engines("postgresql")
async def test_the_password_is_never_logged_nor_in_an_error(database_location, caplog):
    caplog.set_level(logging.DEBUG)
    db = await Database.open(database_location)
    await db.close()
    wrong = database_location.replace(PASSWORD, "not-the-password")
    with pytest.raises(DatabaseUnavailable) as refused:
        await Database.open(wrong)
    message = str(refused.value)
    assert "not-the-password" not in message and "***" in message
    assert "password authentication failed" in message
    assert "postgresql://bot:***@127.0.0.1" in caplog.text
    assert PASSWORD not in caplog.text and "not-the-password" not in caplog.text


async def test_the_reader_sees_only_committed_data(scratch):
    async with scratch.transaction() as conn:
        await add(conn, "pending")
        assert await conn.fetchval("SELECT COUNT(*) FROM scratch") == 1
        assert await scratch.reader.fetchval("SELECT COUNT(*) FROM scratch") == 0
    assert await scratch.reader.fetchval("SELECT COUNT(*) FROM scratch") == 1


async def test_after_commit_callbacks_run_after_the_commit_and_never_on_rollback(scratch):
    seen: list[int] = []

    async def count_now() -> None:
        seen.append(await scratch.reader.fetchval("SELECT COUNT(*) FROM scratch"))

    tasks: list[asyncio.Task[None]] = []
    async with scratch.transaction() as conn:
        await add(conn, "a")
        conn.after_commit(lambda: tasks.append(asyncio.ensure_future(count_now())))
        assert tasks == []
    await asyncio.gather(*tasks)
    assert seen == [1]  # the reader already saw the commit

    with pytest.raises(RuntimeError):
        async with scratch.transaction() as conn:
            conn.after_commit(lambda: seen.append(-1))
            raise RuntimeError("rolled back")
    assert seen == [1]


async def test_batched_work_commits_together_and_a_failing_piece_fails_alone(scratch):
    """Group commit on either engine: one piece that breaks a constraint (on PostgreSQL
    that would abort the whole transaction without its savepoint) gets its own error; the
    others commit, see each other in order, and their after-commit callbacks run once."""
    committed: list[str] = []

    def piece(name: str):
        async def work(conn):
            conn.after_commit(lambda: committed.append(name))
            before = await conn.fetchval("SELECT COUNT(*) FROM scratch")
            await add(conn, name)
            return before

        return work

    results = await asyncio.gather(
        scratch.batched(piece("a")),
        scratch.batched(piece("a")),  # the same name: UNIQUE refuses it
        scratch.batched(piece("b")),
        return_exceptions=True,
    )
    assert results[0] == 0 and results[2] == 1
    assert isinstance(results[1], ConstraintViolation)
    assert sorted(committed) == ["a", "b"]
    names = await scratch.reader.fetchall("SELECT name FROM scratch ORDER BY id")
    assert [row["name"] for row in names] == ["a", "b"]


async def test_read_only_opens_refuse_writes_and_read_the_schema(database_location):
    await (await Database.open(database_location)).close()
    db = await Database.open_read_only(database_location)
    try:
        assert await db.schema_version() == len(MIGRATIONS)
        with pytest.raises(Exception, match="(?i)read.only|readonly"):
            async with db.transaction() as conn:
                await conn.execute("CREATE TABLE nope (id INTEGER)")
    finally:
        await db.close()


async def test_size_and_journal_per_engine(database_location, database_engine):
    db = await Database.open(database_location)
    assert await db.size_bytes() > 0
    assert await db.journal_mode() == ("wal" if database_engine == "sqlite" else None)
    closed = await db.close()
    assert ("checkpointed" in closed) == (database_engine == "sqlite")


@pytest.mark.engines("postgresql")
async def test_work_on_locked_rows_does_not_wait_for_the_global_write_lock(scratch, database_location):
    """A claim (`Database.locking_rows`) goes ahead while another process holds a long
    serialised transaction; a row that transaction locked is skipped, not waited for."""
    async with scratch.transaction() as conn:
        await add(conn, "busy")
        await add(conn, "free")
    other = await Database.open(database_location)
    try:
        async with scratch.transaction() as conn:  # holds the write lock and the row "busy"
            await conn.execute("UPDATE scratch SET at = 0 WHERE name = 'busy'")
            async with asyncio.timeout(5), other.locking_rows() as claim:
                names = await claim.fetchall(
                    "SELECT name FROM scratch ORDER BY id FOR UPDATE SKIP LOCKED"
                )
        assert [row["name"] for row in names] == ["free"]
    finally:
        await other.close()
