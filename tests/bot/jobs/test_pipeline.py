"""The scheduler, its steps and delivery against the GMI simulator, with an in-memory chat.

These drive the domain without Discord; the same flows run end to end through the
Discord emulator in ``tests/cogs/video/test_video_e2e.py``.
"""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from bot.backoff import full_jitter
from bot.jobs.delivery import Posted, StatusSearch
from bot.jobs.lifecycle import JobOutcome, JobState
from bot.jobs.steps import MAX_SUBMIT_ATTEMPTS
from bot.simulator import BACKEND_400_ERROR
from tests.support.jobwait import wait_for_job
from tests.support.pipeline import (
    MemoryChat,
    accept,
    delivered,
    open_store,
    running_poller,
    scheduler_for,
)


@pytest.fixture
async def store(database_location):
    async with open_store(database_location) as store:
        yield store


@pytest.fixture
async def pipeline(store, gmi_client):
    chat = MemoryChat()
    async with running_poller(store, gmi_client, chat) as poller:
        yield poller, chat

async def test_text_to_video_posts_the_mp4_once(store, pipeline, gmi_sim):
    poller, chat = pipeline
    job = await accept(store)
    poller.wake()
    done = await delivered(store, job.id)
    assert done.outcome is JobOutcome.SUCCEEDED and done.delivered_via == "channel"
    assert len(chat.posts) == 1
    video = chat.posts[0][1].video
    assert video is not None and video[4:8] == b"ftyp"
    submits = gmi_sim.calls("submit")
    assert len(submits) == 1 and submits[0].body_json["payload"]["prompt"] == "a red fox"


async def test_failed_job_reports_the_providers_reason(store, pipeline, gmi_sim):
    poller, chat = pipeline
    gmi_sim.script_next(fail_reason="The prompt violates the content policy", reason_in="outcome")
    job = await accept(store)
    poller.wake()
    done = await delivered(store, job.id)
    assert done.outcome is JobOutcome.FAILED
    assert "content policy" in done.error
    assert not done.refused_by_provider  # it failed while generating: another seed may not
    assert chat.posts[0][1].video is None


async def test_invalid_request_fails_without_retry(store, pipeline, gmi_sim):
    poller, chat = pipeline
    job = await accept(store, resolution="1080p")
    gmi_sim.reject_1080p = True
    poller.wake()
    done = await delivered(store, job.id)
    assert done.outcome is JobOutcome.FAILED and "1080p" in done.error
    assert done.refused_by_provider  # a re-roll would be refused the same way
    assert len(gmi_sim.calls("submit")) == 1


async def test_a_lost_submit_answer_is_reconciled_not_resubmitted(store, pipeline, gmi_sim):
    poller, chat = pipeline
    gmi_sim.fault("submit", drop_connection=True, after_create=True)
    job = await accept(store)
    poller.wake()
    done = await delivered(store, job.id)
    assert done.outcome is JobOutcome.SUCCEEDED
    assert len(gmi_sim.requests) == 1, "the request was created twice"
    assert done.request_id in gmi_sim.requests
    assert gmi_sim.calls("list"), "reconciliation should have listed the requests"


async def test_a_submit_that_never_arrived_is_sent_again(store, pipeline, gmi_sim):
    poller, chat = pipeline
    gmi_sim.fault("submit", drop_connection=True)
    job = await accept(store)
    poller.wake()
    done = await delivered(store, job.id)
    assert done.outcome is JobOutcome.SUCCEEDED
    assert len(gmi_sim.requests) == 1


async def test_reconciliation_never_adopts_another_jobs_request(store, pipeline, gmi_sim):
    poller, chat = pipeline
    first = await accept(store, prompt="same prompt")
    poller.wake()
    first = await delivered(store, first.id)
    gmi_sim.fault("submit", drop_connection=True)
    second = await accept(store, prompt="same prompt")
    poller.wake()
    second = await delivered(store, second.id)
    assert second.request_id != first.request_id
    assert len(gmi_sim.requests) == 2


async def test_held_job_times_out_at_its_deadline(store, pipeline, gmi_sim):
    poller, chat = pipeline
    gmi_sim.script_next(hold=True)
    job = await accept(store, deadline=0.3)
    poller.wake()
    done = await delivered(store, job.id)
    assert done.outcome is JobOutcome.TIMED_OUT
    assert "No result" in done.error


async def test_cancelled_upstream_is_reported(store, pipeline, gmi_sim):
    poller, chat = pipeline
    gmi_sim.script_next(hold=True)
    job = await accept(store)
    poller.wake()
    await gmi_sim.wait_for_calls("submit")
    (request_id,) = gmi_sim.requests
    gmi_sim.cancel(request_id)
    done = await delivered(store, job.id)
    assert done.outcome is JobOutcome.CANCELLED


async def test_delivery_retries_and_never_posts_twice(store, pipeline, gmi_sim):
    poller, chat = pipeline
    chat.fail_posts = 1
    chat.lose_after_post = 1
    job = await accept(store)
    poller.wake()
    done = await delivered(store, job.id)
    assert len(chat.posts) == 1, "the result was posted twice"
    assert done.delivery_attempts >= 2


async def test_a_post_found_by_a_later_attempt_still_shows_the_job_delivered(
    store, pipeline, gmi_sim
):
    """The answer to the post was lost, so the next attempt finds the post instead: the
    status message must still be told (it showed "Done", not "Delivered", for good)."""
    poller, chat = pipeline
    chat.lose_after_post = 1
    job = await accept(store)
    poller.wake()
    await delivered(store, job.id)
    async with asyncio.timeout(5):
        while not any(s.id == job.id and s.is_delivered for s in chat.shown):  # noqa: ASYNC110
            await asyncio.sleep(0.01)  # the refresh may come a moment after the row changed
    assert len(chat.posts) == 1


async def test_a_video_over_the_limit_is_fitted_and_its_original_linked(store, gmi_client, gmi_sim):
    chat = MemoryChat(limit=50_000)
    gmi_sim.script_next(video_bytes=60_000)
    async with running_poller(store, gmi_client, chat) as poller:
        job = await accept(store)
        poller.wake()
        await delivered(store, job.id)
    outcome = chat.posts[0][1]
    assert outcome.video is not None and len(outcome.video) <= 50_000 and outcome.fitted
    assert outcome.link and outcome.link_expires_at  # the original, until it expires
    assert "Re-encoded from 0.1 MiB" in outcome.note and "upload limit" in outcome.note


async def test_a_video_that_cannot_be_fitted_becomes_a_link_saying_why(store, gmi_client, gmi_sim):
    chat = MemoryChat(limit=2_000)  # no watchable encode of a second of video is that small
    async with running_poller(store, gmi_client, chat) as poller:
        job = await accept(store)
        poller.wake()
        await delivered(store, job.id)
    outcome = chat.posts[0][1]
    assert outcome.video is None and outcome.link and outcome.link_expires_at
    assert "couldn't make it fit" in outcome.note and "watchable" in outcome.note


async def test_restart_mid_job_resumes_and_posts_once(database_location, gmi_client, gmi_sim):
    """A new poller on the same database picks up a job the old one left queued."""
    gmi_sim.script_next(hold=True)
    chat = MemoryChat()
    async with aiohttp.ClientSession() as session:
        async with open_store(database_location) as store:
            poller = scheduler_for(store, gmi_client, chat, session)
            poller.start()
            job = await accept(store)
            poller.wake()
            await gmi_sim.wait_for_calls("get")
            await poller.stop()

        (request_id,) = gmi_sim.requests
        gmi_sim.release(request_id)
        async with open_store(database_location) as store:
            poller = scheduler_for(store, gmi_client, chat, session)
            poller.start()
            try:
                done = await delivered(store, job.id)
            finally:
                await poller.stop()
    assert done.request_id == request_id
    assert len(chat.posts) == 1
    assert len(gmi_sim.calls("submit")) == 1


async def test_calls_per_job_stay_small(store, pipeline, gmi_sim):
    poller, chat = pipeline
    jobs = [await accept(store, prompt=f"fox {i}") for i in range(10)]
    poller.wake()
    for job in jobs:
        await delivered(store, job.id)
    per_job = len([c for c in gmi_sim.log if c.call in ("submit", "get")]) / len(jobs)
    assert per_job <= 3, per_job
    payloads = {json.dumps(c.body_json["payload"], sort_keys=True) for c in gmi_sim.calls("submit")}
    assert len(payloads) == 10


async def test_a_request_the_provider_forgot_fails_instead_of_polling_for_an_hour(store, pipeline, gmi_sim):
    poller, chat = pipeline
    gmi_sim.script_next(hold=True)
    gmi_sim.fault("get", 404, times=None)
    job = await accept(store)
    poller.wake()
    done = await delivered(store, job.id)
    assert done.outcome is JobOutcome.FAILED and "no longer knows" in done.error
    assert len(gmi_sim.calls("get")) == 3


async def test_status_check_failures_back_off(store, gmi_client, gmi_sim):
    delays = [full_jitter(n, base=1, cap=400, rng=lambda: 1.0) for n in (1, 2, 3, 4, 50, 5000)]
    assert delays[:4] == [1, 2, 4, 8] and delays[-1] == 400.0


async def test_the_poller_survives_a_database_hiccup(store, gmi_client, gmi_sim):
    class FlakyStore:
        """The real store, whose next_due_at fails once."""

        def __init__(self, real):
            self.real, self.failed = real, False

        def __getattr__(self, name):
            return getattr(self.real, name)

        async def next_due_at(self):
            if not self.failed:
                self.failed = True
                raise RuntimeError("database is locked")
            return await self.real.next_due_at()

    chat = MemoryChat()
    flaky = FlakyStore(store)
    async with running_poller(flaky, gmi_client, chat, delivery_store=store) as poller:
        job = await accept(store)
        poller.wake()
        await delivered(store, job.id)
    assert flaky.failed and len(chat.posts) == 1


async def test_a_job_cancelled_while_its_submit_is_in_flight_keeps_the_providers_id(
    store, pipeline, gmi_sim
):
    """It is generated (and billed) upstream all the same, so the budget must see it."""
    poller, chat = pipeline
    gmi_sim.fault("submit", after_create=True, delay=0.3)
    job = await accept(store)
    poller.wake()
    await gmi_sim.wait_until(lambda: len(gmi_sim.requests) == 1)
    await store.transition(job.id, from_states={JobState.SUBMITTING}, to_state=JobState.FINISHED,
                           outcome=JobOutcome.CANCELLED, finished_at=store.clock(),
                           next_check_at=store.clock())
    poller.wake()
    done = await delivered(store, job.id)
    assert done.outcome is JobOutcome.CANCELLED
    await gmi_sim.wait_for_calls("submit")  # answered now, after the cancel
    done = await wait_for_job(store, job.id, lambda j: j.request_id is not None)
    assert done.request_id == next(iter(gmi_sim.requests))


# -- every failure ends, and ends right ------------------------------------------------------


async def test_a_submit_that_keeps_failing_stops_after_a_bounded_number_of_attempts(
    store, pipeline, gmi_sim
):
    poller, chat = pipeline
    gmi_sim.fault("submit", 500, times=None)  # nothing is created, but we can't know that
    job = await accept(store)
    poller.wake()
    done = await delivered(store, job.id)
    assert done.outcome is JobOutcome.FAILED and done.attempts == MAX_SUBMIT_ATTEMPTS
    assert len(gmi_sim.calls("submit")) == MAX_SUBMIT_ATTEMPTS  # no blind retries in the client
    assert len(gmi_sim.calls("list")) <= MAX_SUBMIT_ATTEMPTS * 12  # each search is bounded too
    assert "could not be reached" in done.error


async def test_a_backend_refusal_wrapped_in_a_500_is_reported_with_its_reason(
    store, pipeline, gmi_sim
):
    poller, chat = pipeline
    gmi_sim.fault("submit", 500, body={"error": BACKEND_400_ERROR}, times=None)
    job = await accept(store)
    poller.wake()
    done = await delivered(store, job.id)
    assert done.outcome is JobOutcome.FAILED
    assert "Backend error (400)" in done.error and done.refused_by_provider
    assert len(gmi_sim.calls("submit")) == 3 and gmi_sim.calls("list") == []


async def test_a_lost_submit_is_found_on_a_later_page_of_the_list(store, pipeline, gmi_sim):
    poller, chat = pipeline
    gmi_sim.list_page_size = 1
    for i in range(3):  # other jobs' requests, newer than this one's will be on page 1
        await accept(store, prompt=f"earlier {i}")
    poller.wake()
    for job_id in (1, 2, 3):
        await delivered(store, job_id)
    gmi_sim.fault("submit", drop_connection=True, after_create=True)
    job = await accept(store, prompt="the lost one")
    poller.wake()
    done = await delivered(store, job.id)
    assert done.outcome is JobOutcome.SUCCEEDED and len(gmi_sim.requests) == 4
    assert done.request_id == gmi_sim.calls("submit")[-1].request_id


async def test_an_expired_result_link_is_fetched_again(store, pipeline, gmi_sim):
    poller, chat = pipeline
    gmi_sim.fault("media", 403, body="<Error><Code>ExpiredToken</Code></Error>")
    job = await accept(store)
    poller.wake()
    done = await delivered(store, job.id)
    assert done.outcome is JobOutcome.SUCCEEDED
    assert chat.posts[0][1].video[4:8] == b"ftyp"  # the video itself, not a dead link
    assert len(gmi_sim.calls("media")) == 2


async def test_a_video_that_is_gone_is_lost_said_plainly_and_not_counted(store, pipeline, gmi_sim):
    poller, chat = pipeline
    gmi_sim.fault("media", 404, times=None)
    job = await accept(store)
    poller.wake()
    done = await delivered(store, job.id)
    assert done.outcome is JobOutcome.LOST and done.state is JobState.DELIVERED
    outcome = chat.posts[0][1]
    assert outcome.video is None and outcome.link is None
    assert "no longer works" in done.error


async def test_bytes_that_are_not_a_video_are_never_posted(store, pipeline, gmi_sim):
    poller, chat = pipeline
    gmi_sim.fault("media", 200, body="<html><body>Service unavailable</body></html>")
    job = await accept(store)
    poller.wake()
    done = await delivered(store, job.id)
    assert done.outcome is JobOutcome.LOST and chat.posts[0][1].video is None
    assert "not a playable video" in done.error


async def test_an_outcome_that_can_be_posted_nowhere_is_undeliverable(store, gmi_client, gmi_sim):
    class NowhereChat(MemoryChat):
        async def post(self, job, outcome, results_in):
            return Posted(None, "undeliverable")

    chat = NowhereChat()
    async with running_poller(store, gmi_client, chat) as poller:
        job = await accept(store)
        poller.wake()
        done = await delivered(store, job.id)
        # The moderators are told just after the state is stored: wait for that too.
        async with asyncio.timeout(5):
            while not chat.undelivered:
                chat.changed.clear()
                await chat.changed.wait()
    assert done.state is JobState.UNDELIVERABLE and done.display_state == "Could not be delivered"
    assert [j.id for j in chat.undelivered] == [job.id]


async def test_a_job_woken_before_its_answer_reached_discord_is_kept_until_its_grace_ends(
    store, gmi_client, gmi_sim
):
    """A stitch or continuation is woken the moment the video it builds on is posted, which
    can be before its own status message is recorded: not yet seen is not never seen."""

    class AnswerOnItsWay(MemoryChat):
        async def find_status_message(self, job):
            return StatusSearch.NEVER_SHOWN  # Discord has no @original for it yet

    chat = AnswerOnItsWay()
    async with running_poller(store, gmi_client, chat) as poller:
        job = await accept(store)  # due at once, as a woken dependent is
        poller.wake()
        # Withdrawn, it would be gone: the wait would time out.
        waiting = await wait_for_job(
            store, job.id, lambda j: (j.next_check_at or 0) > time.time() + 20, 5.0
        )
        assert waiting.state is JobState.ACCEPTED
        assert gmi_sim.calls("submit") == []
        await store.set_status_message(job.id, 77)  # the answer arrives: it starts now
        poller.wake()
        done = await delivered(store, job.id)
    assert done.outcome is JobOutcome.SUCCEEDED and len(gmi_sim.calls("submit")) == 1
