"""Logging setup that can never print a secret: the bot token, the API key, or the token of
an interaction or webhook.

The first two are known at start and replaced wherever they appear. Interaction tokens are
new with every interaction (each one lets whoever holds it answer as the bot for 15
minutes), and discord.py logs every route it calls, tokens in the path, at DEBUG; so they
are found by their shape: the path segment after ``/webhooks/<id>/`` or
``/interactions/<id>/``, the value of a ``token`` field, and Discord's own token prefix.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

REDACTED = "[redacted]"

_TOKEN_SHAPES = (
    # a webhook or interaction route, in a URL or a path: keep the id, drop the token
    (re.compile(r"(/(?:webhooks|interactions)/\d+/)[\w.~%-]+"), rf"\1{REDACTED}"),
    # "token": "..." in JSON, 'token': '...' in a dict's repr, token=... in a query or repr
    (
        re.compile(r"""(\b\w*token["']?\s*[:=]\s*["']?)[\w.~%-]{8,}""", re.IGNORECASE),
        rf"\1{REDACTED}",
    ),
    # Discord's interaction tokens start with base64 "interaction:"
    (re.compile(r"aW50ZXJhY3Rpb246[\w-]*"), REDACTED),
)


class SecretFilter(logging.Filter):
    """Replaces every secret in a record's final text, whatever logged it (ours,
    discord.py's, aiohttp's), including exception text and tracebacks."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 4]

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        for shape, replacement in _TOKEN_SHAPES:
            text = shape.sub(replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = self.redact(record.getMessage())
        if record.exc_info:
            formatter = logging.Formatter()
            record.exc_text = self.redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        record.msg, record.args = message, None
        return True


def configure_logging(level: str, secrets: Iterable[str]) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")
    )
    handler.addFilter(SecretFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # These are chatty at DEBUG (every SQL statement, every heartbeat).
    for noisy in ("aiosqlite", "asyncpg", "discord.gateway"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.INFO))
