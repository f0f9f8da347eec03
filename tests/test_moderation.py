"""Who moderates, settings, blocks, blocked patterns, the audit trail, and job control."""

from __future__ import annotations

import pytest

from bot.job_actions import JobActions, JobNotChangeable, JobNotFound
from bot.jobs import JobState, NewJob
from bot.moderation import (
    GuildSettings,
    Moderation,
    ModerationError,
    PatternError,
    PermissionDenied,
    Requester,
    compile_blocked_pattern,
    find_blocked_pattern,
    is_moderator,
)
from bot.params import GenerationRequest
from bot.quotas import Quotas
from cogs.videoadmin.parsing import parse_expiry
from tests.domain_fixtures import START

GUILD = 100


@pytest.fixture
async def moderation(store):
    return Moderation(store)


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


async def test_a_non_moderator_is_refused_everything(moderation):
    calls = [
        moderation.set_mod_role(MEMBER, 2),
        moderation.set_mod_log_channel(MEMBER, 9),
        moderation.set_timezone(MEMBER, "UTC"),
        moderation.set_reset_hour(MEMBER, 3),
        moderation.set_refunds(MEMBER, False),
        moderation.set_monthly_budget(MEMBER, 1000),
        moderation.allow_channel(MEMBER, 9),
        moderation.block_member(MEMBER, 3, "x"),
        moderation.unblock_member(MEMBER, 2),
        moderation.list_blocks(MEMBER),
        moderation.add_blocked_pattern(MEMBER, "word"),
        moderation.remove_blocked_pattern(MEMBER, 1),
        moderation.list_blocked_patterns(MEMBER),
        moderation.list_blocked_prompt_events(MEMBER),
        moderation.list_audit(MEMBER),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied):
            await call
    assert await moderation.list_audit(ADMIN) == []


async def test_the_moderator_role_moderates_but_cannot_pass_the_role_on(moderation):
    with pytest.raises(PermissionDenied):
        await moderation.list_blocks(MOD)
    await moderation.set_mod_role(ADMIN, 77)
    assert await moderation.list_blocks(MOD) == []
    await moderation.set_monthly_budget(MOD, 50)
    with pytest.raises(PermissionDenied, match="Manage Server"):
        await moderation.set_mod_role(MOD, 78)
    with pytest.raises(PermissionDenied):
        await moderation.list_blocks(Requester(user_id=4, guild_id=999, channel_id=5))


async def test_settings_are_validated_and_audited_with_old_and_new(moderation, clock):
    with pytest.raises(ModerationError, match="time zone"):
        await moderation.set_timezone(ADMIN, "Mars/Olympus")
    with pytest.raises(ModerationError):
        await moderation.set_reset_hour(ADMIN, 24)
    await moderation.set_monthly_budget(ADMIN, 25)
    clock.now += 10
    entry = await moderation.set_monthly_budget(ADMIN, 40.5)
    assert (entry.action, entry.target, entry.old_value, entry.new_value) == (
        "set the monthly budget of",
        "server",
        "25.0",
        "40.5",
    )
    assert entry.at == START + 10
    refunds = await moderation.set_refunds(ADMIN, False)
    assert (refunds.old_value, refunds.new_value) == ("on", "off")
    await moderation.set_mod_log_channel(ADMIN, 4242)
    settings = await moderation.guild_settings(GUILD)
    assert settings.monthly_budget == 40.5 and not settings.refunds_enabled
    assert settings.mod_log_channel_id == 4242
    audit = await moderation.list_audit(ADMIN)
    assert [e.action for e in audit] == [
        "set the mod-log channel of",
        "set refunds for",
        "set the monthly budget of",
        "set the monthly budget of",
    ]
    assert "<@1> set the monthly budget of the server: 25.0 → 40.5" in audit[2].describe()


async def test_blocks_with_reason_and_expiry(moderation, clock):
    entry = await moderation.block_member(ADMIN, 2, "posting gore", expires_at=START + 600)
    assert entry.target == "user:2" and entry.new_value.startswith("posting gore (until <t:")
    blocks = await moderation.list_blocks(ADMIN)
    assert [(b.user_id, b.reason, b.expires_at) for b in blocks] == [
        (2, "posting gore", START + 600)
    ]
    with pytest.raises(ModerationError):
        await moderation.block_member(ADMIN, 3, "late", expires_at=START - 1)
    clock.now = START + 600
    assert await moderation.list_blocks(ADMIN) == []
    with pytest.raises(ModerationError, match="not blocked"):
        await moderation.unblock_member(ADMIN, 2)
    await moderation.block_member(ADMIN, 3, "for good")
    unblock = await moderation.unblock_member(ADMIN, 3)
    assert unblock.old_value == "for good (no expiry)" and unblock.new_value is None


def test_block_expiry_takes_the_same_durations_as_cooldowns():
    assert parse_expiry("30s", START) == START + 30
    assert parse_expiry("1h30m", START) == START + 5400
    assert parse_expiry("1d12h", START) == START + 129600
    assert parse_expiry("2w", START) == START + 14 * 86400
    assert parse_expiry("never", START) is None
    with pytest.raises(ModerationError, match="not a length of time"):
        parse_expiry("soon", START)
    with pytest.raises(ModerationError, match="longer"):
        parse_expiry("0m", START)


def test_word_patterns_match_whole_words_in_any_case_and_width():
    word = compile_blocked_pattern("word", "bad word")
    assert word.search("a BAD   word here")
    assert not word.search("badword")
    assert not word.search("a bad words list")
    from bot.moderation import BlockedPattern

    patterns = [BlockedPattern(1, GUILD, "word", "gore", 1, 0.0)]
    assert find_blocked_pattern(patterns, "some ｇｏｒｅ please")  # full-width letters
    assert find_blocked_pattern(patterns, "gorgeous") is None


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("(unclosed", "does not compile"),
        ("x" * 201, "at most 200"),
        ("(a+)+b", "inside a repeat"),
        ("(a|aa)+", "alternation"),
        (r"(a)\1", "Backreferences"),
        (".*a.*b", "one unbounded"),
        ("a{0,20}b{0,20}c{0,20}", "too many"),
        ("", "empty"),
    ],
)
def test_unsafe_or_invalid_regexes_are_refused_with_the_reason(pattern, problem):
    with pytest.raises(PatternError, match=problem):
        compile_blocked_pattern("regex", pattern)


def test_simple_regexes_are_accepted():
    compiled = compile_blocked_pattern("regex", r"\bn[a4]k[e3]d\b")
    assert compiled.search("N4KED")
    assert compile_blocked_pattern("regex", r"kill\s*all")
    assert compile_blocked_pattern("regex", r"(?:foo|bar)baz\d{1,3}")


async def test_patterns_are_listed_removed_and_prompts_checked(moderation):
    word, entry = await moderation.add_blocked_pattern(ADMIN, "gore")
    assert entry.new_value == "gore" and entry.action == "blocked the word"
    regex, _ = await moderation.add_blocked_pattern(ADMIN, r"bl[o0]{2}d", kind="regex")
    with pytest.raises(PatternError, match="already"):
        await moderation.add_blocked_pattern(ADMIN, "gore")
    listed = await moderation.list_blocked_patterns(ADMIN)
    assert [p.id for p in listed] == [word.id, regex.id]
    assert find_blocked_pattern(listed, "pools of BL00D").id == regex.id
    assert find_blocked_pattern(listed, "a sunny meadow") is None
    await moderation.record_blocked_prompt(MEMBER, regex, "pools of BL00D")
    events = await moderation.list_blocked_prompt_events(ADMIN)
    assert [(e.user_id, e.pattern, e.prompt_excerpt) for e in events] == [
        (2, r"bl[o0]{2}d", "pools of BL00D")
    ]
    removed = await moderation.remove_blocked_pattern(ADMIN, regex.id)
    assert removed.old_value == r"bl[o0]{2}d"
    listed = await moderation.list_blocked_patterns(ADMIN)
    assert find_blocked_pattern(listed, "pools of BL00D") is None
    with pytest.raises(ModerationError):
        await moderation.remove_blocked_pattern(ADMIN, regex.id)


async def test_audit_lists_newest_first_and_filters(moderation, clock):
    await moderation.block_member(ADMIN, 2, "one")
    clock.now += 1
    await moderation.block_member(ADMIN, 3, "two")
    clock.now += 1
    await moderation.allow_channel(ADMIN, 55)
    audit = await moderation.list_audit(ADMIN)
    assert [e.target for e in audit] == ["channel:55", "user:3", "user:2"]
    assert [e.target for e in await moderation.list_audit(ADMIN, target="user:2")] == ["user:2"]
    assert len(await moderation.list_audit(ADMIN, limit=1, offset=1)) == 1
    assert "<#55>" in audit[0].describe()


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


async def delivered(store, job) -> None:
    """What the scheduler does once the job's outcome is posted."""
    current = await store.get(job.id)
    await store.transition(job.id, from_states=[current.state], delivered_at=current.updated_at)


async def test_members_cancel_their_own_jobs_only(store, clock):
    actions = JobActions(store)
    job = await make_job(store, MEMBER)
    with pytest.raises(PermissionDenied):
        await actions.cancel_job(job.id, OTHER)
    result = await actions.cancel_job(job.id, MEMBER)
    assert result.job.state is JobState.CANCELLED and result.audit is None
    assert result.job.next_check_at == clock.now  # the scheduler posts the outcome
    with pytest.raises(JobNotChangeable):
        await actions.cancel_job(job.id, MEMBER)
    with pytest.raises(JobNotFound):
        await actions.cancel_job(job.id, Requester(user_id=2, guild_id=999, channel_id=1))


async def test_moderators_cancel_and_delete_any_job_in_their_server(store, moderation):
    actions = JobActions(store)
    job = await make_job(store, MEMBER)
    with pytest.raises(JobNotChangeable, match="cancel it first"):
        await actions.delete_job(job.id, ADMIN)
    cancelled = await actions.cancel_job(job.id, ADMIN)
    assert cancelled.audit.action == f"cancelled job #{job.id} of"
    assert (cancelled.audit.old_value, cancelled.audit.new_value) == ("accepted", "cancelled")
    await delivered(store, job)
    deleted = await actions.delete_job(job.id, ADMIN)
    assert deleted.job.id == job.id and deleted.audit.target == "user:2"
    assert await store.get(job.id) is None
    assert [e.action for e in await moderation.list_audit(ADMIN)] == [
        f"deleted job #{job.id} of",
        f"cancelled job #{job.id} of",
    ]


async def test_deleting_a_delivered_job_keeps_its_usage(store):
    quotas = Quotas(store)
    await quotas.set_limit(ADMIN, "server", None, "generations_per_day", "1")
    job = await make_job(store, MEMBER)
    await store.transition(job.id, from_states=[JobState.ACCEPTED], to_state=JobState.SUCCEEDED)
    await delivered(store, job)
    await JobActions(store).delete_job(job.id, MEMBER)
    standing = await quotas.standing(MEMBER)
    assert standing.windows[0].generations.used == 1
    assert (await quotas.budget(GUILD)).spent == pytest.approx(0.8)


@pytest.mark.parametrize("end", [JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED])
async def test_a_finished_job_is_not_deleted_before_its_outcome_is_posted(store, end):
    actions = JobActions(store)
    job = await make_job(store, MEMBER)
    await store.transition(job.id, from_states=[JobState.ACCEPTED], to_state=end)
    with pytest.raises(JobNotChangeable, match=f"Job #{job.id} is still being posted; try again"):
        await actions.delete_job(job.id, MEMBER)
    assert await store.get(job.id) is not None
    await delivered(store, job)
    await actions.delete_job(job.id, MEMBER)
    assert await store.get(job.id) is None


async def test_deleting_cancelled_jobs_keeps_the_money_the_provider_spent(store):
    quotas = Quotas(store)
    actions = JobActions(store)
    sent = await make_job(store, MEMBER)
    await store.transition(
        sent.id, from_states=[JobState.ACCEPTED], to_state=JobState.QUEUED, request_id="r1"
    )
    unsent = await make_job(store, MEMBER)
    for job in (sent, unsent):
        await actions.cancel_job(job.id, MEMBER)
        await delivered(store, job)
        await actions.delete_job(job.id, MEMBER)
    assert (await quotas.budget(GUILD)).spent == pytest.approx(0.8)  # only the one sent
    assert (await quotas.standing(MEMBER)).windows[0].generations.used == 0  # both refunded
