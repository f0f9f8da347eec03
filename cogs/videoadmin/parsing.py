"""Moderators' free-text option values that the domain layer takes as numbers."""

from __future__ import annotations

import re

from bot.moderation import ModerationError

_SPAN_PART = re.compile(r"(\d+)\s*(w|d|h|m)", re.IGNORECASE)
_SPAN = re.compile(r"^(?:\s*\d+\s*[wdhm])+\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60}
_NO_EXPIRY = {"", "never", "none", "permanent", "forever"}


def parse_expiry(text: str | None, now: float) -> float | None:
    """``7d``, ``12h``, ``1d12h``, ``2w``, ``30m`` from ``now`` as a Unix time; None: no expiry."""
    raw = (text or "").strip().lower()
    if raw in _NO_EXPIRY:
        return None
    if not _SPAN.match(raw):
        raise ModerationError(
            f"`{raw[:40]}` is not a length of time: use e.g. `12h`, `7d`, `2w` or `1d12h` "
            "(or leave it empty for no expiry)."
        )
    seconds = sum(int(n) * _UNIT_SECONDS[unit.lower()] for n, unit in _SPAN_PART.findall(raw))
    if seconds <= 0:
        raise ModerationError("The block must last longer than that.")
    return now + seconds


def parse_job_reference(text: str) -> int:
    """A job as the autocomplete gives it (``42``) or as a member writes it (``#42``)."""
    raw = text.strip().lstrip("#").split(" ", 1)[0]
    if not raw.isdigit():
        raise ModerationError(f"`{text[:40]}` is not a job number: pick one from the list.")
    return int(raw)
