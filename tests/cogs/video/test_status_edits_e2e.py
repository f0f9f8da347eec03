"""Status messages under load stay within Discord's per-channel edit limit, and still end
showing how each job ended."""

from __future__ import annotations

import asyncio

from tests.support.video import final_status

JOBS = 12


async def test_a_burst_in_one_channel_keeps_to_five_edits_per_five_seconds(
    fakecord, video_bot, person
):
    await video_bot()
    alice = person()
    asked = await asyncio.gather(*[alice.generate(prompt=f"clip {n}") for n in range(JOBS)])
    statuses = [await alice.status_message(ix) for ix in asked]
    for status in statuses:
        await alice.wait_result(status, timeout=60)
        assert "is ready" in await final_status(fakecord, status, timeout=60)
    assert fakecord.max_channel_edits <= 5
    edits_refused = {
        route: n for (method, route), n in fakecord.rate_limited_by_route().items()
        if method == "PATCH"
    }  # fmt: skip
    assert edits_refused == {}  # the bot paced itself: Discord never had to say no
