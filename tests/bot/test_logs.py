"""The bot token and the API key never reach the log output."""

from __future__ import annotations

import io
import logging

import pytest

from bot.logs import SecretFilter, configure_logging

TOKEN = "MTIzNDU2.bot-token-secret"
KEY = "gmi-key-0123456789abcdef"


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    levels = {name: logging.getLogger(name).level for name in ("aiosqlite", "asyncpg", "discord.gateway")}
    yield
    root.handlers[:], root.level = saved
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_secrets_are_redacted_from_messages_arguments_and_tracebacks(monkeypatch, restore_logging):
    stream = io.StringIO()
    configure_logging("DEBUG", secrets=(TOKEN, KEY))
    handler = logging.getLogger().handlers[0]
    monkeypatch.setattr(handler, "stream", stream)
    log = logging.getLogger("discord.http")
    log.info("sending Authorization: Bot %s", TOKEN)
    try:
        raise RuntimeError(f"GMI said: bad key {KEY}")
    except RuntimeError:
        log.exception("call failed")
    output = stream.getvalue()
    assert TOKEN not in output and KEY not in output
    assert output.count("[redacted]") == 2
    assert "RuntimeError" in output


def test_short_values_are_not_treated_as_secrets():
    assert SecretFilter(["", "ab"]).redact("a b ab") == "a b ab"
