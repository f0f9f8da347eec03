"""The engine each database test runs on, and where its database is.

Every test that uses ``database_location`` (itself or through ``db``, ``services``,
``video_settings``...) runs once per engine, as ``test[sqlite]`` and ``test[postgresql]``;
``pytest --database sqlite`` (or ``postgresql``) runs only one half, and
``@pytest.mark.engines("postgresql")`` keeps a test to the engines it names.

- ``database_engine``: ``"sqlite"`` or ``"postgresql"``.
- ``database_location``: this test's own new database: a file path (SQLite: created and
  migrated when first opened) or the URL of a database at the current schema on the
  session's server (PostgreSQL); give it to `Database.open` or, through `settings_for` /
  `environment_for`, to the bot.
- ``empty_database_location``: the same, but empty on both engines (migration tests).
- ``postgres_server``: the session's throwaway server (`tests.support.postgres`), started
  when the first PostgreSQL test needs it and removed at the end.

Without PostgreSQL server binaries the PostgreSQL half skips, saying why; on CI (``CI``
set, as ``.ci/run`` does) it fails instead: CI must test both engines.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.postgres import PostgresServer, ServerUnavailable

ENGINES = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database",
        choices=("both", *ENGINES),
        default="both",
        help="the database engine(s) the database tests run on (default: both)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "engines(*names): run this database test on these engines only"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_engine" in metafunc.fixturenames:
        choice = metafunc.config.getoption("--database")
        engines = ENGINES if choice == "both" else (choice,)
        only = metafunc.definition.get_closest_marker("engines")
        if only is not None:
            engines = tuple(engine for engine in engines if engine in only.args)
        metafunc.parametrize("database_engine", engines, indirect=True)


def on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture
def database_engine(request: pytest.FixtureRequest) -> str:
    engine: str = request.param
    return engine


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer.start()
    except ServerUnavailable as reason:
        if on_ci():
            pytest.fail(f"CI must test PostgreSQL: {reason}")
        pytest.skip(str(reason))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def database_location(
    database_engine: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[str | Path]:
    async with _new_database(database_engine, request, tmp_path, migrated=True) as location:
        yield location


@pytest.fixture
async def empty_database_location(
    database_engine: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[str | Path]:
    async with _new_database(database_engine, request, tmp_path, migrated=False) as location:
        yield location


@asynccontextmanager
async def _new_database(
    engine: str, request: pytest.FixtureRequest, tmp_path: Path, *, migrated: bool
) -> AsyncIterator[str | Path]:
    if engine == "sqlite":
        yield tmp_path / "bot.sqlite3"  # created, and migrated, when it is opened
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    async with server.new_database(migrated=migrated) as url:
        yield url


def settings_for(location: str | Path) -> dict[str, Any]:
    """The `Settings` fields that point the bot at ``location``."""
    if isinstance(location, Path):
        return {"database_path": location}
    return {"database_url": location}


def environment_for(location: str | Path) -> dict[str, str]:
    """The environment variables that point ``python -m bot`` at ``location``."""
    return {name.upper(): str(value) for name, value in settings_for(location).items()}
