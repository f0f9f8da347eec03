"""The ``provider_budget`` row: the provider's hourly budget shared by every bot process.

GMI counts requests per hour per organisation, whichever process sends them, so processes
that share a database spend one token bucket held in one row (tokens, last refill, and the
pause a 429 imposed). Each take locks that row (``SELECT ... FOR UPDATE``, no global write
lock), refills it for the time that passed and takes what it can, so no token is ever
spent twice and the processes together never exceed the rate. Times are each process's
Unix clock: keep the machines' clocks in sync (NTP), as for every other time the bot stores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.db.database import Database


@dataclass(frozen=True)
class Taken:
    tokens: int  # how many were granted (at most what was asked for)
    wait: float  # when none were: seconds until one may be had (a refill, or a pause's end)
    left: float  # what the bucket holds after the take (for every process)


class ProviderBudgetRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def take(self, wanted: int, *, rate: float, capacity: float, now: float) -> Taken:
        """Up to ``wanted`` tokens from the shared bucket, which refills at ``rate`` per
        second up to ``capacity``."""
        async with self.db.locking_rows() as conn:
            row = await conn.fetchone(
                "SELECT tokens, refilled_at, paused_until FROM provider_budget WHERE id = 1 "
                "FOR UPDATE"
            )
            assert row is not None, "migration 8 inserts the row"
            tokens = min(capacity, row["tokens"] + max(0.0, now - row["refilled_at"]) * rate)
            if now < row["paused_until"]:
                granted, wait = 0, row["paused_until"] - now
            else:
                granted = min(wanted, math.floor(tokens))
                wait = 0.0 if granted else (1 - tokens) / rate
            await conn.execute(
                "UPDATE provider_budget SET tokens = ?, refilled_at = ? WHERE id = 1",
                (tokens - granted, max(now, row["refilled_at"])),
            )
        return Taken(granted, wait, tokens - granted)

    async def pause(self, until: float) -> None:
        """The provider said 429: every process waits until ``until``, and the bucket is
        empty then."""
        async with self.db.locking_rows() as conn:
            await conn.execute(
                "UPDATE provider_budget SET tokens = 0, paused_until = ? "
                "WHERE id = 1 AND paused_until < ?",
                (until, until),
            )
