"""The approval lane in the domain: which jobs are held, that the scheduler never takes a
held job, and that each review is decided once, by a moderator, without charge on denial."""

from __future__ import annotations

import asyncio

import pytest

from bot.db.reviews import ReviewDecision
from bot.errors import Conflict, InvalidInput, PermissionDenied
from bot.jobs.lifecycle import JobOutcome, JobState
from bot.jobs.model import ReviewReason
from bot.moderation.requester import Requester
from bot.moderation.reviews import REVIEW_LIFETIME, AlreadyDecided
from bot.params import GenerationRequest, MediaInput
from bot.quotas.admission import AdmissionRefused

GUILD = 100
ADMIN = Requester(user_id=1, guild_id=GUILD, channel_id=5, can_manage_guild=True)
OTHER_ADMIN = Requester(user_id=9, guild_id=GUILD, channel_id=5, can_manage_guild=True)
MEMBER = Requester(user_id=2, guild_id=GUILD, channel_id=5)
TRUSTED = Requester(user_id=3, guild_id=GUILD, channel_id=5, role_ids=frozenset({42}))

CHEAP = GenerationRequest(prompt="a fox", duration=5)  # 0.80 at 720p
DEAR = GenerationRequest(prompt="a fox", duration=10)  # 1.60
WITH_VIDEO = GenerationRequest(
    prompt="like this", reference_videos=(MediaInput(url="https://example.com/a.mp4"),)
)


async def accept(services, requester: Requester, request: GenerationRequest):
    job = await services.job_service.accept(requester, request)
    await services.jobs.set_status_message(job.id, 1000 + job.id)
    return await services.jobs.get(job.id)


@pytest.fixture
async def lane(services):
    await services.server_settings.set_review_channel(ADMIN, 77)
    await services.server_settings.set_review_cost_above(ADMIN, 1.0)
    await services.server_settings.set_review_reference_videos(ADMIN, True)
    return services


async def test_each_rule_holds_its_jobs_and_moderators_are_never_held(lane, services):
    cheap = await accept(services, MEMBER, CHEAP)
    dear = await accept(services, MEMBER, DEAR)
    video = await accept(services, MEMBER, WITH_VIDEO)
    mine = await accept(services, ADMIN, DEAR)
    assert (cheap.held, dear.held, video.held, mine.held) == (False, True, True, False)
    assert (await services.reviews.get(dear.id)).reasons == (ReviewReason.COST,)
    assert ReviewReason.REFERENCE_VIDEOS in (await services.reviews.get(video.id)).reasons
    assert await services.reviews.get(cheap.id) is None
    await services.server_settings.set_review_unless_role(ADMIN, 42)
    assert (await accept(services, MEMBER, CHEAP)).held
    assert not (await accept(services, TRUSTED, CHEAP)).held


async def test_the_scheduler_never_takes_a_held_job_until_it_is_approved(lane, services, clock):
    held = await accept(services, MEMBER, DEAR)
    clock.advance(3600 * 5)  # far past its deadline: a held job does not time out either
    assert await services.jobs.claim_due(clock(), 10, 60) == []
    assert await services.jobs.next_due_at() is None
    approved = await services.reviews.approve(ADMIN, held.id)
    assert approved.job.deadline_at == clock() + 3600.0  # counted from the approval
    (claimed,) = await services.jobs.claim_due(clock(), 10, 60)
    assert claimed.id == held.id and claimed.state is JobState.ACCEPTED


async def test_a_denial_ends_the_job_unsent_and_gives_the_quota_back(lane, services):
    await services.limit_admin.set_limit(ADMIN, "server", GUILD, "generations_per_day", "1")
    held = await accept(services, MEMBER, WITH_VIDEO)
    with pytest.raises(AdmissionRefused):
        await services.job_service.accept(MEMBER, CHEAP)  # the held job reserves the quota
    with pytest.raises(InvalidInput):
        await services.reviews.deny(ADMIN, held.id, "   ")
    denied = await services.reviews.deny(ADMIN, held.id, "no  clips\nof films")
    assert denied.job.outcome is JobOutcome.CANCELLED and denied.job.request_id is None
    assert denied.job.cancelled_by == ADMIN.user_id and not denied.job.held
    assert denied.job.error == "Not approved: no clips of films"
    assert denied.review.decision is ReviewDecision.DENIED and denied.review.reason == "no clips of films"
    assert denied.audit is not None and denied.audit.new_value == "no clips of films"
    assert (await accept(services, MEMBER, CHEAP)).id  # the quota is back


async def test_only_moderators_decide(lane, services):
    held = await accept(services, MEMBER, DEAR)
    for call in (
        services.reviews.approve(MEMBER, held.id),
        services.reviews.deny(MEMBER, held.id, "no"),
        services.reviews.undecided(MEMBER, held.id),
    ):
        with pytest.raises(PermissionDenied):
            await call
    assert (await services.jobs.get(held.id)).held


async def test_two_decisions_at_once_exactly_one_wins(lane, services):
    held = await accept(services, MEMBER, DEAR)
    results = await asyncio.gather(
        services.reviews.approve(ADMIN, held.id),
        services.reviews.deny(OTHER_ADMIN, held.id, "too long"),
        services.reviews.approve(OTHER_ADMIN, held.id),
        return_exceptions=True,
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, AlreadyDecided)]
    assert len(won) == 1 and len(lost) == 2, results
    review = await services.reviews.get(held.id)
    assert review.decision is won[0].review.decision
    assert all(error.review.decision is review.decision for error in lost)
    entries = await services.audit.listed(ADMIN)
    assert len([e for e in entries if e.action.startswith("review.")]) == 1


async def test_a_cancelled_held_job_withdraws_its_review(lane, services):
    held = await accept(services, MEMBER, DEAR)
    await services.job_service.cancel(MEMBER, held.id)
    (closed,) = await services.reviews.close_due()
    assert closed.review.decision is ReviewDecision.WITHDRAWN
    with pytest.raises(Conflict):
        await services.reviews.approve(ADMIN, held.id)
    assert await services.jobs.claim_due(services.clock(), 10, 60)  # its outcome is posted


async def test_an_undecided_review_expires_without_charge(lane, services, clock):
    await accept(services, MEMBER, DEAR)
    assert await services.reviews.close_due() == []
    clock.advance(REVIEW_LIFETIME)
    (expired,) = await services.reviews.close_due()
    assert expired.review.decision is ReviewDecision.EXPIRED
    assert expired.job.outcome is JobOutcome.TIMED_OUT and expired.job.request_id is None
    assert await services.reviews.close_due() == []
