"""Job previews without Discord: when a job is shown first, and that one preview becomes at
most one job, in the transaction that stores it, on each engine."""

from __future__ import annotations

import asyncio

import pytest

from bot.errors import Conflict, PermissionDenied
from bot.jobs.model import JobDraft
from bot.jobs.previews import PREVIEW_LIFETIME
from bot.moderation.requester import Requester
from bot.params import GenerationRequest

ALICE = Requester(user_id=1, guild_id=10, channel_id=20)
BOB = Requester(user_id=2, guild_id=10, channel_id=20)
MOD = Requester(user_id=9, guild_id=10, channel_id=20, can_manage_guild=True)
DRAFT = JobDraft(GenerationRequest(prompt="a fox"))  # 720p, 5 s: 0.80


async def test_the_server_amount_asks_above_it_and_not_at_or_below(services):
    previews = services.job_previews
    assert not await previews.wanted(ALICE, DRAFT, asked=False)
    assert await previews.wanted(ALICE, DRAFT, asked=True)
    await services.server_settings.set_confirm_above(MOD, 0.8)
    assert not await previews.wanted(ALICE, DRAFT, asked=False)  # 0.80 is not above 0.80
    await services.server_settings.set_confirm_above(MOD, 0.79)
    assert await previews.wanted(ALICE, DRAFT, asked=False)
    with pytest.raises(PermissionDenied):
        await services.server_settings.set_confirm_above(ALICE, None)


async def test_two_confirms_in_one_batch_store_one_job(services):
    previews = services.job_previews
    shown = (await previews.propose(ALICE, DRAFT, interaction_token=None)).preview
    assert shown.estimated_cost == 0.8 and await services.jobs.count_for_user(1, 10) == 0
    results = await asyncio.gather(
        *(previews.confirm(ALICE, shown, interaction_token=None) for _ in range(3)),
        return_exceptions=True,
    )
    (job,) = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert [str(r) for r in refused] == [f"You already confirmed this: it is job #{job.id}."] * 2
    assert await services.jobs.count_for_user(1, 10) == 1
    assert (await services.previews.get(shown.id)).job_id == job.id


async def test_an_ended_preview_stores_nothing(services, clock):
    previews = services.job_previews
    cancelled = (await previews.propose(ALICE, DRAFT, interaction_token=None)).preview
    with pytest.raises(PermissionDenied):
        await previews.cancel(BOB, cancelled.id)
    await previews.cancel(ALICE, cancelled.id)
    with pytest.raises(Conflict, match="You cancelled this preview"):
        await previews.confirm(ALICE, cancelled, interaction_token=None)
    expired = (await previews.propose(ALICE, DRAFT, interaction_token=None)).preview
    clock.advance(PREVIEW_LIFETIME)
    with pytest.raises(Conflict, match="This preview expired"):
        await previews.confirm(ALICE, expired, interaction_token=None)
    with pytest.raises(Conflict, match="This preview expired"):
        await previews.cancel(ALICE, expired.id)
    assert await services.jobs.count_for_user(1, 10) == 0
