"""The day, week and month a quota counts in, in the server's own time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from datetime import time as dtime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.quotas.catalogue import Window


def window_bounds(
    window: Window | str, now: float, timezone: str = "UTC", reset_hour: int = 0
) -> tuple[float, float]:
    """The window holding ``now``: days start at ``reset_hour`` local time, weeks on Monday
    at that hour, months on the 1st at that hour. Returns (start, end) as Unix times."""
    window = Window(window)
    zone: tzinfo
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    local = datetime.fromtimestamp(now, zone)

    def at(day: date) -> float:
        return datetime.combine(day, dtime(reset_hour), tzinfo=zone).timestamp()

    def step(day: date, n: int) -> date:
        if window is Window.DAY:
            return day + timedelta(days=n)
        if window is Window.WEEK:
            return day + timedelta(weeks=n)
        month = day.year * 12 + day.month - 1 + n
        return date(month // 12, month % 12 + 1, 1)

    if window is Window.DAY:
        start = local.date()
    elif window is Window.WEEK:
        start = local.date() - timedelta(days=local.weekday())
    else:
        start = local.date().replace(day=1)
    if at(start) > now:
        start = step(start, -1)
    return at(start), at(step(start, 1))
