"""The chaos suite (`bench.chaos`): its audit counts each kind of failure it is shown, and
a short run with a fixed seed (every named instant killed at least once) loses nothing."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import replace
from types import SimpleNamespace

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
    shown,
)
from bench.chaos.driver import ChaosConfig, run_chaos
from bot.chaos import POINTS, KillAt
from bot.jobs.delivery import Outcome
from bot.jobs.lifecycle import JobOutcome, JobState
from bot.jobs.model import NewJob
from bot.params import GenerationRequest
from bot.quotas.catalogue import Metric
from bot.quotas.counting import Meter
from bot.quotas.resolution import LimitSource
from cogs.video.components import result_view, status_view
from cogs.video.messages import (
    message_link,
    meter_text,
    result_embed,
    result_marker,
    status_embed,
    status_marker,
    status_pointer,
)
from tests.support.jobs import finish, posted

ALICE, BOB = 11, 12
GUILD, CHANNEL = 1, 2


async def stored(store, prompt, outcome=JobOutcome.SUCCEEDED, *, settle=True):
    job = await store.accept(
        NewJob(guild_id=GUILD, channel_id=CHANNEL, user_id=ALICE,
               request=GenerationRequest(prompt=prompt), model="m"),
        deadline_seconds=3600,
    )  # fmt: skip
    await finish(store, job.id, outcome)
    if not settle:
        return await store.get(job.id)
    return await posted(store, job.id, message_id=result_id(job))


def result_id(job):
    return 1000 + job.id


def status_of(job, **look):
    """``job``'s status message as the bot renders it now (its one line, once posted);
    keywords replace parts of the look."""
    pointer = status_pointer(job)
    if pointer is not None:
        return Shown(job.id, content=pointer, **{"answers": job.id, **look})
    embed = status_embed(job, currency="USD", now=0).to_dict()
    buttons = tuple(b.custom_id for b in status_view(job.id).children)
    parts = {"title": embed["title"], "description": embed["description"], "embeds": 1,
             "buttons": () if job.has_ended else buttons, "answers": job.id, **look}  # fmt: skip
    return Shown(job.id, **parts)


def result_of(job, outcome=None):
    """``job``'s result message as the bot renders it (announcing ``outcome`` instead)."""
    announced = job if outcome is None else replace(job, outcome=outcome)
    embed = result_embed(announced, Outcome(announced)).to_dict()
    return Shown(
        job.id, title=embed["title"], description=embed["description"],
        buttons=tuple(b.custom_id for b in result_view(job).children), embeds=1,
        link=message_link(GUILD, CHANNEL, result_id(job)),
    )  # fmt: skip


def observed(jobs, **parts):
    """A run in which every job was asked by Alice (5 s), shown, posted once and sent once,
    and her quota reads one video per success; keywords replace each part."""
    done = sum(j.outcome is JobOutcome.SUCCEEDED for j in jobs)
    defaults = {
        "asked": {j.request.prompt: Asked(j.request.prompt, ALICE, 5, j.id) for j in jobs},
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
    jobs = [await stored(store, "a"), await stored(store, "b", JobOutcome.FAILED),
            await stored(store, "c", JobOutcome.CANCELLED)]  # fmt: skip
    result = audit(observed(jobs))
    assert result.jobs == 3 and counts(result) == (0, 0, 0, 0, 0), result.problems
    assert result.outcomes == Counter({"succeeded": 1, "failed": 1, "cancelled": 1})
    assert not result.problems


async def test_a_result_sent_by_dm_is_pointed_at_without_a_link(store):
    job = await stored(store, "x", settle=False)
    await store.transition(job.id, from_states={JobState.FINISHED}, to_state=JobState.POSTING)
    job = await store.transition(
        job.id, from_states={JobState.POSTING}, to_state=JobState.DELIVERED,
        delivered_via="dm", result_message_id=5, result_channel_id=6, next_check_at=None,
    )  # fmt: skip
    dm = replace(result_of(job), in_dm=True, link=message_link(None, 6, 5))
    assert audit(observed([job], results={job.id: [dm]})).problems == []
    wrong = Shown(job.id, content=f"✅ **#{job.id}** by <@{ALICE}> is ready: {dm.link}",
                  answers=job.id)
    result = audit(observed([job], results={job.id: [dm]}, status={job.id: [wrong]}))
    assert result.stale_status == 1, result.problems


async def test_each_kind_of_failure_is_counted(store):
    one, two, three = [await stored(store, p) for p in ("one", "two", "three")]
    result = audit(
        observed(
            [one, two, three],
            results={one.id: [result_of(one)] * 2, two.id: [result_of(two)]},  # three: none
            submits=Counter({"one": 2, "two": 1, "three": 1, "never shown": 1}),
            status={one.id: [status_of(one)],
                    two.id: [status_of(two, buttons=(f"video:cancel:{two.id}",))],
                    three.id: [status_of(three)]},
        )  # fmt: skip
    )
    assert result.lost == 1 and result.posted_twice == 1
    assert result.extra_submits == 2  # one's second request, and one for a job nobody saw
    assert result.stale_status == 1  # two still offers Cancel
    assert result.quota_wrong == 1  # three is charged (3 videos shown) but never posted: 2


def wrong_looks(job, running, other):
    """Status messages of delivered ``job`` that do not show how it ended."""
    line = status_pointer(job)
    return {
        "the look it had while it ran": status_of(running),
        "its line, the embed left on": status_of(running, content=line),
        "its line, Cancel left on": Shown(job.id, content=line, answers=job.id,
                                          buttons=(f"video:cancel:{job.id}",)),
        "its line, the first frame left on": Shown(job.id, content=line, answers=job.id,
                                                   attachments=1),
        "another outcome's line": Shown(job.id, answers=job.id,
                                        content=line.replace("✅", "🚫", 1)),
        "the right icon, another outcome's words": Shown(
            job.id, answers=job.id, content=line.replace("is ready", "failed")),
        "another job's line": Shown(job.id, answers=job.id,
                                    content=line.replace(f"#{job.id}**", f"#{other.id}**")),
        "a link to another message": Shown(
            job.id, answers=job.id,
            content=line.replace(str(result_id(job)), str(result_id(other)))),
        "no link": Shown(job.id, answers=job.id, content=line.partition(":")[0] + "."),
    }  # fmt: skip


async def test_a_status_message_that_does_not_show_how_its_job_ended_is_stale(store):
    job = await stored(store, "x")
    running = await stored(store, "y", settle=False)  # ended, not posted: the embed's look
    other = await stored(store, "z")
    for why, view in wrong_looks(job, running, other).items():
        view = replace(view, job_id=job.id, answers=job.id)
        result = audit(observed([job], status={job.id: [view]}))
        assert result.stale_status == 1 and len(result.problems) == 1, (why, result.problems)


async def test_a_job_nobody_was_shown_owes_nothing_and_must_not_be_posted(store):
    job = await stored(store, "ghost")
    result = audit(observed([job], status={}, submits=Counter(), usage={ALICE: Charge(0, 0)}))
    assert result.jobs == 0 and result.lost == 0 and result.quota_wrong == 0
    assert result.problems == [f"job #{job.id}: a result was posted, but nobody was shown the job"]


async def test_a_status_message_answering_no_command_owes_nothing(store):
    job = await stored(store, "x")
    result = audit(observed([job], status={job.id: [status_of(job, answers=999)]},
                            submits=Counter(), usage={ALICE: Charge(0, 0)}))  # fmt: skip
    assert result.jobs == 0
    assert f"job #{job.id}: its status message names no command sent" in result.problems


async def test_a_result_that_contradicts_the_database_is_a_problem(store):
    job = await stored(store, "x", JobOutcome.FAILED)
    result = audit(
        observed([job], results={job.id: [result_of(job, JobOutcome.SUCCEEDED)]},
                 usage={ALICE: Charge(1, 5)})
    )  # fmt: skip
    assert counts(result) == (0, 0, 0, 0, 0)
    assert result.problems == [f"job #{job.id}: posted as ['succeeded'], stored as failed"]


async def test_a_result_title_reads_as_its_outcome_only_when_icon_label_and_job_agree(store):
    job = await stored(store, "x")
    assert result_of(job).outcome is JobOutcome.SUCCEEDED
    assert result_of(job, JobOutcome.CANCELLED).outcome is JobOutcome.CANCELLED
    for title in (f"❌ #{job.id} · Done", f"✅ #{job.id + 1} · Done", "✅ Done", f"✅ #{job.id}"):
        assert Shown(job.id, title=title).outcome is None, title


def message(*, content="", embeds=(), buttons=(), interaction=9):
    return SimpleNamespace(
        id=3, content=content, embeds=list(embeds), attachments=[],
        buttons=lambda: [{"custom_id": b} for b in buttons],
        channel=SimpleNamespace(id=CHANNEL, guild=SimpleNamespace(id=GUILD)),
        interaction=SimpleNamespace(id=interaction) if interaction else None,
    )  # fmt: skip


def test_status_and_result_messages_are_read_as_members_see_them():
    line = message(content="🚫 **#6** by <@11> was cancelled: https://discord.com/channels/1/2/4")
    assert shown(line, STATUS_FOOTER) == Shown(
        6, content=line.content, link=message_link(GUILD, CHANNEL, 3), answers=9
    )
    assert shown(line, RESULT_FOOTER) is None
    running = message(
        embeds=[{"title": "🕒 Queued", "description": "p",
                 "footer": {"text": status_marker(6) + " · request r"}}],
        buttons=["video:cancel:6"],
    )  # fmt: skip
    view = shown(running, STATUS_FOOTER)
    assert (view.job_id, view.title, view.description, view.offers_cancel) == (6, "🕒 Queued", "p", True)
    result = message(
        content="<@11> your video is ready.", interaction=None,
        embeds=[{"title": "✅ #6 · Done", "footer": {"text": result_marker(6) + " · request r"}}],
    )  # fmt: skip
    assert shown(result, STATUS_FOOTER) is None
    assert shown(result, RESULT_FOOTER).outcome is JobOutcome.SUCCEEDED
    assert shown(message(content="🖼️ **#6**: a video by <@11>"), STATUS_FOOTER) is None


def test_footers_name_their_job_exactly():
    assert STATUS_FOOTER.match(status_marker(12) + " · request r")[1] == "12"
    assert RESULT_FOOTER.match(result_marker(7))[1] == "7"
    assert STATUS_FOOTER.match(result_marker(7)) is None
    assert footer_pattern(status_marker).match("Job #12x") is None


def test_the_quota_text_reads_back_as_a_charge():
    server = LimitSource("server")
    videos = meter_text(Meter(Metric.GENERATIONS, 3, 100000, 0, server), "USD")
    seconds = meter_text(Meter(Metric.SECONDS, 17, 900000, 0, server), "USD")
    text = f"**This month:** {videos}, {seconds}; resets <t:1:R>"
    assert charge_shown(text) == Charge(3, 17), text
    one = meter_text(Meter(Metric.GENERATIONS, 1, 1, 0, server), "USD")
    assert charge_shown(one).videos == 1, one
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
