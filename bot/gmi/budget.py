"""One budget for every call to the provider.

GMI counts requests per hour per organisation, by spending tier. One token bucket, shared by
submits, status checks and lists, spends the hourly budget: it refills continuously and
holds at most a minute's worth, so a burst never exhausts the hour. When tokens run short,
waiting calls go in priority order: submits first (a member is waiting to see their job
start), then the checks of jobs nearest their predicted finish. A 429 from the provider
empties the bucket and pauses it for the provider's Retry-After, so everything slows down
together instead of jobs failing.

It also bounds how many calls are in flight at once, sized from the rate and the observed
round trip (Little's law, with headroom), not a fixed number.

Processes that serve some of the bot's shards share the hourly budget: given a
`SharedTokens` (the database's `bot.db.provider_budget`), the bucket is one row for them
all. Each process then takes tokens from it in small batches, only as many as callers are
waiting for, and hands them out here in the same priority order; a 429 pauses every
process. A take that the database does not answer within `TAKE_TIMEOUT` is tried again
with backoff (one warning per outage): calls wait meanwhile, and no token the database did
not grant is ever spent.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from bot.backoff import full_jitter
from bot.clock import Clock
from bot.db.provider_budget import Taken

log = logging.getLogger(__name__)

SUBMIT = 0  # the priority class of a submit; checks and lists come after
CHECK = 1
LIST = 2
MIN_CONCURRENCY = 4
MAX_CONCURRENCY = 256
RTT_SMOOTHING = 0.2
DEFAULT_PAUSE = 5.0
MAX_TAKE = 32  # tokens one take from a shared bucket may ask for
TAKE_TIMEOUT = 5.0
TAKE_RETRY_CAP = 10.0
TOKENS_SPREAD = 300.0  # seconds over which `affordable` counts the tokens held


class SharedTokens(Protocol):
    """A token bucket several processes spend together (`bot.db.provider_budget`)."""

    async def take(self, wanted: int, *, rate: float, capacity: float, now: float) -> Taken: ...

    async def pause(self, until: float) -> None: ...


class ProviderBudget:
    def __init__(
        self, requests_per_hour: float, clock: Clock, shared: SharedTokens | None = None
    ) -> None:
        self.rate = requests_per_hour / 3600.0
        self.capacity = max(10.0, requests_per_hour / 60.0)
        self.clock = clock
        self.shared = shared
        # The tokens this process may spend: the whole bucket, or those taken from the shared one.
        self._tokens = self.capacity if shared is None else 0.0
        self._shared_left = 0.0  # what the shared bucket held after this process's last take
        self._refilled_at = clock()
        self._taking: asyncio.Task[None] | None = None
        self._pausing: set[asyncio.Task[None]] = set()
        self._paused_until = 0.0
        self._waiters: list[tuple[tuple[int, float], int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._in_flight = 0
        self._rtt = 0.5
        self._wakeup: asyncio.TimerHandle | None = None
        self.spent = 0
        self.rate_limited = 0

    @property
    def concurrency(self) -> int:
        """How many calls may be in flight: rate x round trip x 2, within bounds."""
        wanted = math.ceil(self.rate * self._rtt * 2)
        return min(max(wanted, MIN_CONCURRENCY), MAX_CONCURRENCY)

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def affordable(self) -> float:
        """Calls a second the budget can keep paying for: its refill, and the tokens it
        holds spread over `TOKENS_SPREAD` (a shared bucket's as its last take left them),
        so a load planned to it drains the bucket only slowly and keeps it for bursts."""
        self._refill(self.clock())
        return self.rate + (self._tokens + self._shared_left) / TOKENS_SPREAD

    def holds_submits(self) -> bool:
        """Submits wait for a token now (the rate limit, or a 429's pause, holds them)."""
        return any(kind == SUBMIT and not f.done() for (kind, _), _, f in self._waiters)

    @asynccontextmanager
    async def call(self, kind: int, key: float = 0.0) -> AsyncIterator[None]:
        """Spend one token (waiting in priority order ``(kind, key)``) and a call slot."""
        await self._acquire((kind, key))
        self._in_flight += 1
        started = self.clock()
        try:
            yield
        finally:
            self._in_flight -= 1
            elapsed = max(0.0, self.clock() - started)
            self._rtt += RTT_SMOOTHING * (elapsed - self._rtt)
            self._serve()

    def rate_limited_for(self, retry_after: float | None) -> None:
        """The provider said 429: no calls until it allows them again (in every process
        that shares the bucket)."""
        self.rate_limited += 1
        self._tokens = 0.0
        self._paused_until = max(self._paused_until, self.clock() + (retry_after or DEFAULT_PAUSE))
        if self.shared is not None:
            task = asyncio.get_running_loop().create_task(self._pause_everyone(self._paused_until))
            self._pausing.add(task)
            task.add_done_callback(self._pausing.discard)

    async def close(self) -> None:
        """Stop taking tokens from the shared bucket (at shutdown)."""
        tasks = [t for t in (self._taking, *self._pausing) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _pause_everyone(self, until: float) -> None:
        assert self.shared is not None
        try:
            async with asyncio.timeout(TAKE_TIMEOUT):
                await self.shared.pause(until)
        except Exception as error:  # this process pauses anyway; the others find their own 429
            log.warning("could not share the provider's 429 pause: %s", error)

    async def _acquire(self, priority: tuple[int, float]) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), future))
        self._serve()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._refund()
            raise

    def _refund(self) -> None:
        """A caller was cancelled just after being served: give its token back."""
        self._tokens = min(self.capacity, self._tokens + 1)
        self._serve()

    def _refill(self, now: float) -> None:
        if self.shared is not None:
            return  # tokens come from the shared bucket (`_take`)
        if now > self._refilled_at:
            self._tokens = min(self.capacity, self._tokens + (now - self._refilled_at) * self.rate)
            self._refilled_at = now

    def _serve(self) -> None:
        """Hand tokens to the waiters at the head of the queue, in priority order."""
        now = self.clock()
        self._refill(now)
        while self._waiters and self._waiters[0][2].done():
            heapq.heappop(self._waiters)  # cancelled while waiting
        while self._waiters and now >= self._paused_until:
            if self._in_flight >= self.concurrency or self._tokens < 1:
                break
            _, _, future = heapq.heappop(self._waiters)
            if future.done():
                continue
            self._tokens -= 1
            self.spent += 1
            future.set_result(None)
        self._schedule_wakeup(now)

    def _schedule_wakeup(self, now: float) -> None:
        if self._wakeup is not None:
            self._wakeup.cancel()
            self._wakeup = None
        if not self._waiters or self._in_flight >= self.concurrency:
            return  # a finishing call serves the queue
        if now < self._paused_until:
            delay = self._paused_until - now
        elif self.shared is not None:
            if self._taking is None or self._taking.done():
                self._taking = asyncio.get_running_loop().create_task(self._take())
            return  # the take serves the queue
        else:
            delay = max(0.0, (1 - self._tokens) / self.rate)
        self._wakeup = asyncio.get_running_loop().call_later(delay, self._serve)

    def _wanted(self) -> int:
        """Tokens to ask the shared bucket for: one per waiting caller that a free call
        slot could serve, less what is held, at most `MAX_TAKE` (never hoard)."""
        waiting = sum(1 for _, _, future in self._waiters if not future.done())
        free = self.concurrency - self._in_flight
        return max(0, min(waiting, free, MAX_TAKE) - math.floor(self._tokens))

    async def _take(self) -> None:
        """Take tokens from the shared bucket while callers wait for them."""
        assert self.shared is not None
        failures = 0
        while (wanted := self._wanted()) > 0:
            try:
                async with asyncio.timeout(TAKE_TIMEOUT):
                    taken = await self.shared.take(
                        wanted, rate=self.rate, capacity=self.capacity, now=self.clock()
                    )
            except Exception as error:  # a slow or unreachable database: calls wait
                failures += 1
                if failures == 1:
                    log.warning("provider budget: no tokens from the database (%r); waiting", error)
                await asyncio.sleep(full_jitter(failures, base=0.5, cap=TAKE_RETRY_CAP))
                continue
            if failures:
                log.info("provider budget: the database answers again")
                failures = 0
            self._tokens += taken.tokens
            self._shared_left = taken.left
            if not taken.tokens:  # come back when the bucket has one (or the pause ends)
                wait = max(taken.wait, 0.001)
                self._wakeup = asyncio.get_running_loop().call_later(wait, self._serve)
                return
            self._serve()
