"""The chaos suite (`bench.chaos`): its audit counts each kind of failure it is shown, and
a short run with a fixed seed (every named instant killed at least once) loses nothing."""

from __future__ import annotations

import sys
from collections import Counter

import pytest

from bench.chaos.__main__ import describe
from bench.chaos.audit import (
    RESULT_FOOTER,
    STATUS_FOOTER,
    Asked,
    Charge,
    Observed,
    Shown,
    audit,
    charge_shown,
    footer_pattern,
)
from bench.chaos.driver import ChaosConfig, run_chaos
from bot.chaos import POINTS, KillAt
from bot.jobs.lifecycle import OUTCOME_LABELS, JobOutcome
from bot.jobs.model import NewJob
from bot.params import GenerationRequest
from cogs.video.messages import ICONS, job_title, result_marker, status_marker
from tests.support.jobs import finish, posted

ALICE, BOB = 11, 12


async def stored(store, prompt, outcome=JobOutcome.SUCCEEDED, *, settle=True):
    job = await store.accept(
        NewJob(guild_id=1, channel_id=2, user_id=ALICE, request=GenerationRequest(prompt=prompt),
               model="m"),
        deadline_seconds=3600,
    )  # fmt: skip
    await finish(store, job.id, outcome)
    return await posted(store, job.id) if settle else await store.get(job.id)


def status_of(job, *, cancel=False):
    return Shown(job.id, job_title(job), job.request.prompt, ("video:cancel:1",) if cancel else ())


def result_of(job, outcome=None):
    outcome = outcome or job.outcome
    return Shown(job.id, f"{ICONS[outcome]} {OUTCOME_LABELS[outcome]}", job.request.prompt, ())


def observed(jobs, **parts):
    """A run in which every job was asked by Alice (5 s), shown, posted once and sent once,
    and her quota reads one video per success; keywords replace each part."""
    done = sum(j.outcome is JobOutcome.SUCCEEDED for j in jobs)
    defaults = {
        "asked": {j.request.prompt: Asked(j.request.prompt, ALICE, 5) for j in jobs},
        "status": {j.id: [status_of(j)] for j in jobs},
        "results": {j.id: [result_of(j)] for j in jobs},
        "submits": Counter(j.request.prompt for j in jobs),
        "jobs": {j.id: j for j in jobs},
        "usage": {ALICE: Charge(done, 5 * done)},
    }
    return Observed(**{**defaults, **parts})


def counts(result):
    return (result.lost, result.posted_twice, result.extra_submits, result.stale_status,
            result.quota_wrong)  # fmt: skip


async def test_a_clean_run_counts_nothing_and_refunds_what_failed(store):
    jobs = [await stored(store, "a"), await stored(store, "b", JobOutcome.FAILED)]
    result = audit(observed(jobs))
    assert result.jobs == 2 and counts(result) == (0, 0, 0, 0, 0), result.problems
    assert result.outcomes == Counter({"succeeded": 1, "failed": 1})


async def test_each_kind_of_failure_is_counted(store):
    one, two, three = [await stored(store, p) for p in ("one", "two", "three")]
    result = audit(
        observed(
            [one, two, three],
            results={one.id: [result_of(one)] * 2, two.id: [result_of(two)]},  # three: none
            submits=Counter({"one": 2, "two": 1, "three": 1, "never shown": 1}),
            status={one.id: [status_of(one)], two.id: [status_of(two, cancel=True)],
                    three.id: [status_of(three)]},
        )  # fmt: skip
    )
    assert result.lost == 1 and result.posted_twice == 1
    assert result.extra_submits == 2  # one's second request, and one for a job nobody saw
    assert result.stale_status == 1  # two still offers Cancel
    assert result.quota_wrong == 1  # three is charged (3 videos shown) but never posted: 2


async def test_a_status_message_that_never_got_its_final_look_is_stale(store):
    job = await stored(store, "x")
    before = await stored(store, "y", settle=False)  # as it looked before it was posted
    view = Shown(job.id, job_title(before), "x", ())
    result = audit(observed([job], status={job.id: [view]}))
    assert result.stale_status == 1 and "✅ Delivered" in result.problems[0]


async def test_a_job_nobody_was_shown_owes_nothing_and_must_not_be_posted(store):
    job = await stored(store, "ghost")
    result = audit(observed([job], status={}, submits=Counter(), usage={ALICE: Charge(0, 0)}))
    assert result.jobs == 0 and result.lost == 0 and result.quota_wrong == 0
    assert result.problems == [f"job #{job.id}: a result was posted, but nobody was shown the job"]


async def test_a_result_that_contradicts_the_database_is_a_problem(store):
    job = await stored(store, "x", JobOutcome.FAILED)
    result = audit(
        observed([job], results={job.id: [result_of(job, JobOutcome.SUCCEEDED)]},
                 usage={ALICE: Charge(1, 5)})
    )  # fmt: skip
    assert counts(result) == (0, 0, 0, 0, 0)
    assert result.problems == [f"job #{job.id}: posted as ['succeeded'], stored as failed"]


def test_footers_name_their_job_exactly():
    assert STATUS_FOOTER.match(status_marker(12) + " · request r")[1] == "12"
    assert RESULT_FOOTER.match(result_marker(7))[1] == "7"
    assert STATUS_FOOTER.match(result_marker(7)) is None
    assert footer_pattern(status_marker).match("Job #12x") is None


def test_the_quota_text_reads_back_as_a_charge():
    text = ("**This month:** 3 of 100000 videos (server), 17 of 1e+06 seconds (server); "
            "resets <t:1:R>")  # fmt: skip
    assert charge_shown(text) == Charge(3, 17)
    assert charge_shown("No limits apply to you here.") == Charge(-1, -1)


@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")
async def test_a_short_chaos_run_kills_at_every_named_instant_and_loses_nothing(tmp_path):
    config = ChaosConfig(
        jobs=3, kills=len(POINTS), members=3, seed=4, faults=False, workdir=tmp_path,
        named=tuple(KillAt(point) for point in POINTS), settle_seconds=40,
    )  # fmt: skip
    report = await run_chaos(config)
    assert report.clean, describe(1, config.seed, report)
    assert set(report.named) == set(POINTS), describe(1, config.seed, report)
