"""The few pieces of text the bot writes in more than one place: timestamps that each
reader sees in their own time zone, amounts of money, and counted nouns."""

from __future__ import annotations

from datetime import UTC, datetime

from discord.utils import TimestampStyle, format_dt


def discord_time(ts: float, style: TimestampStyle = "R") -> str:
    """A Discord timestamp for Unix time ``ts`` (``R``: "in 2 hours", ``f``: date and time)."""
    return format_dt(datetime.fromtimestamp(ts, UTC), style)


def when(ts: float) -> str:
    """``in 2 hours (4 March 2026 14:00)``: relative, then the date and time."""
    return f"{discord_time(ts, 'R')} ({discord_time(ts, 'f')})"


def money(amount: float, currency: str) -> str:
    """An estimated cost or budget as members and moderators read it: ``0.80 USD``."""
    return f"{amount:.2f} {currency}"


def plural(count: float, noun: str, many: str | None = None) -> str:
    """``1 video``, ``2 videos``, ``1.5 seconds``; ``many`` when adding an s won't do."""
    word = noun if count == 1 else many or f"{noun}s"
    return f"{count:g} {word}"
