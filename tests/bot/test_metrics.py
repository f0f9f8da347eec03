"""Prometheus metrics: what an operator's scrape shows after a few jobs through the emulator
and the simulator, and the database-backed counts on a clock the test moves."""

from __future__ import annotations

import datetime

import aiohttp
import discord.utils
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bot.db.jobs import JobCounts
from bot.jobs.lifecycle import JobOutcome, JobState
from bot.jobs.model import NewJob
from bot.metrics import Metrics, provider_call_name
from bot.params import GenerationRequest
from tests.support.jobs import finish, posted
from tests.support.video import job_when

BASE = "https://gmi.example/api/v1/ie/requestqueue/apikey"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of a scrape."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(scraped, name: str, **labels: str) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


def test_provider_requests_are_named_by_call_and_nothing_else_counts():
    assert provider_call_name(BASE, "POST", f"{BASE}/requests") == "submit"
    assert provider_call_name(BASE, "GET", f"{BASE}/requests?model_id=m") == "list"
    assert provider_call_name(BASE, "GET", f"{BASE}/requests/abc-123") == "get"
    assert provider_call_name(BASE, "GET", f"{BASE}/models") == "models"
    assert provider_call_name(BASE, "GET", f"{BASE}/models/seedance") == "model"
    assert provider_call_name(BASE, "GET", "https://storage.example/video.mp4") is None
    assert provider_call_name(BASE, "GET", "https://gmi.example/media/x.mp4") is None


def test_an_answer_is_timed_from_the_interactions_creation_and_sorted_by_outcome():
    created = 1_780_000_000.25
    at = datetime.datetime.fromtimestamp(created, datetime.UTC)
    interaction_id = discord.utils.time_snowflake(at) | 0x1234  # the ms, then other bits
    now = [created + 0.2]
    metrics = Metrics(lambda: now[0], provider_taking_jobs=lambda: True)
    metrics.interaction_answered(interaction_id, 204)
    now[0] = created + 3.4
    metrics.interaction_answered(interaction_id, 404)  # Discord had already failed it

    scraped = samples(generate_latest(metrics.registry).decode())
    name = "seedance_interaction_answer_seconds"
    assert value(scraped, f"{name}_sum", outcome="ok") == pytest.approx(0.2)
    assert value(scraped, f"{name}_bucket", outcome="ok", le="0.25") == 1
    assert value(scraped, f"{name}_sum", outcome="expired") == pytest.approx(3.4)
    assert value(scraped, f"{name}_bucket", outcome="expired", le="3.0") == 0
    assert value(scraped, f"{name}_count", outcome="refused") == 0


async def test_job_counts_backlog_and_each_settled_job_once(store, db, clock):
    metrics = Metrics(clock, provider_taking_jobs=lambda: True)
    counts = JobCounts(db)
    request = GenerationRequest(prompt="a cat")
    jobs = [
        await store.accept(
            NewJob(guild_id=1, channel_id=2, user_id=3, request=request, model="m"),
            deadline_seconds=600,
        )
        for _ in range(3)
    ]
    clock.advance(5)
    await finish(store, jobs[0].id, JobOutcome.SUCCEEDED, finished_at=clock())
    clock.advance(2)
    await posted(store, jobs[0].id)

    first = samples((await metrics.render(counts)).decode())
    assert value(first, "seedance_jobs", state="accepted") == 2
    assert value(first, "seedance_jobs", state="delivered") == 1
    assert value(first, "seedance_jobs_due") == 2  # the two accepted ones wait for a step
    assert value(first, "seedance_deliveries_total", via="channel") == 1
    assert value(first, "seedance_result_post_delay_seconds_sum") == 2.0

    again = samples((await metrics.render(counts)).decode())  # a second scrape counts nothing twice
    assert value(again, "seedance_deliveries_total", via="channel") == 1
    assert value(again, "seedance_result_post_delay_seconds_count") == 1


async def test_a_scrape_after_a_few_jobs_through_the_emulator(fakecord, video_bot, person, gmi_sim):
    bot = await video_bot(metrics_port=0)
    assert bot.metrics_server is not None and bot.metrics_server.url.startswith("http://127.0.0.1:")
    alice = person()
    gmi_sim.fault("get", status=500)  # one status check fails once, then is retried
    fakecord.fail_next("POST", "/channels/{channel_id}/messages", status=429, retry_after=0.05)
    for prompt in ("a fox", "a policy-violation fox"):  # the second one the provider refuses
        ix = await alice.generate(prompt=prompt)
        await alice.wait_result(await alice.status_message(ix))
    for job_id in (1, 2):
        await job_when(bot, job_id, lambda job: job.state is JobState.DELIVERED)

    async with aiohttp.ClientSession() as session, session.get(bot.metrics_server.url) as response:
        assert response.status == 200
        scraped = samples(await response.text())
    assert value(scraped, "seedance_jobs", state="delivered") == 2
    assert value(scraped, "seedance_jobs_due") == 0
    assert value(scraped, "seedance_deliveries_total", via="channel") == 2
    assert value(scraped, "seedance_result_post_delay_seconds_count") == 2
    assert value(scraped, "seedance_provider_requests_total", call="submit", outcome="ok") == 1
    assert value(scraped, "seedance_provider_requests_total", call="submit", outcome="invalid") == 1
    assert value(scraped, "seedance_provider_requests_total", call="get", outcome="server_error") == 1
    assert value(scraped, "seedance_provider_requests_total", call="get", outcome="ok") >= 1
    assert value(scraped, "seedance_provider_requests_total", call="model", outcome="ok") == 1
    assert value(scraped, "seedance_provider_request_duration_seconds_count", call="submit") == 2
    assert value(scraped, "seedance_provider_available") == 1
    assert value(scraped, "seedance_discord_rate_limits_total", scope="user") == 1
    # the two commands' answers, each well within Discord's 3 s
    assert value(scraped, "seedance_interaction_answer_seconds_count", outcome="ok") == 2
    assert value(scraped, "seedance_interaction_answer_seconds_bucket", outcome="ok", le="2.0") == 2
    assert value(scraped, "process_resident_memory_bytes") > 0
