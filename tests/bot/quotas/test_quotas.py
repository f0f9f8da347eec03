"""Limits, gates, role resolution, windows, refunds, the budget and the race, against the
real services on a temp database with an injected clock."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.db.database import Database
from bot.db.limits import StoredLimit
from bot.durations import parse_duration
from bot.errors import InvalidInput, PermissionDenied, Unavailable
from bot.jobs.lifecycle import JobOutcome, JobState
from bot.jobs.model import TOO_BUSY, Job, NewJob
from bot.moderation.requester import Requester
from bot.params import GenerationRequest, MediaInput
from bot.quotas.admission import AdmissionRefused
from bot.quotas.catalogue import (
    LIMITS,
    Cooldown,
    HighestResolution,
    Permission,
    Quantity,
    Window,
    limit_spec,
)
from bot.quotas.resolution import DEFAULT, SERVER, LimitSource, resolve_limits
from bot.quotas.windows import window_bounds
from bot.services import JobPolicy, Services, build_services
from cogs.video.messages import standing_lines
from cogs.videoadmin.render import audit_line
from tests.support.domain import PRICES, START
from tests.support.jobs import finish, posted, sent

GUILD = 100
CHANNEL = 200


@pytest.fixture
def quotas(services) -> Services:
    return services


MOD = Requester(user_id=1, guild_id=GUILD, channel_id=CHANNEL, can_manage_guild=True)


def member(user_id: int = 2, roles=(), channel: int = CHANNEL, parent: int | None = None):
    return Requester(
        user_id=user_id,
        guild_id=GUILD,
        channel_id=channel,
        parent_channel_id=parent,
        role_ids=frozenset(roles),
        role_names=((10, "Patrons"), (11, "Regulars"), (12, "Newcomers")),
    )


def new_job(requester: Requester, **params) -> NewJob:
    params.setdefault("prompt", "a cat on a skateboard")
    return NewJob(
        guild_id=requester.guild_id,
        channel_id=requester.channel_id,
        user_id=requester.user_id,
        request=GenerationRequest(**params),
        model="seedance",
    )


async def admit(quotas: Services, requester: Requester, **params):
    return await quotas.admission.admit(requester, new_job(requester, **params), deadline_seconds=3600)


async def refused(quotas: Services, requester: Requester, **params):
    with pytest.raises(AdmissionRefused) as info:
        await admit(quotas, requester, **params)
    return info.value.refusal


async def set_limit(quotas, name, value, scope="server", scope_id=None):
    await quotas.limit_admin.set_limit(MOD, scope, scope_id, name, value)


def ts(when: datetime) -> int:
    return int(when.timestamp())


# -- each limit ----------------------------------------------------------------------------


async def test_generations_per_day_refuses_and_says_who_and_when(quotas):
    await set_limit(quotas, "generations_per_day", "2")
    await admit(quotas, member())
    await admit(quotas, member())
    refusal = await refused(quotas, member())
    assert refusal.limit == "generations_per_day"
    assert refusal.scope == "server"
    assert refusal.frees_at == datetime(2026, 3, 5, tzinfo=UTC)
    assert "You've made 2 videos today, and your limit is 2 videos" in refusal.message
    assert "(set for the whole server)" in refusal.message
    reset = ts(datetime(2026, 3, 5, tzinfo=UTC))
    assert f"<t:{reset}:R>" in refusal.message and f"<t:{reset}:f>" in refusal.message
    await admit(quotas, member(user_id=3))  # another member has their own count


async def test_a_job_whose_turn_to_be_stored_comes_too_late_is_not_stored_or_counted(
    quotas, clock
):
    await set_limit(quotas, "generations_per_day", "1")
    late = replace(member(), answer_by=clock() - 0.1)  # its answer could not reach Discord
    in_time = replace(member(), answer_by=clock() + 1)
    service = quotas.job_service
    results = await asyncio.gather(
        service.accept(late, GenerationRequest("a")),
        service.accept(in_time, GenerationRequest("b")),  # in the same group commit
        return_exceptions=True,
    )
    assert isinstance(results[0], Unavailable) and results[0].message == TOO_BUSY
    assert isinstance(results[1], Job) and results[1].request.prompt == "b"  # the day's one
    assert await quotas.jobs.count_in_flight() == 1


async def test_seconds_per_week_counts_the_duration_asked(quotas):
    await set_limit(quotas, "seconds_per_week", "12")
    await admit(quotas, member(), duration=5)
    refusal = await refused(quotas, member(), duration=8)
    assert refusal.limit == "seconds_per_week"
    assert "7 seconds left" in refusal.message
    # the week resets on Monday 9 March at midnight UTC
    assert refusal.frees_at == datetime(2026, 3, 9, tzinfo=UTC)
    await admit(quotas, member(), duration=7)
    await refused(quotas, member(), duration=4)


async def test_cost_per_month_uses_the_price_table_estimate(quotas, store):
    await set_limit(quotas, "cost_per_month", "1.0")
    job = await admit(quotas, member(), resolution="720p", duration=5)
    assert job.estimated_cost == pytest.approx(0.8)  # every job records its estimate
    refusal = await refused(quotas, member(), resolution="480p", duration=4)  # 0.32 more
    assert refusal.limit == "cost_per_month"
    assert refusal.frees_at == datetime(2026, 4, 1, tzinfo=UTC)
    assert "0.20 USD left" in refusal.message
    with_video = new_job(
        member(),
        resolution="480p",
        duration=4,
        reference_videos=(MediaInput("https://cdn.example/v.mp4"),),
    )
    assert quotas.admission.estimate(with_video.request) == pytest.approx(0.64)  # x2 multiplier


async def test_concurrent_jobs_free_up_when_one_finishes(quotas, store):
    await set_limit(quotas, "concurrent_jobs", "1")
    job = await admit(quotas, member())
    refusal = await refused(quotas, member())
    assert refusal.limit == "concurrent_jobs" and refusal.frees_at is None
    assert "You already have 1 video in progress" in refusal.message
    await finish(store, job.id, JobOutcome.SUCCEEDED)
    await admit(quotas, member())


async def test_cooldown_between_requests(quotas, clock):
    await set_limit(quotas, "cooldown_seconds", "90s")
    await admit(quotas, member())
    clock.now += 30
    refusal = await refused(quotas, member())
    assert refusal.limit == "cooldown_seconds"
    assert refusal.frees_at == datetime.fromtimestamp(START + 90, UTC)
    clock.now = START + 90
    await admit(quotas, member())


@pytest.mark.parametrize(
    ("name", "value", "params"),
    [
        ("max_duration", "5", {"duration": 6}),
        ("max_resolution", "480p", {"resolution": "720p"}),
        ("web_search", "deny", {"web_search": True}),
        (
            "reference_images",
            "deny",
            {"reference_images": (MediaInput("https://cdn.example/a.png"),)},
        ),
        ("reference_images", "deny", {"first_frame": MediaInput("https://cdn.example/a.png")}),
        (
            "reference_videos",
            "deny",
            {
                "reference_images": (MediaInput("https://cdn.example/a.png"),),
                "reference_videos": (MediaInput("https://cdn.example/v.mp4"),),
            },
        ),
        (
            "reference_audios",
            "deny",
            {
                "reference_images": (MediaInput("https://cdn.example/a.png"),),
                "reference_audios": (MediaInput("https://cdn.example/a.mp3"),),
            },
        ),
    ],
)
async def test_gates_refuse_what_is_not_allowed(quotas, name, value, params):
    await set_limit(quotas, name, value)
    refusal = await refused(quotas, member(), **params)
    assert refusal.limit == name and refusal.scope == "server"
    await set_limit(quotas, name, "allow" if value == "deny" else "unlimited", "role", 10)
    await admit(quotas, member(roles=[10]), **params)  # a role may open it again


async def test_gates_within_the_limit_pass(quotas):
    await set_limit(quotas, "max_duration", "8")
    await set_limit(quotas, "max_resolution", "720p")
    await admit(quotas, member(), duration=8, resolution="480p")


async def test_generation_only_in_allowed_channels_and_their_threads(quotas):
    await quotas.server_settings.allow_channel(MOD, 555)
    await quotas.server_settings.allow_channel(MOD, 556)
    refusal = await refused(quotas, member(channel=CHANNEL))
    assert refusal.limit == "channel"
    assert "<#555>" in refusal.message and "<#556>" in refusal.message
    await admit(quotas, member(channel=555))
    await admit(quotas, member(channel=9999, parent=556))  # a thread under an allowed channel


async def test_direct_messages_are_refused(quotas):
    dm = Requester(user_id=2, guild_id=None, channel_id=5)
    assert (await refused(quotas, dm)).limit == "dm"


async def test_blocked_member_until_the_block_expires(quotas, clock):
    await quotas.member_blocks.block(MOD, 2, "spam", expires_at=START + 3600)
    refusal = await refused(quotas, member())
    assert refusal.limit == "blocked" and "spam" in refusal.message
    assert refusal.frees_at == datetime.fromtimestamp(START + 3600, UTC)
    await admit(quotas, member(user_id=3))
    clock.now = START + 3600
    await admit(quotas, member())


async def test_blocked_prompt_is_refused_and_recorded(quotas, store):
    await quotas.prompt_filter.add(MOD, "forbidden thing")
    refusal = await refused(quotas, member(), prompt="A FORBIDDEN   thing in the rain")
    assert refusal.limit == "blocked_prompt"
    await admit(quotas, member(), prompt="a forbiddenthing is one word, fine")
    # through the bare admission (as `admit` uses it) the event is recorded too
    await refused(quotas, member(), prompt="forbidden thing again")
    await quotas.tasks.drain()
    events = await quotas.prompt_filter.refusals(MOD)
    assert [e.prompt_excerpt for e in events] == [
        "forbidden thing again",
        "A FORBIDDEN thing in the rain",  # as the request holds it: spaces collapsed
    ]
    assert await store.count_for_user(2, GUILD) == 1  # nothing written for the refusals


# -- role resolution -----------------------------------------------------------------------


async def test_most_generous_role_wins_and_unlimited_beats_numbers(quotas):
    await set_limit(quotas, "generations_per_day", "1")
    await set_limit(quotas, "generations_per_day", "3", "role", 10)
    await set_limit(quotas, "generations_per_day", "unlimited", "role", 11)
    await set_limit(quotas, "generations_per_day", "2", "role", 12)
    limits = await quotas.limit_admin.effective_limits(MOD, member(roles=[10, 12]))
    assert limits["generations_per_day"].value == Quantity(3)
    assert limits["generations_per_day"].source == LimitSource("role", "Patrons")
    limits = await quotas.limit_admin.effective_limits(MOD, member(roles=[10, 11, 12]))
    assert limits["generations_per_day"].value == Quantity(None)
    assert limits["generations_per_day"].source == LimitSource("role", "Regulars")
    limits = await quotas.limit_admin.effective_limits(MOD, member(roles=[99]))
    assert limits["generations_per_day"].value == Quantity(1)
    assert limits["generations_per_day"].source == SERVER


async def test_a_role_can_be_stricter_than_the_server_default(quotas):
    await set_limit(quotas, "generations_per_day", "10")
    await set_limit(quotas, "generations_per_day", "1", "role", 12)
    await admit(quotas, member(roles=[12]))
    refusal = await refused(quotas, member(roles=[12]))
    assert refusal.scope == "role Newcomers"
    assert "Newcomers role" in refusal.message


async def test_member_override_beats_roles_and_server(quotas):
    await set_limit(quotas, "generations_per_day", "unlimited", "role", 11)
    await set_limit(quotas, "generations_per_day", "1", "member", 2)
    await admit(quotas, member(roles=[11]))
    refusal = await refused(quotas, member(roles=[11]))
    assert refusal.scope == "member override"
    await quotas.limit_admin.clear_limit(MOD, "member", 2, "generations_per_day")
    await admit(quotas, member(roles=[11]))


def test_resolution_without_role_names_mentions_the_role():
    rows = [
        StoredLimit("role", 7, "concurrent_jobs", Quantity(2), 1, START),
        StoredLimit("role", 8, "cooldown_seconds", Cooldown(60), 1, START),
        StoredLimit("role", 9, "cooldown_seconds", Cooldown(10), 1, START),
    ]
    requester = Requester(user_id=1, guild_id=GUILD, channel_id=1, role_ids=(7, 8, 9))
    limits = resolve_limits(rows, requester)
    assert limits["concurrent_jobs"].source == LimitSource("role", "<@&7>")
    assert limits.cooldown_seconds == 10  # the shorter cooldown is more generous
    assert limits["web_search"].value == Permission(True)
    assert limits["web_search"].source == DEFAULT


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("30s", 30),
        ("5m", 300),
        ("5 minutes", 300),
        ("1.5h", 5400),
        ("1h30m", 5400),
        ("1 hour 30 minutes", 5400),
        ("1d12h", 129600),
        ("2w", 1209600),
        ("2W", 1209600),
    ],
)
def test_one_duration_parser_takes_both_styles(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "1h30", "5 parsecs", "h1", "-5m"])
def test_what_is_not_a_duration(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_limit_values_are_parsed_with_clear_errors():
    assert LIMITS["cooldown_seconds"].parse("5m") == Cooldown(300)
    assert LIMITS["cooldown_seconds"].parse("1h30m") == Cooldown(5400)
    assert LIMITS["cooldown_seconds"].parse("none") == Cooldown(0)
    assert LIMITS["cost_per_day"].parse("2.5") == Quantity(2.5)
    assert LIMITS["generations_per_week"].parse("Unlimited") == Quantity(None)
    assert LIMITS["max_resolution"].parse("1080P") == HighestResolution("1080p")
    for name, value, says in [
        ("generations_per_day", "-1", "can't be negative"),
        ("generations_per_day", "1.5", "a whole number"),
        ("max_resolution", "4k", "480p, 720p, 1080p"),
        ("web_search", "maybe", "`allow` or `deny`"),
        ("no_such_limit", "1", "is not a limit"),
    ]:
        with pytest.raises(InvalidInput, match=says):
            limit_spec(name).parse(value)


# -- windows -------------------------------------------------------------------------------


def test_window_bounds_in_the_server_timezone():
    paris = ZoneInfo("Europe/Paris")
    now = datetime(2026, 3, 4, 5, 30, tzinfo=paris).timestamp()  # Wednesday 05:30
    day = window_bounds(Window.DAY, now, "Europe/Paris", 6)
    assert day == (
        datetime(2026, 3, 3, 6, tzinfo=paris).timestamp(),
        datetime(2026, 3, 4, 6, tzinfo=paris).timestamp(),
    )
    week = window_bounds(Window.WEEK, now, "Europe/Paris", 6)
    assert week[0] == datetime(2026, 3, 2, 6, tzinfo=paris).timestamp()
    month = window_bounds(Window.MONTH, now, "Europe/Paris", 6)
    assert month == (
        datetime(2026, 3, 1, 6, tzinfo=paris).timestamp(),
        datetime(2026, 4, 1, 6, tzinfo=paris).timestamp(),
    )
    # across the spring DST change a day is 23 hours long
    dst = window_bounds(
        Window.DAY, datetime(2026, 3, 29, 12, tzinfo=paris).timestamp(), "Europe/Paris", 0
    )
    assert dst[1] - dst[0] == 23 * 3600
    # a month that starts before the reset hour belongs to the previous month
    first = datetime(2026, 1, 1, 3, tzinfo=paris).timestamp()
    assert (
        window_bounds(Window.MONTH, first, "Europe/Paris", 6)[0]
        == datetime(2025, 12, 1, 6, tzinfo=paris).timestamp()
    )


@pytest.mark.parametrize(
    ("window", "before", "after"),
    [
        # day resets at 06:00 Paris time
        ("day", datetime(2026, 3, 4, 5, 59), datetime(2026, 3, 4, 6, 0)),
        # week resets on Monday 06:00
        ("week", datetime(2026, 3, 9, 5, 59), datetime(2026, 3, 9, 6, 0)),
        # month resets on the 1st at 06:00
        ("month", datetime(2026, 4, 1, 5, 59), datetime(2026, 4, 1, 6, 0)),
    ],
)
async def test_limits_reset_at_the_servers_reset_hour(quotas, clock, window, before, after):
    paris = ZoneInfo("Europe/Paris")
    await quotas.server_settings.set_timezone(MOD, "Europe/Paris")
    await quotas.server_settings.set_reset_hour(MOD, 6)
    await set_limit(quotas, f"generations_per_{window}", "1")
    clock.now = before.replace(tzinfo=paris).timestamp() - 60
    await admit(quotas, member())
    clock.now = before.replace(tzinfo=paris).timestamp()
    refusal = await refused(quotas, member())
    assert refusal.frees_at == after.replace(tzinfo=paris).astimezone(UTC)
    clock.now = after.replace(tzinfo=paris).timestamp()
    await admit(quotas, member())


# -- the race ------------------------------------------------------------------------------


async def test_twenty_simultaneous_requests_with_five_left_accept_exactly_five(quotas, store):
    await set_limit(quotas, "generations_per_day", "8")
    for _ in range(3):
        await admit(quotas, member())
    requester = member()
    results = await asyncio.gather(
        *[
            quotas.admission.admit(requester, new_job(requester), deadline_seconds=600)
            for _ in range(20)
        ],
        return_exceptions=True,
    )
    accepted = [r for r in results if not isinstance(r, BaseException)]
    refusals = [r for r in results if isinstance(r, AdmissionRefused)]
    assert len(accepted) == 5 and len(refusals) == 15
    assert await store.count_for_user(2, GUILD) == 8


async def test_twenty_requests_over_two_connections_with_five_left_accept_exactly_five(
    quotas, store, database_location, clock
):
    """As two bot processes on one database would: each admission's check and insert
    still run one at a time."""
    await set_limit(quotas, "generations_per_day", "8")
    for _ in range(3):
        await admit(quotas, member())
    other = build_services(await Database.open(database_location), JobPolicy(price_table=PRICES), clock)
    try:
        requester = member()
        results = await asyncio.gather(
            *[
                services.admission.admit(requester, new_job(requester), deadline_seconds=600)
                for _ in range(10)
                for services in (quotas, other)
            ],
            return_exceptions=True,
        )
    finally:
        await other.close()
    accepted = [r for r in results if not isinstance(r, BaseException)]
    refusals = [r for r in results if isinstance(r, AdmissionRefused)]
    assert len(accepted) == 5 and len(refusals) == 15
    assert await store.count_for_user(2, GUILD) == 8


async def test_the_budget_holds_under_a_race_between_members(quotas, store):
    await quotas.server_settings.set_monthly_budget(MOD, 4.0)  # five 720p 5 s videos
    results = await asyncio.gather(
        *[admit(quotas, member(user_id=10 + i)) for i in range(12)], return_exceptions=True
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 5
    assert (await quotas.standings.budget(GUILD)).spent == pytest.approx(4.0)


# -- refunds -------------------------------------------------------------------------------


@pytest.mark.parametrize("end", [JobOutcome.FAILED, JobOutcome.CANCELLED, JobOutcome.TIMED_OUT])
async def test_failed_cancelled_and_timed_out_jobs_are_refunded(quotas, store, end):
    await set_limit(quotas, "generations_per_day", "1")
    job = await admit(quotas, member())
    await refused(quotas, member())
    await finish(store, job.id, end)
    await admit(quotas, member())


async def test_delivered_jobs_are_kept(quotas, store):
    await set_limit(quotas, "generations_per_day", "1")
    job = await admit(quotas, member())
    await posted(store, (await finish(store, job.id, JobOutcome.SUCCEEDED)).id)
    await refused(quotas, member())


async def test_refunds_off_counts_failed_jobs(quotas, store):
    await quotas.server_settings.set_refunds(MOD, False)
    await set_limit(quotas, "generations_per_day", "1")
    job = await admit(quotas, member())
    await finish(store, job.id, JobOutcome.FAILED)
    await refused(quotas, member())


async def reached_the_provider_then(store, job, end: JobOutcome) -> None:
    """The job is sent (the provider gives it a request id), then ends in ``end``."""
    await sent(store, job.id, f"r{job.id}")
    await finish(store, job.id, end, from_state=JobState.QUEUED)


@pytest.mark.parametrize("end", [JobOutcome.CANCELLED, JobOutcome.TIMED_OUT])
async def test_a_job_stopped_after_it_was_sent_is_refunded_but_its_money_is_spent(
    quotas, store, end
):
    await quotas.server_settings.set_monthly_budget(MOD, 1.6)  # two 720p 5 s videos
    await set_limit(quotas, "generations_per_day", "1")
    job = await admit(quotas, member())
    await reached_the_provider_then(store, job, end)
    standing = await quotas.standings.of_member(member())
    assert standing.windows[0].generations.used == 0  # the member gets it back
    assert standing.budget.spent == pytest.approx(0.8)  # the provider still generates it
    await admit(quotas, member())
    assert (await refused(quotas, member(user_id=3))).limit == "budget"


@pytest.mark.parametrize("refunds", [True, False])
async def test_the_budget_skips_jobs_the_provider_failed_and_jobs_never_sent(
    quotas, store, refunds
):
    await quotas.server_settings.set_refunds(MOD, refunds)
    failed = await admit(quotas, member())
    await reached_the_provider_then(store, failed, JobOutcome.FAILED)
    for end in (JobOutcome.CANCELLED, JobOutcome.TIMED_OUT):
        unsent = await admit(quotas, member())
        await finish(store, unsent.id, end)
    await admit(quotas, member())  # on its way: reserved
    assert (await quotas.standings.budget(GUILD)).spent == pytest.approx(0.8)


async def test_refunds_off_a_job_cancelled_before_it_was_sent_counts_nowhere(quotas, store):
    await quotas.server_settings.set_refunds(MOD, False)
    await set_limit(quotas, "generations_per_day", "1")
    job = await admit(quotas, member())
    await finish(store, job.id, JobOutcome.CANCELLED)
    await admit(quotas, member())
    await refused(quotas, member())


# -- the server budget ---------------------------------------------------------------------


async def test_budget_exhaustion_says_when_it_resets(quotas, clock):
    await quotas.server_settings.set_timezone(MOD, "America/New_York")
    await quotas.server_settings.set_monthly_budget(MOD, 1.6)
    await admit(quotas, member(user_id=2))
    await admit(quotas, member(user_id=3))
    refusal = await refused(quotas, member(user_id=4))
    assert refusal.limit == "budget" and refusal.scope == "server budget"
    resets = datetime(2026, 4, 1, tzinfo=ZoneInfo("America/New_York"))
    assert refusal.frees_at == resets.astimezone(UTC)
    assert f"<t:{ts(resets)}:R>" in refusal.message
    assert "1.60 USD of 1.60 USD" in refusal.message
    clock.now = resets.timestamp()
    await admit(quotas, member(user_id=4))


async def test_a_member_reset_does_not_refill_the_budget(quotas):
    await quotas.server_settings.set_monthly_budget(MOD, 0.8)
    await admit(quotas, member())
    await quotas.limit_admin.reset(MOD, 2)
    assert (await refused(quotas, member())).limit == "budget"


# -- grants and resets ---------------------------------------------------------------------


async def test_grant_adds_to_the_current_window_only(quotas, clock):
    await set_limit(quotas, "generations_per_day", "1")
    await admit(quotas, member())
    await quotas.limit_admin.grant(MOD, 2, "day", generations=2)
    await admit(quotas, member())
    await admit(quotas, member())
    refusal = await refused(quotas, member())
    assert "with 2 extra videos granted" in refusal.message
    clock.now += 86400  # the next day: the grant is gone, the base limit is back
    await admit(quotas, member())
    await refused(quotas, member())


async def test_reset_starts_the_count_afresh_and_survives_later_refunds(quotas, store, clock):
    await set_limit(quotas, "generations_per_day", "2")
    first = await admit(quotas, member())
    await admit(quotas, member())
    await refused(quotas, member())
    clock.now += 1
    entry = await quotas.limit_admin.reset(MOD, 2, "day")
    assert audit_line(entry, "USD").endswith(": day: 2 videos, 10 seconds, 1.60 USD → nothing used")
    # a job from before the reset failing later gives nothing more back
    await finish(store, first.id, JobOutcome.FAILED)
    await admit(quotas, member())
    await admit(quotas, member())
    await refused(quotas, member())


async def test_standing_shows_what_is_left_and_when_it_resets(quotas, clock):
    await set_limit(quotas, "generations_per_day", "3")
    await set_limit(quotas, "seconds_per_week", "30", "role", 10)
    await set_limit(quotas, "concurrent_jobs", "2")
    await set_limit(quotas, "cooldown_seconds", "60")
    await quotas.server_settings.set_monthly_budget(MOD, 10)
    await admit(quotas, member(roles=[10]), duration=6)
    standing = await quotas.standings.of_member(member(roles=[10]))
    day = standing.windows[0]
    assert day.window is Window.DAY and day.generations.remaining == 2
    assert day.resets_at == datetime(2026, 3, 5, tzinfo=UTC).timestamp()
    week = standing.windows[1]
    assert week.seconds.used == 6 and week.seconds.remaining == 24
    assert week.seconds.source == LimitSource("role", "Patrons")
    assert standing.active_jobs == 1 and standing.cooldown_until == START + 60
    assert standing.budget.spent == pytest.approx(0.96)
    text = "\n".join(standing_lines(standing, "USD"))
    assert "1 of 3 videos (set for the whole server)" in text
    assert f"<t:{ts(datetime(2026, 3, 5, tzinfo=UTC))}:R>" in text
    assert "6 of 30 seconds (set for the Patrons role)" in text
    assert "Server budget: 0.96 USD of 10.00 USD" in text


# -- moderators only -----------------------------------------------------------------------


async def test_a_non_moderator_cannot_change_limits(quotas):
    sneaky = member()
    for call in (
        quotas.limit_admin.set_limit(sneaky, "server", None, "generations_per_day", "unlimited"),
        quotas.limit_admin.clear_limit(sneaky, "member", 2, "generations_per_day"),
        quotas.limit_admin.grant(sneaky, 2, "day", generations=100),
        quotas.limit_admin.reset(sneaky, 2),
        quotas.limit_admin.list_limits(sneaky),
    ):
        with pytest.raises(PermissionDenied):
            await call
    assert await quotas.limit_admin.list_limits(MOD) == []


async def test_moderator_role_may_set_limits_and_each_change_is_audited(quotas):
    await quotas.server_settings.set_mod_role(MOD, 77)
    mod = member(user_id=5, roles=[77])
    await quotas.limit_admin.set_limit(mod, "role", 10, "generations_per_day", "5")
    entry = await quotas.limit_admin.set_limit(mod, "role", 10, "generations_per_day", "7")
    assert (entry.actor_id, entry.target, entry.old_value, entry.new_value) == (
        5,
        "role:10",
        "5",
        "7",
    )
    assert audit_line(entry, "USD").endswith(
        "<@5> set the limit generations_per_day for role <@&10>: 5 → 7"
    )
    cleared = await quotas.limit_admin.clear_limit(mod, "role", 10, "generations_per_day")
    assert (cleared.old_value, cleared.new_value) == ("7", None)
    listed = await quotas.limit_admin.list_limits(mod)
    assert listed == []


async def test_grants_and_resets_survive_a_change_of_time_zone_or_reset_hour(quotas, clock):
    await set_limit(quotas, "generations_per_day", "1")
    await admit(quotas, member())
    await quotas.limit_admin.grant(MOD, 2, "day", generations=1)
    await quotas.server_settings.set_timezone(MOD, "Asia/Tokyo")  # the day now starts elsewhere
    await quotas.server_settings.set_reset_hour(MOD, 6)
    await admit(quotas, member())  # the grant still applies
    await refused(quotas, member())
    clock.advance(1)
    await quotas.limit_admin.reset(MOD, 2, "day")
    await quotas.server_settings.set_timezone(MOD, "America/New_York")
    await admit(quotas, member())  # and so does the reset
