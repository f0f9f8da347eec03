"""Several bot processes (``python -m bot``) on one PostgreSQL database, each connected to
some of Discord's shards: accounting stays exact when one server's commands reach three
processes at once, and the jobs of a process killed with SIGKILL are carried on by another
after their lease ends, each posted exactly once."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest

from bot.db.database import Database
from bot.moderation.requester import Requester
from bot.services import JobPolicy, build_services
from tests.support.domain import PRICES

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL"),
    pytest.mark.engines("postgresql"),  # several processes need the shared database
]

SHARDS = 2
COST = 0.8  # a default request: 5 s at 720p


def shard_of(guild) -> int:
    return (guild.id >> 22) % SHARDS


def said(message) -> str:
    return " ".join([message.content, *(str(embed) for embed in message.embeds)])


def replies_to(channel, status):
    return [m for m in channel.messages if m.reply_to == status.id]


async def configure(database_location, world, *, per_member: int, budget: float) -> None:
    """What the moderators set before the processes start."""
    db = await Database.open(database_location)
    try:
        services = build_services(db, JobPolicy(price_table=PRICES), time.time)
        mod = Requester(world.mod.id, world.guild.id, world.channel.id, can_manage_guild=True)
        await services.limit_admin.set_limit(
            mod, "member", world.alice.id, "generations_per_day", str(per_member)
        )
        await services.server_settings.set_monthly_budget(mod, budget)
        await services.tasks.drain()
    finally:
        await db.close()


async def at_once(fakecord, member, channel, count: int):
    """``count`` commands sent together; each once answered."""
    asked = await asyncio.gather(*[
        fakecord.run_command(member, channel, "video generate text", prompt=f"fox {i}")
        for i in range(count)
    ])
    await asyncio.gather(*(ix.wait_acknowledged() for ix in asked))
    return asked


async def test_twenty_requests_over_three_processes_with_five_left_accept_exactly_five(
    fakecord, gmi_sim, bot_processes, database_location
):
    world = fakecord.default
    await configure(database_location, world, per_member=5, budget=8 * COST)
    shard = str(shard_of(world.guild))
    processes = [bot_processes(SHARD_COUNT=str(SHARDS), SHARD_IDS=shard) for _ in range(3)]
    await asyncio.gather(*(process.start() for process in processes))
    fakecord.gateway.balance_interactions = True  # the server's commands reach all three

    asked = await at_once(fakecord, world.alice, world.channel, 20)
    accepted = [ix for ix in asked if ix.public_messages]
    assert len(accepted) == 5
    refusals = [said(ix.ephemeral_messages[0]) for ix in asked if not ix.public_messages]
    assert all("You've made 5 videos today, and your limit is 5 videos" in text
               for text in refusals), refusals
    sessions = fakecord.gateway.connected_sessions
    assert len(sessions) == 3 and all(  # each process was handed some of them
        any(frame.get("t") == "INTERACTION_CREATE" for frame in s.buffer) for s in sessions
    )

    # Three jobs' worth of the monthly budget is left: twenty more from bob take exactly three.
    more = await at_once(fakecord, world.bob, world.channel, 20)
    assert sum(1 for ix in more if ix.public_messages) == 3
    assert all("monthly video budget is used up" in said(ix.ephemeral_messages[0])
               for ix in more if not ix.public_messages)
    stored = await processes[0].jobs.recent_in_guild(world.guild.id, limit=100)
    assert len(stored) == 8
    assert sum(job.estimated_cost for job in stored) <= 8 * COST + 1e-9  # never overshot

    await fakecord.wait_for(
        lambda: all(replies_to(world.channel, ix.original_message) for ix in accepted), 20,
        "every accepted job's result",
    )
    assert len(gmi_sim.calls("submit")) == 8


async def test_a_killed_process_s_jobs_are_carried_on_by_another_and_posted_once(
    fakecord, gmi_sim, bot_processes
):
    """The server's process is killed with two jobs at the provider and one being
    downloaded for posting; the other process (another shard) takes all three over once
    their lease ran out and posts each exactly once, over REST."""
    world = fakecord.default
    own = shard_of(world.guild)
    quick = {"SHARD_COUNT": str(SHARDS), "JOB_LEASE_SECONDS": "1.5", "SHARD_TAKEOVER_SECONDS": "0.5"}
    owner = bot_processes(**quick, SHARD_IDS=str(own))
    other = bot_processes(**quick, SHARD_IDS=str(1 - own))
    await asyncio.gather(owner.start(), other.start())

    gmi_sim.script_next(times=2, hold=True)
    gmi_sim.fault("media", delay=10)  # the third job's download hangs in the owner
    statuses = []
    for prompt in ("one", "two", "three"):
        ix = await fakecord.run_command(world.alice, world.channel, "video generate text", prompt=prompt)
        statuses.append(await ix.wait_response_message())
    await gmi_sim.wait_for_calls("media", answered=False, within=10)
    await owner.kill()

    for request_id in gmi_sim.requests:
        gmi_sim.release(request_id)
    await fakecord.wait_for(
        lambda: all(replies_to(world.channel, status) for status in statuses), 20,
        "every result, posted by the other process",
    )
    for job_id in (1, 2, 3):
        job = await other.delivered(job_id)
        assert job.leased_by is not None and f"-{other.process.pid}-" in job.leased_by
    assert [len(replies_to(world.channel, status)) for status in statuses] == [1, 1, 1]
    assert len(gmi_sim.calls("submit")) == 3
