"""Shared pytest setup: fixture plugins, one line each."""

pytest_plugins = [
    "tests.fakecord.fixtures",
    "tests.gmi_fixtures",
    "tests.video_fixtures",
    "tests.domain_fixtures",
]
