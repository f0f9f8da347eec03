"""Usage reports: per member, per server, top members, spend against budget, CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from bot.errors import PermissionDenied
from bot.jobs.lifecycle import JobOutcome, JobState
from bot.jobs.model import NewJob
from bot.moderation.requester import Requester
from bot.params import GenerationRequest
from bot.services import Services
from tests.support.domain import START
from tests.support.jobs import finish, posted, sent

GUILD = 100
ADMIN = Requester(user_id=1, guild_id=GUILD, channel_id=5, can_manage_guild=True)


def member(user_id: int) -> Requester:
    return Requester(user_id=user_id, guild_id=GUILD, channel_id=5)


@pytest.fixture
def world(services, clock):
    return services.jobs, services, services.usage, clock


async def make(quotas: Services, user_id: int, duration: int = 5, resolution: str = "720p"):
    requester = member(user_id)
    new = NewJob(
        guild_id=GUILD,
        channel_id=5,
        user_id=user_id,
        request=GenerationRequest(prompt="waves", duration=duration, resolution=resolution),
        model="m",
    )
    return await quotas.admission.admit(requester, new, deadline_seconds=600)


async def seed(store, quotas, clock):
    """Member 2: two delivered 720p 5 s (0.8 each) and one failed; member 3: one 1080p 10 s
    (3.6); member 4: a 480p 4 s (0.32) deleted after delivery; one job last month."""
    clock.now = datetime(2026, 2, 20, tzinfo=UTC).timestamp()
    await make(quotas, 2)
    clock.now = START
    for _ in range(2):
        job = await make(quotas, 2)
        await finish(store, job.id, JobOutcome.SUCCEEDED)
    failed = await make(quotas, 2)
    await finish(store, failed.id, JobOutcome.FAILED)
    clock.now += 60
    await make(quotas, 3, duration=10, resolution="1080p")
    gone = await make(quotas, 4, duration=4, resolution="480p")
    await finish(store, gone.id, JobOutcome.SUCCEEDED)
    await posted(store, gone.id)
    await quotas.job_service.delete(ADMIN, gone.id)
    return gone


async def test_member_and_server_usage_for_the_month(world):
    store, quotas, reports, clock = world
    await seed(store, quotas, clock)
    usage = await reports.member_usage(ADMIN, 2)
    assert usage.period.label == "this month"
    assert usage.period.start == datetime(2026, 3, 1, tzinfo=UTC).timestamp()
    t = usage.totals
    assert (t.jobs, t.counted, t.refunded, t.succeeded, t.seconds) == (3, 2, 1, 2, 10)
    assert t.estimated_cost == pytest.approx(1.6)
    server = await reports.server_usage(ADMIN)
    assert server.members == 3
    assert (server.totals.jobs, server.totals.counted, server.totals.seconds) == (5, 4, 24)
    assert server.totals.estimated_cost == pytest.approx(1.6 + 3.6 + 0.32)
    previous = await reports.server_usage(ADMIN, await reports.period(GUILD, previous=True))
    assert previous.totals.jobs == 1
    assert previous.period.label == "last month"
    assert previous.period.start == datetime(2026, 2, 1, tzinfo=UTC).timestamp()
    today = await reports.member_usage(ADMIN, 3, await reports.period(GUILD, "day"))
    assert today.totals.seconds == 10


async def test_refunds_off_reports_failed_jobs_as_counted_but_not_as_spend(world):
    store, quotas, reports, clock = world
    await seed(store, quotas, clock)
    await quotas.server_settings.set_refunds(ADMIN, False)
    t = (await reports.member_usage(ADMIN, 2)).totals
    assert (t.counted, t.refunded, t.seconds) == (3, 0, 15)
    assert t.estimated_cost == pytest.approx(1.6)  # the provider bills no failed job


async def test_top_members_and_spend_against_budget(world):
    store, quotas, reports, clock = world
    await seed(store, quotas, clock)
    await quotas.server_settings.set_monthly_budget(ADMIN, 10)
    top = await reports.top_members(ADMIN)
    assert [m.user_id for m in top] == [3, 2, 4]
    top_by_count = await reports.top_members(ADMIN, by="generations", limit=1)
    assert [m.user_id for m in top_by_count] == [2]
    spend = (await reports.server_usage(ADMIN)).budget
    assert spend.budget == 10 and spend.spent == pytest.approx(5.52)
    assert spend.remaining == pytest.approx(4.48)
    assert spend.resets_at == datetime(2026, 4, 1, tzinfo=UTC).timestamp()


async def test_csv_export_has_one_row_per_job_including_deleted(world):
    store, quotas, reports, clock = world
    gone = await seed(store, quotas, clock)
    data = await reports.export_csv(ADMIN)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert len(rows) == 5
    assert rows[0]["created_at_utc"] == "2026-03-04T12:00:00+00:00"
    assert "<" not in data.decode()  # names and ISO times, never Discord markup
    assert [r["state"] for r in rows[:3]] == ["succeeded", "succeeded", "failed"]
    assert [r["counted"] for r in rows[:3]] == ["1", "1", "0"]
    third = rows[3]
    assert (third["user_id"], third["seconds"], third["resolution"]) == ("3", "10", "1080p")
    assert (third["estimated_cost"], third["deleted"]) == ("3.6000", "0")
    deleted = rows[4]
    assert (deleted["job_id"], deleted["deleted"], deleted["estimated_cost"]) == (
        str(gone.id),
        "1",
        "0.3200",
    )


async def test_members_see_only_their_own_usage(world):
    store, quotas, reports, clock = world
    await seed(store, quotas, clock)
    own = await reports.member_usage(member(3), 3)
    assert own.totals.counted == 1
    for call in (
        reports.member_usage(member(3), 2),
        reports.server_usage(member(3)),
        reports.top_members(member(3)),
        reports.export_csv(member(3)),
    ):
        with pytest.raises(PermissionDenied):
            await call


async def test_periods_are_named_as_reports_show_them(world):
    store, quotas, reports, clock = world
    names = {
        (window, previous): (await reports.period(GUILD, window, previous=previous)).label
        for window in ("day", "week", "month")
        for previous in (False, True)
    }
    assert names == {
        ("day", False): "today",
        ("day", True): "yesterday",
        ("week", False): "this week",
        ("week", True): "last week",
        ("month", False): "this month",
        ("month", True): "last month",
    }
    custom = await reports.period(GUILD, start=START - 3600, end=START)
    assert custom.label == "in the chosen period"


async def test_spend_counts_what_the_provider_bills_even_when_the_member_is_refunded(world):
    store, quotas, reports, clock = world
    reached = await make(quotas, 2)  # 0.8, cancelled after it reached the provider
    await sent(store, reached.id, "r1")
    await finish(store, reached.id, JobOutcome.CANCELLED, from_state=JobState.QUEUED)
    unsent = await make(quotas, 2)  # cancelled before it was sent
    await finish(store, unsent.id, JobOutcome.CANCELLED)
    t = (await reports.member_usage(ADMIN, 2)).totals
    assert (t.jobs, t.counted, t.refunded, t.seconds) == (2, 0, 2, 0)
    assert t.estimated_cost == pytest.approx(0.8)
    server = await reports.server_usage(ADMIN)
    assert server.totals.estimated_cost == pytest.approx(0.8)
    assert server.budget.spent == pytest.approx(0.8)
    rows = list(csv.DictReader(io.StringIO((await reports.export_csv(ADMIN)).decode())))
    assert [(r["counted"], r["billed"]) for r in rows] == [("0", "1"), ("0", "0")]


async def test_csv_export_names_members_and_channels(world):
    store, quotas, reports, clock = world
    await seed(store, quotas, clock)

    async def names(users, channels):
        assert users == {2, 3, 4} and channels == {5}
        return {2: "Alice", 3: "Bob"}, {5: "videos"}

    data = await reports.export_csv(ADMIN, names=names)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert [(r["user"], r["channel"]) for r in rows[:4]] == [("Alice", "videos")] * 3 + [
        ("Bob", "videos")
    ]
    assert rows[4]["user"] == ""  # a member Discord no longer knows: the id column says who
