"""The one way the bot starts fire-and-forget work.

`BackgroundTasks.spawn` keeps a reference to every task (asyncio only keeps weak ones, so
an unreferenced task can vanish mid-flight), logs its exception instead of letting it die
silently, and `close` cancels and awaits whatever is left at shutdown. Tasks spawned with a
``key`` can be looked up: `running(key)` tells whether one is already under way.
`run_passes` is the one loop of the background workers that look again on a wake or after
a while (the review desk, the storyboard director, the challenge runner).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from typing import Any, NoReturn

log = logging.getLogger(__name__)


class BackgroundTasks:
    def __init__(self, name: str) -> None:
        self.name = name
        self._tasks: set[asyncio.Task[Any]] = set()
        self._keyed: dict[Hashable, asyncio.Task[Any]] = {}
        self._closed = False

    def spawn(
        self, coro: Coroutine[Any, Any, Any], *, name: str, key: Hashable | None = None
    ) -> asyncio.Task[Any]:
        """Run ``coro`` in the background; its failure is logged under ``name``."""
        if self._closed:
            coro.close()
            raise RuntimeError(f"{self.name}: closed, can't start {name}")
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.name}:{name}")
        self._tasks.add(task)
        if key is not None:
            self._keyed[key] = task
        task.add_done_callback(lambda done: self._done(done, key))
        return task

    def running(self, key: Hashable) -> asyncio.Task[Any] | None:
        task = self._keyed.get(key)
        return task if task is not None and not task.done() else None

    def keys(self) -> list[Hashable]:
        """The keys of the keyed tasks still running."""
        return [key for key, task in self._keyed.items() if not task.done()]

    def release(self, key: Hashable) -> None:
        """The keyed task goes on, but no longer counts as `running` under ``key``."""
        self._keyed.pop(key, None)

    def cancel(self, key: Hashable) -> None:
        task = self._keyed.pop(key, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._tasks)

    def _done(self, task: asyncio.Task[Any], key: Hashable | None) -> None:
        self._tasks.discard(task)
        if key is not None and self._keyed.get(key) is task:
            del self._keyed[key]
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("background task %s failed", task.get_name(), exc_info=error)

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until every task started so far (and any they start) has finished, or
        ``timeout`` seconds have passed; True if they all finished."""
        try:
            async with asyncio.timeout(timeout):
                while self._tasks:
                    await asyncio.wait(list(self._tasks))
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Cancel what is still running and wait for it; later spawns are refused."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def run_passes(
    name: str, one_pass: Callable[[], Awaitable[float | None]], wake: asyncio.Event, *, retry: float
) -> NoReturn:
    """Run ``one_pass`` again and again: after each, wait for ``wake`` or for the seconds
    the pass returned (None: for the wake alone). A pass that fails is logged and run again
    after ``retry`` seconds, so one bad pass (the database or Discord away) never ends the
    loop."""
    while True:
        wake.clear()  # before the pass, so a wake while it runs is never lost
        try:
            delay = await one_pass()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: a pass failed; again in %g s", name, retry)
            delay = retry
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
        # that arrives as the wake does, and stopping would then wait forever.
        try:
            async with asyncio.timeout(None if delay is None else max(0.0, delay)):
                await wake.wait()
        except TimeoutError:
            pass
