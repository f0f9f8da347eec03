"""Shared pytest setup: fixture plugins, one line each."""

pytest_plugins = [
    "tests.fakecord.fixtures",
    "tests.support.gmi",
    "tests.support.database",
    "tests.support.video",
    "tests.support.domain",
    "tests.support.botprocess",
    "tests.support.media",
]
