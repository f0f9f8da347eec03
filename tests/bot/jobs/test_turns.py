"""Fair turns without Discord: the queue's order as the job repository keeps it (on each
engine), the caps the dispatch checks in one transaction, the release of held jobs, and
moderators' moves and drops."""

from __future__ import annotations

import asyncio

import pytest

from bot.errors import Conflict, PermissionDenied
from bot.jobs.lifecycle import JobOutcome, JobState
from bot.jobs.model import JobOrigin, NewJob
from bot.jobs.turns import DROPPED, TURN_RECHECK, Caps, FairTags, next_in_turn
from bot.moderation.requester import Requester
from bot.params import GenerationRequest

SERVER, OTHER = 10, 11
ALICE, BOB, CAROL = 1, 2, 3
MOD = Requester(user_id=99, guild_id=SERVER, channel_id=20, can_manage_guild=True)
MEMBER = Requester(user_id=BOB, guild_id=SERVER, channel_id=20)


@pytest.fixture
async def queue(services, clock):
    """``await queue(user, prompt, guild=SERVER)``: a job accepted a second after the last,
    its status message posted (so it waits)."""
    message_ids = iter(range(1000, 2000))

    async def add(user_id: int, prompt: str, guild_id: int = SERVER, **fields):
        clock.advance(1)
        new = NewJob(guild_id=guild_id, channel_id=20, user_id=user_id, model="m",
                     request=GenerationRequest(prompt=prompt), **fields)  # fmt: skip
        job = await services.jobs.accept(new, deadline_seconds=3600)
        await services.jobs.set_status_message(job.id, next(message_ids))
        return job

    return add


async def order(services, guild_id=SERVER) -> list[str]:
    return [job.request.prompt for job in await services.jobs.waiting_in_order(guild_id=guild_id)]


async def everywhere(services) -> list[str]:
    return [job.request.prompt for job in await services.jobs.waiting_in_order()]


async def send(services, job) -> None:
    """What a dispatch does to the job (the caps aside): it leaves the queue."""
    await services.jobs.transition(job.id, from_states={JobState.ACCEPTED},
                                   to_state=JobState.SUBMITTING, count_attempt=True)  # fmt: skip


# -- the order, in the repository -------------------------------------------------------


async def test_each_members_kth_job_is_in_round_k_oldest_first(services, queue):
    for n in (1, 2, 3):
        await queue(ALICE, f"alice {n}")
    await queue(BOB, "bob 1")
    await queue(CAROL, "carol 1")
    await queue(CAROL, "carol 2")
    assert await order(services) == [
        "alice 1", "bob 1", "carol 1", "alice 2", "carol 2", "alice 3"
    ]


async def test_sending_a_job_changes_no_ones_turn(services, queue):
    first = await queue(ALICE, "alice 1")
    await queue(ALICE, "alice 2")
    await queue(ALICE, "alice 3")
    await send(services, first)
    await queue(BOB, "bob 1")  # the round being served is alice's second
    assert await order(services) == ["alice 2", "bob 1", "alice 3"]
    await queue(BOB, "bob 2")
    await queue(CAROL, "carol 1")
    assert await order(services) == ["alice 2", "bob 1", "carol 1", "alice 3", "bob 2"]


async def test_a_submit_put_back_for_a_retry_keeps_its_turn(services, queue):
    first = await queue(ALICE, "alice 1")
    await queue(ALICE, "alice 2")
    await send(services, first)
    await queue(BOB, "bob 1")
    await services.jobs.transition(first.id, from_states={JobState.SUBMITTING},
                                   to_state=JobState.ACCEPTED)  # fmt: skip
    assert await order(services) == ["alice 1", "alice 2", "bob 1"]


async def test_servers_interleave_in_the_same_way(services, queue):
    for n in (1, 2, 3):
        await queue(ALICE, f"a{n}")
    await queue(CAROL, "c1", OTHER)
    await queue(CAROL, "c2", OTHER)
    await queue(BOB, "b1")  # round 1 of the first server, after alice's first
    assert await order(services) == ["a1", "b1", "a2", "a3"]
    assert await order(services, OTHER) == ["c1", "c2"]
    # A server's jobs take its rounds among the servers in the server's own order (b1 takes
    # the second); within a round the older job goes first (c2 before b1).
    assert await everywhere(services) == ["a1", "c1", "c2", "b1", "a2", "a3"]


async def test_direct_messages_are_a_queue_of_their_own(services, queue):
    await queue(ALICE, "in the server")
    await queue(ALICE, "dm 1", None)
    await queue(BOB, "dm 2", None)
    assert await order(services, None) == ["dm 1", "dm 2"]
    assert await order(services) == ["in the server"]
    assert await everywhere(services) == ["in the server", "dm 1", "dm 2"]


async def test_only_jobs_that_wait_to_be_sent_are_in_the_queue(services, queue, clock):
    await queue(ALICE, "waits")
    unseen = NewJob(guild_id=SERVER, channel_id=20, user_id=BOB, model="m",
                    request=GenerationRequest(prompt="no status message yet"))  # fmt: skip
    await services.jobs.accept(unseen, deadline_seconds=3600)
    await queue(BOB, "a stitch", origin=JobOrigin.STITCH)
    sent = await queue(CAROL, "sent")
    await send(services, sent)
    assert await order(services) == ["waits"]
    assert await services.jobs.in_flight_by_guild() == {SERVER: 1}


async def test_moderators_move_a_job_and_those_ahead_keep_their_places(services, queue):
    jobs = [await queue(ALICE, f"alice {n}") for n in (1, 2, 3)]
    await queue(BOB, "bob 1")
    assert await order(services) == ["alice 1", "bob 1", "alice 2", "alice 3"]
    change = await services.turns.move(MOD, jobs[2].id, 2)
    assert (change.audit.old_value, change.audit.new_value) == ("4", "2")
    assert await order(services) == ["alice 1", "alice 3", "bob 1", "alice 2"]
    await queue(CAROL, "carol 1")  # a new round-1 job comes after the places held
    assert await order(services) == ["alice 1", "alice 3", "bob 1", "carol 1", "alice 2"]
    await services.turns.move(MOD, jobs[1].id, 1)
    assert await order(services) == ["alice 2", "alice 1", "alice 3", "bob 1", "carol 1"]
    await services.turns.move(MOD, jobs[0].id, 99)  # past the end: the last place
    assert await order(services) == ["alice 2", "alice 3", "bob 1", "carol 1", "alice 1"]


async def test_a_drop_cancels_unsent_and_only_moderators_move_or_drop(services, queue):
    job = await queue(ALICE, "alice 1")
    with pytest.raises(PermissionDenied):
        await services.turns.move(MEMBER, job.id, 1)
    with pytest.raises(PermissionDenied):
        await services.turns.drop(MEMBER, job.id)
    change = await services.turns.drop(MOD, job.id)
    assert change.job.outcome is JobOutcome.CANCELLED and change.job.error == DROPPED
    assert change.job.request_id is None  # never sent: it counts nowhere (the ledger)
    with pytest.raises(Conflict, match="not waiting"):
        await services.turns.drop(MOD, job.id)


# -- the caps ---------------------------------------------------------------------------


def test_next_in_turn_passes_over_a_full_server_and_stops_at_the_bot_cap():
    def job(n: int, guild: int, due: float | None = 0.0, held: bool = False):
        return type("J", (), {"id": n, "guild_id": guild, "next_check_at": due,
                              "awaits_turn": held})()  # fmt: skip

    queue = [job(1, SERVER), job(2, OTHER), job(3, SERVER), job(4, OTHER), job(5, 12)]
    caps = Caps(bot_wide=None, servers={SERVER: 1})
    assert [j.id for j in next_in_turn(queue, {SERVER: 1}, caps, 0.0)] == [2, 4, 5]  # type: ignore[arg-type]
    caps = Caps(bot_wide=3, servers={SERVER: 2})
    assert [j.id for j in next_in_turn(queue, {OTHER: 1}, caps, 0.0)] == [1, 2]  # type: ignore[arg-type]
    # A job in a retry's backoff takes no slot until it is due; a held one always counts.
    queue = [job(1, SERVER, due=30.0), job(2, SERVER, due=60.0, held=True), job(3, SERVER)]
    caps = Caps(bot_wide=None, servers={SERVER: 1})
    assert [j.id for j in next_in_turn(queue, {}, caps, 0.0)] == [2]  # type: ignore[arg-type]
    assert [j.id for j in next_in_turn(queue, {}, caps, 30.0)] == [1]  # type: ignore[arg-type]


async def cap(services, value: int) -> None:
    await services.server_settings.set_max_in_flight(MOD, value)


async def test_a_job_over_the_cap_waits_then_goes_when_a_slot_frees(services, queue, clock):
    await cap(services, 1)
    first, second = await queue(ALICE, "alice 1"), await queue(BOB, "bob 1")
    assert await services.turns.dispatch(first, count_attempt=True) is not None
    assert await services.turns.dispatch(second, count_attempt=True) is None
    held = await services.jobs.get(second.id)
    assert held.state is JobState.ACCEPTED and held.awaits_turn
    assert held.next_check_at == clock() + TURN_RECHECK  # no polling meanwhile
    assert await services.turns.release() == 0  # no slot free yet

    woken = asyncio.Event()
    services.turns.on_due = woken.set
    await services.jobs.transition(first.id, from_states={JobState.SUBMITTING},
                                   to_state=JobState.FINISHED, outcome=JobOutcome.SUCCEEDED)  # fmt: skip
    await asyncio.wait_for(woken.wait(), 5)  # the finished job's turn passed on by itself
    assert (await services.jobs.get(second.id)).next_check_at == clock()
    assert await services.turns.dispatch(held, count_attempt=True) is not None


async def test_dispatches_at_once_never_exceed_the_cap(services, queue):
    await cap(services, 2)
    jobs = [await queue(user, f"job {user}") for user in range(1, 9)]
    claimed = await asyncio.gather(*(services.turns.dispatch(j, count_attempt=True) for j in jobs))
    assert sum(job is not None for job in claimed) == 2
    assert await services.jobs.in_flight_by_guild() == {SERVER: 2}


async def test_the_bot_wide_cap_counts_every_server(services, queue, db, clock):
    services.turns.bot_cap = 2
    jobs = [await queue(ALICE, "a1"), await queue(CAROL, "c1", OTHER), await queue(BOB, "b1")]
    claimed = [await services.turns.dispatch(j, count_attempt=True) for j in jobs]
    assert [job is not None for job in claimed] == [True, True, False]


def test_fair_tags_put_each_members_kth_submit_in_round_k():
    tags = FairTags()

    def member(user: int):
        return type("J", (), {"guild_id": SERVER, "user_id": user})()

    batch = [tags.tag(member(ALICE)) for _ in range(4)]  # type: ignore[arg-type]
    tags.served(batch[0])
    late = tags.tag(member(BOB))  # type: ignore[arg-type]
    assert batch == [1, 2, 3, 4] and late == 2  # with alice's second, before her third
