"""Lengths of time as moderators type them, for cooldowns and block expiries alike."""

from __future__ import annotations

import re

_UNIT_SECONDS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), 7 * 86400),
}
_NUMBER = r"\d+(?:\.\d+)?"
_PART = re.compile(rf"({_NUMBER})\s*([a-z]+)")
_SPAN = re.compile(rf"(?:{_NUMBER}\s*[a-z]+[\s,]*)+")


def parse_duration(text: str) -> int:
    """Whole seconds in ``text``: plain seconds (``90``), or amounts with units, alone or
    combined: ``30s``, ``5m``, ``1.5h``, ``1h30m``, ``1d12h``, ``2w``, ``5 minutes``,
    ``1 hour 30 minutes``. Raises `ValueError` for anything else."""
    raw = text.strip().lower()
    if re.fullmatch(_NUMBER, raw):
        return int(float(raw))
    if not _SPAN.fullmatch(raw):
        raise ValueError(f"not a length of time: {text!r}")
    total = 0.0
    for amount, unit in _PART.findall(raw):
        if unit not in _UNIT_SECONDS:
            raise ValueError(f"unknown unit of time: {unit!r}")
        total += float(amount) * _UNIT_SECONDS[unit]
    return int(total)
