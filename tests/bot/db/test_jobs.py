"""The job repository and the database under it: migrations, acceptance, compare-and-set
transitions that the lifecycle allows, leases."""

from __future__ import annotations

import asyncio

import pytest

from bot.db.database import ConstraintViolation
from bot.db.migrations import MIGRATIONS
from bot.jobs.lifecycle import IllegalTransition, JobOutcome, JobState
from bot.jobs.model import NewJob
from bot.params import GenerationRequest


def new_job(user_id=1, prompt="a cat") -> NewJob:
    return NewJob(guild_id=10, channel_id=20, user_id=user_id,
                  request=GenerationRequest(prompt=prompt), model="m", estimated_cost=0.8)


async def test_schema_is_versioned(db):
    assert await db.schema_version() == len(MIGRATIONS)
    assert await db.migrate(MIGRATIONS) == len(MIGRATIONS)  # idempotent


@pytest.mark.engines("sqlite")
async def test_a_sqlite_file_is_in_wal_mode(db):
    assert await db.reader.fetchval("PRAGMA journal_mode") == "wal"


async def test_accepted_job_keeps_every_parameter_and_is_due_at_once(store, clock):
    job = await store.accept(new_job(), deadline_seconds=600)
    assert job.state is JobState.ACCEPTED
    assert job.request.prompt == "a cat"
    assert job.deadline_at == job.created_at + 600
    assert [j.id for j in await store.claim_due(store.clock(), 10, 60)] == [job.id]
    # claimed: not due again until the lease runs out
    assert await store.claim_due(store.clock(), 10, 60) == []
    clock.now += 61
    assert [j.id for j in await store.claim_due(store.clock(), 10, 60)] == [job.id]


async def test_admission_refusal_writes_nothing(store):
    async def refuse(conn, new, now):
        raise RuntimeError("over the limit")

    with pytest.raises(RuntimeError):
        await store.accept(new_job(), deadline_seconds=600, admission=refuse)
    assert await store.count_for_user(1, 10) == 0


async def test_transition_is_compare_and_set(store):
    job = await store.accept(new_job(), deadline_seconds=600)
    first, second = await asyncio.gather(
        store.transition(job.id, from_states={JobState.ACCEPTED}, to_state=JobState.SUBMITTING),
        store.transition(job.id, from_states={JobState.ACCEPTED}, to_state=JobState.FINISHED,
                         outcome=JobOutcome.CANCELLED),
    )
    assert (first is None) != (second is None)


async def test_transition_refuses_unknown_columns(store):
    job = await store.accept(new_job(), deadline_seconds=600)
    with pytest.raises(ValueError):
        await store.transition(job.id, from_states={JobState.ACCEPTED}, **{"state = 'x' --": 1})


async def test_request_ids_are_unique_and_known(store):
    a = await store.accept(new_job(), deadline_seconds=600)
    b = await store.accept(new_job(), deadline_seconds=600)
    await store.transition(a.id, from_states={JobState.ACCEPTED}, request_id="r-1")
    assert await store.known_request_ids(["r-1", "r-2"]) == {"r-1"}
    with pytest.raises(ConstraintViolation):
        await store.transition(b.id, from_states={JobState.ACCEPTED}, request_id="r-1")
    assert (await store.get_by_request_id("r-1")).id == a.id


async def test_only_unsent_jobs_can_be_discarded(store):
    a = await store.accept(new_job(), deadline_seconds=600)
    b = await store.accept(new_job(), deadline_seconds=600)
    await store.transition(b.id, from_states={JobState.ACCEPTED}, to_state=JobState.SUBMITTING)
    assert await store.delete_unsent(a.id) is True
    assert await store.delete_unsent(b.id) is False
    assert await store.get(a.id) is None and await store.get(b.id) is not None


async def test_history_is_newest_first_and_paged(store, clock):
    for i in range(5):
        clock.now += 1
        await store.accept(new_job(prompt=f"p{i}"), deadline_seconds=600)
    page = await store.recent_for_user(1, 10, limit=2, offset=1)
    assert [j.request.prompt for j in page] == ["p3", "p2"]
    assert await store.count_for_user(1, 10) == 5


async def test_a_job_waits_for_its_status_message_before_it_is_due(store, clock):
    new = NewJob(guild_id=10, channel_id=20, user_id=1, request=GenerationRequest(prompt="x"),
                 model="m", first_step_after=30)
    job = await store.accept(new, deadline_seconds=600)
    assert await store.claim_due(store.clock(), 10, 60) == []
    await store.set_status_message(job.id, 555)
    (due,) = await store.claim_due(store.clock(), 10, 60)
    assert due.status_message_id == 555
    # a crash before the status message: the job still goes after the grace
    orphan = await store.accept(new, deadline_seconds=600)
    clock.now += 31
    assert [j.id for j in await store.claim_due(store.clock(), 10, 60)] == [orphan.id]


async def test_a_dependent_is_woken_only_once_its_answer_can_be_found(store, clock):
    """A continuation whose source is posted before its own answer is recorded waits for
    the answer (which makes it due), not for a look-up that would find nothing yet."""
    source = await store.accept(new_job(), deadline_seconds=600)
    later = NewJob(guild_id=10, channel_id=20, user_id=1, request=GenerationRequest(prompt="x"),
                   model="m", first_step_after=30, first_frame_from=source.id)
    answered = await store.accept(later, deadline_seconds=600)
    await store.set_status_message(answered.id, 555)
    await store.transition(answered.id, from_states={JobState.ACCEPTED}, next_check_at=clock.now + 60)
    on_its_way = await store.accept(later, deadline_seconds=600)
    assert await store.wake_dependents(source.id) == 1
    due = {j.id for j in await store.claim_due(store.clock(), 10, 60)}
    assert due == {source.id, answered.id}
    await store.set_status_message(on_its_way.id, 556)
    assert [j.id for j in await store.claim_due(store.clock(), 10, 60)] == [on_its_way.id]
    # one never recorded (its process died): woken once its grace is over
    orphan = await store.accept(later, deadline_seconds=600)
    clock.now += 31
    await store.transition(orphan.id, from_states={JobState.ACCEPTED}, next_check_at=clock.now + 60)
    await store.wake_dependents(source.id)
    assert orphan.id in {j.id for j in await store.claim_due(store.clock(), 10, 60)}


async def test_the_lifecycle_refuses_moves_it_does_not_list(store):
    job = await store.accept(new_job(), deadline_seconds=600)
    with pytest.raises(IllegalTransition):  # straight to the chat, skipping the provider
        await store.transition(job.id, from_states={JobState.ACCEPTED}, to_state=JobState.DELIVERED)
    with pytest.raises(IllegalTransition):  # an outcome comes only with the move to finished
        await store.transition(job.id, from_states={JobState.ACCEPTED},
                               to_state=JobState.SUBMITTING, outcome=JobOutcome.FAILED)
    with pytest.raises(IllegalTransition):  # finished without saying how
        await store.transition(job.id, from_states={JobState.ACCEPTED}, to_state=JobState.FINISHED)
    assert (await store.get(job.id)).state is JobState.ACCEPTED


async def test_a_reader_never_sees_a_transaction_that_is_still_open(db, store):
    job = await store.accept(new_job(), deadline_seconds=600)
    async with db.transaction() as conn:
        await conn.execute("UPDATE jobs SET provider_status = 'half-done' WHERE id = ?", (job.id,))
        assert (await store.get(job.id, conn=conn)).provider_status == "half-done"
        assert (await store.get(job.id)).provider_status is None  # not committed yet
    assert (await store.get(job.id)).provider_status == "half-done"
