"""Moderators' free-text option values that the domain layer takes as numbers."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from bot.durations import parse_duration
from bot.errors import InvalidInput

_NO_EXPIRY = {"", "never", "none", "permanent", "forever"}


def parse_expiry(text: str | None, now: float) -> float | None:
    """``30m``, ``12h``, ``1d12h``, ``2w`` (any `parse_duration` text) from ``now`` as a
    Unix time; None: no expiry."""
    raw = (text or "").strip().lower()
    if raw in _NO_EXPIRY:
        return None
    try:
        seconds = parse_duration(raw)
    except ValueError:
        raise InvalidInput(
            f"`{raw[:40]}` is not a length of time: use e.g. `30m`, `12h`, `7d`, `2w` or "
            "`1d12h` (or leave it empty for no expiry)."
        ) from None
    if seconds <= 0:
        raise InvalidInput("The block must last longer than that.")
    return now + seconds


def parse_deadline(text: str, now: float, timezone: str) -> float:
    """A length of time from ``now`` (``2d``, ``12h``, ``1w``) or a date and time
    (``2026-12-24 18:00``, in the server's ``timezone``) as a Unix time."""
    raw = text.strip()
    try:
        return now + parse_duration(raw)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(
            f"`{raw[:40]}` is neither a length of time (`2d`, `12h`, `1w`) nor a date and "
            "time (`2026-12-24 18:00`, in the server's time zone)."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(timezone))
    return moment.timestamp()
