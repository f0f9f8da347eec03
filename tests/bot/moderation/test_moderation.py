"""Who moderates, settings, blocks, blocked patterns, the audit trail, and job control."""

from __future__ import annotations

import json

import pytest

from bot.db.filters import BlockedPattern
from bot.db.servers import GuildSettings
from bot.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from bot.jobs.lifecycle import JobOutcome, JobState
from bot.jobs.model import NewJob
from bot.moderation.audit import AuditAction
from bot.moderation.prompt_filter import PatternError, compile_blocked_pattern, find_blocked_pattern
from bot.moderation.requester import Requester, is_moderator
from bot.params import GenerationRequest
from cogs.videoadmin.parsing import parse_deadline, parse_expiry
from cogs.videoadmin.render import audit_line
from tests.support.domain import START
from tests.support.jobs import finish, posted, sent

GUILD = 100


ADMIN = Requester(user_id=1, guild_id=GUILD, channel_id=5, can_manage_guild=True)
MEMBER = Requester(user_id=2, guild_id=GUILD, channel_id=5)
OTHER = Requester(user_id=3, guild_id=GUILD, channel_id=5)
MOD = Requester(user_id=4, guild_id=GUILD, channel_id=5, role_ids=frozenset({77}))


def test_is_moderator():
    settings = GuildSettings(guild_id=GUILD, mod_role_id=77)
    assert is_moderator(True, [], None)
    assert is_moderator(False, [1, 77], settings)
    assert not is_moderator(False, [1], settings)
    assert not is_moderator(False, [77], GuildSettings(guild_id=GUILD))


async def test_a_non_moderator_is_refused_everything(services):
    calls = [
        services.server_settings.set_mod_role(MEMBER, 2),
        services.server_settings.set_mod_log_channel(MEMBER, 9),
        services.server_settings.set_timezone(MEMBER, "UTC"),
        services.server_settings.set_reset_hour(MEMBER, 3),
        services.server_settings.set_refunds(MEMBER, False),
        services.server_settings.set_monthly_budget(MEMBER, 1000),
        services.server_settings.allow_channel(MEMBER, 9),
        services.member_blocks.block(MEMBER, 3, "x"),
        services.member_blocks.unblock(MEMBER, 2),
        services.member_blocks.listed(MEMBER),
        services.prompt_filter.add(MEMBER, "word"),
        services.prompt_filter.remove(MEMBER, 1),
        services.prompt_filter.listed(MEMBER),
        services.prompt_filter.refusals(MEMBER),
        services.audit.listed(MEMBER),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied):
            await call
    assert await services.audit.listed(ADMIN) == []


async def test_the_moderator_role_moderates_but_cannot_pass_the_role_on(services):
    with pytest.raises(PermissionDenied):
        await services.member_blocks.listed(MOD)
    await services.server_settings.set_mod_role(ADMIN, 77)
    assert await services.member_blocks.listed(MOD) == []
    await services.server_settings.set_monthly_budget(MOD, 50)
    with pytest.raises(PermissionDenied, match="Manage Server"):
        await services.server_settings.set_mod_role(MOD, 78)
    with pytest.raises(PermissionDenied):
        await services.member_blocks.listed(Requester(user_id=4, guild_id=999, channel_id=5))


async def test_settings_are_validated_and_audited_with_old_and_new(services, clock):
    with pytest.raises(InvalidInput, match="time zone"):
        await services.server_settings.set_timezone(ADMIN, "Mars/Olympus")
    with pytest.raises(InvalidInput):
        await services.server_settings.set_reset_hour(ADMIN, 24)
    await services.server_settings.set_monthly_budget(ADMIN, 25)
    clock.now += 10
    entry = await services.server_settings.set_monthly_budget(ADMIN, 40.5)
    assert (entry.action, entry.target, entry.old_value, entry.new_value) == (
        AuditAction.BUDGET,
        "server",
        "25.0",
        "40.5",
    )
    assert entry.at == START + 10
    refunds = await services.server_settings.set_refunds(ADMIN, False)
    assert (refunds.old_value, refunds.new_value) == ("1", "0")  # raw values are stored
    assert audit_line(refunds, "USD").endswith("set refunds for the server: on → off")
    await services.server_settings.set_mod_log_channel(ADMIN, 4242)
    settings = await services.server_settings.get(GUILD)
    assert settings.monthly_budget == 40.5 and not settings.refunds_enabled
    assert settings.mod_log_channel_id == 4242
    audit = await services.audit.listed(ADMIN)
    assert [e.action for e in audit] == [
        AuditAction.MOD_LOG,
        AuditAction.REFUNDS,
        AuditAction.BUDGET,
        AuditAction.BUDGET,
    ]
    assert audit[0].new_value == "4242"  # an id, not a mention
    assert "<@1> set the monthly budget of the server: 25.00 USD → 40.50 USD" in audit_line(audit[2], "USD")


async def test_blocks_with_reason_and_expiry(services, clock):
    entry = await services.member_blocks.block(ADMIN, 2, "posting gore", expires_at=START + 600)
    assert entry.target == "user:2"
    assert json.loads(entry.new_value) == {"reason": "posting gore", "expires_at": START + 600}
    assert f"posting gore (until <t:{int(START + 600)}:f>)" in audit_line(entry, "USD")
    blocks = await services.member_blocks.listed(ADMIN)
    assert [(b.user_id, b.reason, b.expires_at) for b in blocks] == [
        (2, "posting gore", START + 600)
    ]
    with pytest.raises(InvalidInput):
        await services.member_blocks.block(ADMIN, 3, "late", expires_at=START - 1)
    clock.now = START + 600
    assert await services.member_blocks.listed(ADMIN) == []
    with pytest.raises(InvalidInput, match="not blocked"):
        await services.member_blocks.unblock(ADMIN, 2)
    await services.member_blocks.block(ADMIN, 3, "for good")
    unblock = await services.member_blocks.unblock(ADMIN, 3)
    assert audit_line(unblock, "USD").endswith(": for good (no expiry) → (none)")
    assert unblock.new_value is None


def test_block_expiry_takes_the_same_durations_as_cooldowns():
    assert parse_expiry("30s", START) == START + 30
    assert parse_expiry("1h30m", START) == START + 5400
    assert parse_expiry("1d12h", START) == START + 129600
    assert parse_expiry("2w", START) == START + 14 * 86400
    assert parse_expiry("never", START) is None
    with pytest.raises(InvalidInput, match="not a length of time"):
        parse_expiry("soon", START)
    with pytest.raises(InvalidInput, match="longer"):
        parse_expiry("0m", START)


def test_a_challenge_deadline_is_a_length_of_time_or_a_time_in_the_servers_zone():
    assert parse_deadline("2d", START, "UTC") == START + 2 * 86400
    assert parse_deadline("2026-03-05 18:00", START, "Europe/Paris") == START + 29 * 3600  # 17:00 UTC
    assert parse_deadline("2026-03-05T18:00+00:00", START, "Europe/Paris") == START + 30 * 3600
    with pytest.raises(InvalidInput, match="neither a length of time"):
        parse_deadline("next friday", START, "UTC")


def test_word_patterns_match_whole_words_in_any_case_and_width():
    word = compile_blocked_pattern("word", "bad word")
    assert word.search("a BAD   word here")
    assert not word.search("badword")
    assert not word.search("a bad words list")
    assert word.search("bad word.") and word.search("(bad word)")

    patterns = [BlockedPattern(1, GUILD, "word", "gore", 1, 0.0)]
    assert find_blocked_pattern(patterns, "some ｇｏｒｅ please")  # full-width letters
    assert find_blocked_pattern(patterns, "gorgeous") is None


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("(unclosed", "missing \\)"),
        ("x" * 201, "at most 200"),
        (r"(a)\1", "Backreferences"),
        (r"(?<!x)a", "lookarounds"),
        ("", "empty"),
    ],
)
def test_invalid_regexes_are_refused_with_the_reason(pattern, problem):
    with pytest.raises(PatternError, match=problem):
        compile_blocked_pattern("regex", pattern)


@pytest.mark.parametrize("pattern", ["(a+)+b", "(a|aa)+$", ".*a.*b", "a{0,20}b{0,20}c{0,20}d"])
def test_patterns_that_backtrack_forever_elsewhere_match_in_linear_time(pattern):
    """With a backtracking engine each of these takes minutes on this prompt (and would trip
    the test's timeout); RE2 answers at once, so none of them needs refusing."""
    compiled = compile_blocked_pattern("regex", pattern)
    assert compiled.search("a" * 100_000 + "!") is None


def test_simple_regexes_are_accepted():
    compiled = compile_blocked_pattern("regex", r"\bn[a4]k[e3]d\b")
    assert compiled.search("N4KED")
    assert compile_blocked_pattern("regex", r"kill\s*all")
    assert compile_blocked_pattern("regex", r"(?:foo|bar)baz\d{1,3}")


async def test_patterns_are_listed_removed_and_prompts_checked(services):
    word, entry = await services.prompt_filter.add(ADMIN, "gore")
    assert (entry.new_value, entry.action, entry.subject) == ("gore", AuditAction.FILTER_ADD, "word")
    regex, _ = await services.prompt_filter.add(ADMIN, r"bl[o0]{2}d", kind="regex")
    with pytest.raises(PatternError, match="already"):
        await services.prompt_filter.add(ADMIN, "gore")
    listed = await services.prompt_filter.listed(ADMIN)
    assert [p.id for p in listed] == [word.id, regex.id]
    assert find_blocked_pattern(listed, "pools of BL00D").id == regex.id
    assert find_blocked_pattern(listed, "a sunny meadow") is None
    await services.prompt_filter.record_refusal(MEMBER, regex, "pools of BL00D")
    events = await services.prompt_filter.refusals(ADMIN)
    assert [(e.user_id, e.pattern, e.prompt_excerpt) for e in events] == [
        (2, r"bl[o0]{2}d", "pools of BL00D")
    ]
    removed = await services.prompt_filter.remove(ADMIN, regex.id)
    assert removed.old_value == r"bl[o0]{2}d"
    listed = await services.prompt_filter.listed(ADMIN)
    assert find_blocked_pattern(listed, "pools of BL00D") is None
    with pytest.raises(InvalidInput):
        await services.prompt_filter.remove(ADMIN, regex.id)


async def test_audit_lists_newest_first_and_filters(services, clock):
    await services.member_blocks.block(ADMIN, 2, "one")
    clock.now += 1
    await services.member_blocks.block(ADMIN, 3, "two")
    clock.now += 1
    await services.server_settings.allow_channel(ADMIN, 55)
    audit = await services.audit.listed(ADMIN)
    assert [e.target for e in audit] == ["channel:55", "user:3", "user:2"]
    assert [e.target for e in await services.audit.listed(ADMIN, target="user:2")] == ["user:2"]
    assert len(await services.audit.listed(ADMIN, limit=1, offset=1)) == 1
    assert "<#55>" in audit_line(audit[0], "USD")


# -- job control -----------------------------------------------------------------------------


async def make_job(store, requester: Requester):
    return await store.accept(
        NewJob(
            guild_id=requester.guild_id,
            channel_id=requester.channel_id,
            user_id=requester.user_id,
            request=GenerationRequest(prompt="a lighthouse"),
            model="m",
            estimated_cost=0.8,
        ),
        deadline_seconds=600,
    )


async def test_members_cancel_their_own_jobs_only(services, store, clock):
    actions = services.job_service
    job = await make_job(store, MEMBER)
    with pytest.raises(PermissionDenied):
        await actions.cancel(OTHER, job.id)
    result = await actions.cancel(MEMBER, job.id)
    assert result.job.outcome is JobOutcome.CANCELLED and result.audit is None
    assert result.job.state is JobState.FINISHED and result.job.cancelled_by == MEMBER.user_id
    assert result.job.next_check_at == clock.now  # the scheduler posts the outcome
    with pytest.raises(Conflict):
        await actions.cancel(MEMBER, job.id)
    with pytest.raises(NotFound):
        await actions.cancel(Requester(user_id=2, guild_id=999, channel_id=1), job.id)


async def test_moderators_cancel_and_delete_any_job_in_their_server(services, store):
    actions = services.job_service
    job = await make_job(store, MEMBER)
    with pytest.raises(Conflict, match="cancel it first"):
        await actions.delete(ADMIN, job.id)
    cancelled = await actions.cancel(ADMIN, job.id)
    assert (cancelled.audit.action, cancelled.audit.subject) == (AuditAction.JOB_CANCEL, str(job.id))
    assert (cancelled.audit.old_value, cancelled.audit.new_value) == ("accepted", "cancelled")
    assert f"cancelled job #{job.id} of <@2>" in audit_line(cancelled.audit, "USD")
    await posted(store, job.id)
    deleted = await actions.delete(ADMIN, job.id)
    assert deleted.job.id == job.id and deleted.audit.target == "user:2"
    assert await store.get(job.id) is None
    assert [e.action for e in await services.audit.listed(ADMIN)] == [
        AuditAction.JOB_DELETE,
        AuditAction.JOB_CANCEL,
    ]


async def test_deleting_a_delivered_job_keeps_its_usage(services, store):
    await services.limit_admin.set_limit(ADMIN, "server", None, "generations_per_day", "1")
    job = await make_job(store, MEMBER)
    await finish(store, job.id, JobOutcome.SUCCEEDED)
    await posted(store, job.id)
    await services.job_service.delete(MEMBER, job.id)
    standing = await services.standings.of_member(MEMBER)
    assert standing.windows[0].generations.used == 1
    assert (await services.standings.budget(GUILD)).spent == pytest.approx(0.8)


@pytest.mark.parametrize("end", [JobOutcome.SUCCEEDED, JobOutcome.FAILED, JobOutcome.CANCELLED])
async def test_a_finished_job_is_not_deleted_before_its_outcome_is_posted(services, store, end):
    actions = services.job_service
    job = await make_job(store, MEMBER)
    await finish(store, job.id, end)
    with pytest.raises(Conflict, match=f"Job #{job.id} is still being posted; try again"):
        await actions.delete(MEMBER, job.id)
    assert await store.get(job.id) is not None
    await posted(store, job.id)
    await actions.delete(MEMBER, job.id)
    assert await store.get(job.id) is None


async def test_deleting_cancelled_jobs_keeps_the_money_the_provider_spent(services, store):
    actions = services.job_service
    reached = await make_job(store, MEMBER)
    await sent(store, reached.id, "r1")
    unsent = await make_job(store, MEMBER)
    for job in (reached, unsent):
        await actions.cancel(MEMBER, job.id)
        await posted(store, job.id)
        await actions.delete(MEMBER, job.id)
    assert (await services.standings.budget(GUILD)).spent == pytest.approx(0.8)  # only the one sent
    assert (await services.standings.of_member(MEMBER)).windows[0].generations.used == 0
