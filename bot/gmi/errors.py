"""The GMI client's error taxonomy and the text cleaning every provider string goes through.

Show users ``err.message``; ``str(err)`` adds operator detail and belongs in logs. Neither ever
holds the API key: every provider string is passed through :func:`clean_text` first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

NO_REASON = "the provider gave no reason"
REDACTED = "[redacted]"
MAX_TEXT = 300

_URL = re.compile(r"""\bhttps?://[^\s"'<>)\]]+""", re.IGNORECASE)
# "key=...", "token: ...", "Bearer ...", "Authorization: ..." and friends: redact the value.
_LABELLED_SECRET = re.compile(
    r"""(?ix)
    \b(
        (?:authorization|bearer)\s*[:=]?\s*(?:bearer\s+)?
      | (?:api[_-]?key|apikey|access[_-]?token|token|secret|password|signature|credential|sig)
        ["']?\s*[:=]\s*["']?
    )
    [^\s"',;&]{6,}
    """
)
# Long opaque strings that mix letters and digits: keys, JWTs, signatures.
_LONG_TOKEN = re.compile(r"[A-Za-z0-9_\-+=~]{32,}")
# Keys shaped like "sk-..." are redacted whatever their length.
_PREFIXED_KEY = re.compile(r"\b(?:sk|pk|rk)[-_][A-Za-z0-9_\-]{8,}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def _redact_url(match: re.Match[str]) -> str:
    url = match.group(0)
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    path = parts.path
    if parts.query or parts.fragment:
        # A query on a result URL is a signature: the link is useless and risky without it.
        return urlunsplit((parts.scheme, host, path, "", "")) + "?" + REDACTED
    return urlunsplit((parts.scheme, host, path, "", ""))


def _redact_long_token(match: re.Match[str]) -> str:
    token = match.group(0)
    if _UUID.fullmatch(token) or "://" in token:
        return token
    has_digit = any(c.isdigit() for c in token)
    has_alpha = any(c.isalpha() for c in token)
    return REDACTED if has_digit and has_alpha else token


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove ``secrets`` verbatim, URL query strings, labelled secrets and long tokens."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = _URL.sub(_redact_url, text)
    text = _LABELLED_SECRET.sub(lambda m: m.group(1) + REDACTED, text)
    text = _PREFIXED_KEY.sub(REDACTED, text)
    return _LONG_TOKEN.sub(_redact_long_token, text)


def clean_text(text: object, secrets: Iterable[str] = (), limit: int = MAX_TEXT) -> str:
    """Make provider text safe to show: redacted, on one line, at most ``limit`` characters."""
    if text is None:
        return ""
    cleaned = _SPACES.sub(" ", redact(str(text), secrets)).strip()
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1].rstrip() + "…"
    return cleaned


class GMIError(Exception):
    """Base of every error the GMI client raises.

    ``message`` is safe to show a Discord user; ``detail`` is for operators (already cleaned).
    ``ambiguous`` is true when a submit may have created a request upstream despite the error.
    """

    default_message = "The video service failed."

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        detail: str | None = None,
        ambiguous: bool = False,
        call: str | None = None,
        attempts: int = 1,
    ) -> None:
        self.message = message or self.default_message
        self.status = status
        self.detail = detail or ""
        self.ambiguous = ambiguous
        self.call = call
        self.attempts = attempts
        super().__init__(self.message)

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.detail and self.detail != self.message:
            parts.append(self.detail)
        if self.call:
            parts.append(f"call={self.call}")
        if self.attempts > 1:
            parts.append(f"attempts={self.attempts}")
        if self.ambiguous:
            parts.append("ambiguous")
        return " | ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, message={self.message!r}, "
            f"detail={self.detail!r}, ambiguous={self.ambiguous!r}, call={self.call!r})"
        )


class InvalidRequest(GMIError):
    """400: the provider refused the payload (bad parameter, content policy). Not retried."""

    default_message = "The video service refused the request."


class AuthError(GMIError):
    """401/403: the API key or organisation is wrong. Users get a generic message."""

    default_message = (
        "The video service is not configured correctly; the bot's operator has been told."
    )


class NotFound(GMIError):
    """404: unknown request or model, or the account lacks access to the model."""

    default_message = "The video service does not know that request or model."


class RateLimited(GMIError):
    """429: too many requests. ``retry_after`` is in seconds when the provider said."""

    default_message = "The video service is busy right now; try again in a little while."

    def __init__(
        self, message: str | None = None, *, retry_after: float | None = None, **kw: Any
    ) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ProviderError(GMIError):
    """5xx: trouble on the provider's side. ``wrapped_status`` is set when the message wraps
    a backend client error (``Backend error (400)``): the request was refused, not lost."""

    default_message = "The video service had a problem; try again in a little while."

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        wrapped_status: int | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after
        self.wrapped_status = wrapped_status


class NetworkError(GMIError):
    """No usable answer: connection refused or dropped, timeout, malformed JSON."""

    default_message = "The video service could not be reached; try again in a little while."
