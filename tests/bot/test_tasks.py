"""`run_passes`: the loop of the background workers survives a failing pass, looks again on
a wake at once and after the delay a pass asks for, and stops when cancelled."""

from __future__ import annotations

import asyncio

from bot.tasks import run_passes


class Passes:
    """A pass that records itself; ``results`` says what each pass returns or raises."""

    def __init__(self, *results: float | None | Exception) -> None:
        self.results = list(results)
        self.count = 0
        self.ran = asyncio.Event()

    async def __call__(self) -> float | None:
        self.count += 1
        self.ran.set()
        result = self.results.pop(0) if self.results else None
        if isinstance(result, Exception):
            raise result
        return result

    async def next_one(self) -> int:
        self.ran.clear()
        await asyncio.wait_for(self.ran.wait(), 5)
        return self.count


async def test_a_failing_pass_is_tried_again_a_delay_is_kept_and_a_wake_looks_at_once():
    wake = asyncio.Event()
    # 1: fails (again after `retry`), 2: asks to run again soon, 3: waits for a wake.
    passes = Passes(RuntimeError("the database is away"), 0.01, None)
    loop = asyncio.create_task(run_passes("test", passes, wake, retry=0.01))
    try:
        assert await passes.next_one() == 1
        assert await passes.next_one() == 2  # the failure did not end the loop
        assert await passes.next_one() == 3  # the delay the second pass asked for
        passes.ran.clear()
        wake.set()
        await asyncio.wait_for(passes.ran.wait(), 5)
        assert passes.count == 4
        assert not loop.done()
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
    assert loop.cancelled()
