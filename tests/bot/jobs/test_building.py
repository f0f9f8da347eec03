"""Jobs built on other jobs' videos, in the domain: continuations take their source's last
frame when they are about to be sent (waiting for a source still running, as a storyboard's
shots do), stitches join their clips at no cost, results go where the server said, and the
gallery gets its copy exactly once. Against the GMI simulator, with an in-memory chat."""

from __future__ import annotations

import json

import pytest

from bot.db.servers import ServerSettingsRepository
from bot.errors import Conflict, Refused
from bot.jobs.destinations import ResultsIn
from bot.jobs.lifecycle import JobOutcome, JobState
from bot.jobs.model import REFUSED_STATUS, Credit, JobOrigin, NewJob
from bot.jobs.sources import SourceFailed
from bot.media import last_frame
from bot.moderation.requester import Requester
from bot.params import GenerationRequest, MediaInput
from bot.simulator import VideoSpec
from tests.support.jobs import finish, posted
from tests.support.media import decode
from tests.support.pipeline import MODEL, MemoryChat, accept, delivered, open_store, running_poller


@pytest.fixture
async def store(tmp_path):
    async with open_store(tmp_path / "jobs.sqlite3") as store:
        yield store


async def server_chose(store, **settings):
    """Server 1's moderators set these (what `ServerSettings` writes)."""
    async with store.db.transaction() as conn:
        for column, value in settings.items():
            await ServerSettingsRepository(store.db).set_value(1, column, value, at=0, conn=conn)


async def continuation_of(store, source, prompt="what happens next"):
    """What `JobService.continue_video` stores, past its checks."""
    return await store.accept(
        NewJob(guild_id=1, channel_id=2, user_id=4, request=GenerationRequest(prompt=prompt),
               model=MODEL, origin=JobOrigin.CONTINUE, parent_job_id=source.id,
               first_frame_from=source.id),
        deadline_seconds=60,
    )


async def stitch_of(store, clips):
    """What `JobService.stitch` stores, past its checks."""
    return await store.accept(
        NewJob(guild_id=1, channel_id=2, user_id=5,
               request=GenerationRequest(prompt="Stitch", duration=sum(c.request.duration for c in clips)),
               model=MODEL, origin=JobOrigin.STITCH, parent_job_id=clips[-1].id,
               clips=tuple(Credit(c.id, c.user_id) for c in clips)),
        deadline_seconds=60,
    )


async def test_a_continuation_waits_for_its_source_then_starts_from_its_last_frame(
    store, gmi_client, gmi_sim, ffmpeg
):
    chat = MemoryChat()
    gmi_sim.script_next(hold=True)
    async with running_poller(store, gmi_client, chat) as poller:
        source = await accept(store, prompt="shot one")
        shot_two = await continuation_of(store, source)  # accepted at once, like a storyboard's
        poller.wake()
        await gmi_sim.wait_for_calls("get")
        assert len(gmi_sim.calls("submit")) == 1  # the second shot waits for the first
        waiting = await store.get(shot_two.id)
        assert waiting.state is JobState.ACCEPTED and waiting.awaits_first_frame
        gmi_sim.release(next(iter(gmi_sim.requests)))
        await delivered(store, source.id)
        done = await delivered(store, shot_two.id)
    assert done.outcome is JobOutcome.SUCCEEDED and not done.awaits_first_frame
    sent = gmi_sim.calls("submit")[1].body_json["payload"]
    (url,) = chat.frames
    assert sent["first_frame"] == url == done.request.first_frame.url
    assert chat.frames[url] == await last_frame(ffmpeg, chat.outcome_of(source.id).video)
    assert done.request.first_frame.detected == "PNG" and done.request.first_frame.width == 160


async def test_a_continuation_of_a_video_that_failed_fails_saying_why(store, gmi_client, gmi_sim):
    chat = MemoryChat()
    gmi_sim.script_next(fail_reason="the model refused")
    async with running_poller(store, gmi_client, chat) as poller:
        source = await accept(store)
        follow = await continuation_of(store, source)
        poller.wake()
        done = await delivered(store, follow.id)
    assert done.outcome is JobOutcome.FAILED and f"#{source.id}" in done.error
    assert "ended without a video" in done.error
    assert len(gmi_sim.calls("submit")) == 1  # never sent


async def test_a_stitch_joins_its_clips_without_a_provider_call(store, gmi_client, gmi_sim, ffmpeg):
    chat = MemoryChat()
    async with running_poller(store, gmi_client, chat) as poller:
        clips = []
        for seconds in (1.0, 2.0):
            gmi_sim.script_next(video=VideoSpec(160, 90, duration=seconds, fps=12))
            clips.append(await accept(store, prompt=f"{seconds} s"))
        film = await stitch_of(store, clips)
        poller.wake()
        done = await delivered(store, film.id)
    assert done.outcome is JobOutcome.SUCCEEDED and done.request_id is None
    assert len(gmi_sim.calls("submit")) == 2
    outcome = chat.outcome_of(film.id)
    assert outcome.lineage.clips == tuple(Credit(c.id, c.user_id) for c in clips)
    played = await decode(ffmpeg, outcome.video)
    assert played.errors == [] and played.seconds == pytest.approx(3.0, abs=0.1)


async def test_a_stitch_whose_clip_is_gone_is_lost_and_said_plainly(store, gmi_client, gmi_sim):
    chat = MemoryChat()
    async with running_poller(store, gmi_client, chat) as poller:
        clips = [await accept(store), await accept(store, prompt="two")]
        for clip in clips:
            await delivered(store, clip.id)
        chat.posts.clear()  # their result messages were deleted...
        gmi_sim.fault("media", 404, times=None)  # ...and the provider's links have expired
        film = await stitch_of(store, clips)
        poller.wake()
        done = await delivered(store, film.id)
    assert done.outcome is JobOutcome.LOST and "couldn't join the clips" in done.error
    assert "no longer posted" in done.error


async def test_results_go_where_the_server_said(store, gmi_client, gmi_sim):
    chat = MemoryChat()
    await server_chose(store, results_in="thread")
    async with running_poller(store, gmi_client, chat) as poller:
        job = await accept(store)
        poller.wake()
        await delivered(store, job.id)
    assert chat.where == [ResultsIn.THREAD]


async def test_the_gallery_copy_is_made_once_even_when_its_answer_is_lost(
    store, gmi_client, gmi_sim
):
    chat = MemoryChat()
    chat.fail_gallery = 1  # the copy lands, but the answer is lost: the retry must find it
    await server_chose(store, gallery_channel_id=99)
    async with running_poller(store, gmi_client, chat) as poller:
        job = await accept(store)
        poller.wake()
        done = await delivered(store, job.id)
    assert len(chat.posts) == 1 and len(chat.gallery) == 1
    assert (done.gallery_channel_id, done.gallery_message_id, done.gallery_attempts) == (99, 0, 1)
    assert chat.gallery[0][2].video == chat.posts[0][1].video


async def test_a_failed_job_gets_no_gallery_copy(store, gmi_client, gmi_sim):
    chat = MemoryChat()
    gmi_sim.script_next(fail_reason="no")
    await server_chose(store, gallery_channel_id=99)
    async with running_poller(store, gmi_client, chat) as poller:
        job = await accept(store)
        poller.wake()
        await delivered(store, job.id)
    assert chat.gallery == []


# -- accepting: the job service's checks -----------------------------------------------------

ALICE = Requester(user_id=3, guild_id=1, channel_id=2)
BOB = Requester(user_id=4, guild_id=1, channel_id=2)


async def video_of(services, requester=ALICE, prompt="a fox", **fields):
    job = await services.job_service.accept(requester, GenerationRequest(prompt=prompt, **fields))
    await finish(services.jobs, job.id, JobOutcome.SUCCEEDED)
    return await posted(services.jobs, job.id)


async def test_continue_video_keeps_the_settings_and_records_the_chain(services):
    source = await video_of(services, duration=8, resolution="480p", ratio="9:16")
    job = await services.job_service.continue_video(BOB, source, prompt="then it runs", seed=5)
    assert (job.user_id, job.origin, job.parent_job_id, job.first_frame_from) == (
        BOB.user_id, JobOrigin.CONTINUE, source.id, source.id)
    assert job.awaits_first_frame and job.request.mode == "text"
    request = job.request
    assert (request.prompt, request.duration, request.resolution, request.ratio, request.seed) == (
        "then it runs", 8, "480p", "9:16", 5)
    assert job.estimated_cost > 0  # counted against the clicker's limits like any job


async def test_continue_video_refuses_a_source_without_a_video(services):
    job = await services.job_service.accept(ALICE, GenerationRequest(prompt="x"))
    failed = await finish(services.jobs, job.id, JobOutcome.FAILED)
    with pytest.raises(Conflict, match="no video to continue"):
        await services.job_service.continue_video(BOB, failed)


async def test_a_request_the_provider_refused_is_not_re_rolled(services):
    job = await services.job_service.accept(ALICE, GenerationRequest(prompt="x", seed=7))
    refused = await finish(services.jobs, job.id, JobOutcome.FAILED, provider_status=REFUSED_STATUS,
                           error="The request was rejected by the content policy.")
    with pytest.raises(Conflict, match="content policy.*Remix"):
        services.job_service.reroll_request(refused)
    failed = await finish(services.jobs, (await services.job_service.accept(
        ALICE, GenerationRequest(prompt="y", seed=7))).id, JobOutcome.FAILED)
    assert services.job_service.reroll_request(failed).seed is None  # picked when accepted


async def test_a_rerun_of_a_continuation_takes_its_frame_afresh(services, clock):
    source = await video_of(services)
    follow = await services.job_service.continue_video(BOB, source)
    frame = MediaInput(url="https://cdn.example/f.png", filename="f.png", content_type="image/png")
    framed = await services.jobs.set_first_frame(follow.id, frame)
    assert framed.request.first_frame == frame and json.loads(framed.payload_json)["first_frame"]
    clock.advance(2 * 86400)  # the attached frame's link is long dead by now
    again = services.job_service.rerun_request(framed, seed=None)
    assert again.first_frame is None  # taken from the source again, not the old link


async def test_a_stitch_costs_and_counts_nothing(services):
    clips = [await video_of(services, prompt=p, duration=5) for p in ("a", "b", "c")]
    before = await services.ledger.usage(1, BOB.user_id, 0, 2**40, refunds_enabled=True)
    film = await services.job_service.stitch(BOB, clips)
    assert (film.origin, film.estimated_cost, film.request.duration) == (JobOrigin.STITCH, 0, 15)
    assert film.payload_json == "{}"  # nothing to send
    assert await services.jobs.clips(film.id) == [Credit(c.id, ALICE.user_id) for c in clips]
    after = await services.ledger.usage(1, BOB.user_id, 0, 2**40, refunds_enabled=True)
    assert after == before


async def test_a_stitch_is_refused_in_words(services):
    clip = await video_of(services)
    job = await services.job_service.accept(ALICE, GenerationRequest(prompt="x"))
    failed = await finish(services.jobs, job.id, JobOutcome.FAILED)
    long_ones = [await video_of(services, duration=15) for _ in range(8)]
    film = await services.job_service.stitch(BOB, long_ones)  # 120 s: the most there can be
    cases = [
        ([clip], "2 to 8 clips"),
        ([clip, clip], "once"),
        ([clip, failed], f"#{failed.id} has no video"),
        (long_ones + [clip], "2 to 8 clips"),
        ([film, clip], "last 125 s together; a stitch can last at most 120 s"),
    ]
    for clips, expected in cases:
        with pytest.raises(Refused, match=expected):
            await services.job_service.stitch(BOB, clips)


async def test_stitch_on_a_result_is_the_chain_of_continuations_ending_there(services):
    first = await video_of(services)
    second = await services.job_service.continue_video(BOB, first)
    await finish(services.jobs, second.id, JobOutcome.SUCCEEDED)
    second = await posted(services.jobs, second.id)
    remix = await services.job_service.accept(BOB, GenerationRequest(prompt="y"),
                                              origin=JobOrigin.REMIX, parent_job_id=second.id)
    assert [j.id for j in await services.job_service.chain_to_stitch(second)] == [first.id, second.id]
    with pytest.raises(Refused, match="nothing to stitch it to"):
        await services.job_service.chain_to_stitch(remix)  # a remix starts afresh
    assert [j.id for j in await services.lineages.ancestry(remix)] == [first.id, second.id, remix.id]


async def test_deleting_a_stitch_gives_nothing_back_because_it_took_nothing(services):
    clips = [await video_of(services, prompt=p) for p in ("a", "b")]
    film = await services.job_service.stitch(BOB, clips)
    await finish(services.jobs, film.id, JobOutcome.SUCCEEDED)
    await posted(services.jobs, film.id)
    before = await services.ledger.usage(1, BOB.user_id, 0, 2**40, refunds_enabled=True)
    await services.job_service.delete(BOB, film.id)
    assert await services.jobs.get(film.id) is None and await services.jobs.clips(film.id) == []
    assert await services.ledger.usage(1, BOB.user_id, 0, 2**40, refunds_enabled=True) == before
    assert await services.db.reader.fetchval("SELECT COUNT(*) FROM deleted_jobs") == 0


async def test_a_continuation_whose_status_message_is_looked_up_gets_its_frame_on_it(
    store, gmi_client, gmi_sim
):
    """Its first step finds the unrecorded status message, then attaches the frame to that
    message (as Discord's side does: no message, no frame) in the same step."""

    class FramesOnStatusMessages(MemoryChat):
        async def find_status_message(self, job):
            return 4321

        async def publish_frame(self, job, image, filename):
            if job.status_message_id is None:
                raise SourceFailed("Its status message is gone, so its first frame can't be posted.")
            return await super().publish_frame(job, image, filename)

    chat = FramesOnStatusMessages()
    async with running_poller(store, gmi_client, chat) as poller:
        source = await accept(store, prompt="shot one")
        poller.wake()
        await delivered(store, source.id)
        follow = await continuation_of(store, source)
        poller.wake()
        done = await delivered(store, follow.id)
    assert done.outcome is JobOutcome.SUCCEEDED, done.error
    assert done.status_message_id == 4321 and len(chat.frames) == 1
