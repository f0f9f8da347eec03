"""The provider's health: the check against the simulator, the state machine on a clock the
test moves, and the watch that re-checks until the key works again. No Discord here (the
bot's side, end to end, is in tests/bot/test_app.py)."""

from __future__ import annotations

import asyncio

import pytest

from bot import provider_health
from bot.clock import ManualClock
from bot.errors import Unavailable
from bot.gmi import ModelDetail
from bot.provider_health import (
    UNAVAILABLE_MESSAGE,
    HealthChange,
    ProviderCheck,
    ProviderHealth,
    ProviderProblem,
    ProviderState,
    ProviderWatch,
    check_provider,
)
from tests.support.gmi import GMI_TEST_KEY, SEEDANCE_MODEL

HOST = "gmi.example"


class Heard:
    """What a watch reported, and a bounded wait for the n-th report."""

    def __init__(self) -> None:
        self.changes: list[HealthChange] = []
        self._more = asyncio.Condition()

    async def __call__(self, change: HealthChange) -> None:
        async with self._more:
            self.changes.append(change)
            self._more.notify_all()

    async def count(self, n: int, within: float = 5.0) -> None:
        async with asyncio.timeout(within), self._more:
            await self._more.wait_for(lambda: len(self.changes) >= n)


def ok() -> ProviderCheck:
    return ProviderCheck(HOST, SEEDANCE_MODEL, found=ModelDetail(model=SEEDANCE_MODEL))


def refused() -> ProviderCheck:
    return ProviderCheck(HOST, SEEDANCE_MODEL, ProviderProblem.KEY_REJECTED, "HTTP 401: invalid API key")


# -- the check, against the simulator ----------------------------------------------------------


async def test_a_working_setup_finds_the_model_and_knows_it_is_the_simulator(gmi_client, gmi_sim):
    check = await check_provider(gmi_client, SEEDANCE_MODEL)
    assert check.ok and check.simulated
    assert {p.name for p in check.found.parameters} >= {"prompt", "duration", "resolution"}
    assert gmi_sim.calls("model")


async def test_a_wrong_key_is_told_apart_and_never_shown(gmi_client_factory):
    check = await check_provider(gmi_client_factory(api_key="sk-wrong-key-123456789"), SEEDANCE_MODEL)
    assert check.problem is ProviderProblem.KEY_REJECTED
    assert "401" in check.describe() and "invalid API key" in check.describe()
    assert "sk-wrong-key" not in check.describe()


async def test_an_unknown_model_lists_what_the_provider_offers(gmi_client):
    check = await check_provider(gmi_client, "Seedance-2-0-Fast-260128")
    assert check.problem is ProviderProblem.MODEL_UNKNOWN
    assert check.offered == (SEEDANCE_MODEL,)
    assert SEEDANCE_MODEL in check.describe()


async def test_a_base_url_with_the_wrong_path_is_a_wrong_address(gmi_client_factory, gmi_sim):
    client = gmi_client_factory(base_url=gmi_sim.base_origin + "/api/v1/wrong")
    check = await check_provider(client, SEEDANCE_MODEL)
    assert check.problem is ProviderProblem.WRONG_ADDRESS


async def test_nothing_listening_is_unreachable(gmi_client_factory, unused_tcp_port):
    client = gmi_client_factory(base_url=f"http://127.0.0.1:{unused_tcp_port}/api", max_attempts=1)
    check = await check_provider(client, SEEDANCE_MODEL)
    assert check.problem is ProviderProblem.UNREACHABLE
    assert f"127.0.0.1:{unused_tcp_port}" in check.describe()


# -- the state machine -------------------------------------------------------------------------


def test_jobs_are_taken_until_a_check_fails_then_refused_honestly():
    health = ProviderHealth(ManualClock(), recheck_cap=300)
    assert health.state is ProviderState.UNKNOWN and health.taking_jobs
    health.require_available()  # not checked yet: members are not kept waiting

    change = health.record(refused())
    assert change == HealthChange(ProviderState.UNAVAILABLE, refused().describe())
    with pytest.raises(Unavailable) as caught:
        health.require_available()
    assert caught.value.message == UNAVAILABLE_MESSAGE
    assert "moderators have been told" in UNAVAILABLE_MESSAGE


def test_an_outage_is_reported_once_and_so_is_the_recovery():
    clock = ManualClock()
    health = ProviderHealth(clock, recheck_cap=300)
    changes = [health.record(refused())]
    for _ in range(5):
        clock.advance(60)
        changes.append(health.record(refused()))
    changes.append(health.key_rejected("HTTP 401 on a submit call"))
    clock.advance(60)
    changes.append(health.record(ok()))
    changes.append(health.record(ok()))

    reported = [c for c in changes if c is not None]
    assert [c.state for c in reported] == [ProviderState.UNAVAILABLE, ProviderState.AVAILABLE]
    assert reported[1].down_for == 360
    assert reported[1].announcement().startswith("✅ Video generation works again")
    assert "Video generation is paused" in reported[0].announcement()


def test_a_key_refused_for_a_job_makes_a_working_provider_unavailable():
    health = ProviderHealth(ManualClock(), recheck_cap=300)
    health.record(ok())
    change = health.key_rejected("HTTP 403 on a submit call")
    assert change is not None and change.state is ProviderState.UNAVAILABLE
    assert "403 on a submit call" in change.reason
    assert not health.taking_jobs


def test_rechecks_back_off_but_never_beyond_the_cap():
    health = ProviderHealth(ManualClock(), recheck_cap=120, rng=lambda: 1.0)
    assert health.recheck_delay() is None  # nothing to re-check while it works
    delays = []
    for _ in range(8):
        health.record(refused())
        delays.append(health.recheck_delay())
    assert delays == sorted(delays)
    assert delays[0] == 15.0 and max(delays) == 120.0
    low = ProviderHealth(ManualClock(), recheck_cap=120, rng=lambda: 0.0)
    low.record(refused())
    assert low.recheck_delay() == 7.5  # never hammering the provider: half the base at least


# -- the watch ---------------------------------------------------------------------------------


@pytest.fixture
async def watch(gmi_client_factory):
    """A started `ProviderWatch` on the simulator, re-checking every 10-20 ms."""
    client = gmi_client_factory()
    health = ProviderHealth(ManualClock(), recheck_cap=0.02, recheck_base=0.02)
    heard = Heard()
    running = ProviderWatch(health, lambda: check_provider(client, SEEDANCE_MODEL), on_change=heard)
    running.heard = heard
    task = asyncio.create_task(running.run())
    yield running
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
def refusing_sim(gmi_sim):
    gmi_sim.api_key = "the-key-the-operator-will-fix-later"  # before the watch starts
    return gmi_sim


async def test_the_watch_rechecks_until_the_key_works_then_reports_it_once(refusing_sim, watch):
    await watch.heard.count(1)
    assert watch.health.state is ProviderState.UNAVAILABLE
    await refusing_sim.wait_for_calls("model", 3)  # checked again and again
    refusing_sim.api_key = GMI_TEST_KEY  # the operator fixed the key
    await watch.heard.count(2)
    assert watch.health.recheck_delay() is None  # a working provider is not polled
    assert [c.state for c in watch.heard.changes] == [
        ProviderState.UNAVAILABLE,
        ProviderState.AVAILABLE,
    ]


async def test_a_key_refused_for_a_job_wakes_the_watch(gmi_sim, watch):
    await asyncio.wait_for(watch.first_check.wait(), 5)
    assert watch.health.state is ProviderState.AVAILABLE and watch.heard.changes == []
    await watch.key_rejected("HTTP 401 on a submit call")
    assert not watch.health.taking_jobs
    await watch.heard.count(2)  # re-checked after a backoff: it works
    assert watch.health.taking_jobs and len(gmi_sim.calls("model")) == 2


async def test_a_working_provider_is_read_again_so_what_it_withdraws_is_refused(
    gmi_sim, gmi_client_factory, monkeypatch
):
    monkeypatch.setattr(provider_health, "REFRESH_SECONDS", 0.05)
    client = gmi_client_factory()
    health = ProviderHealth(ManualClock(), recheck_cap=60)
    running = ProviderWatch(health, lambda: check_provider(client, SEEDANCE_MODEL), on_change=Heard())
    task = asyncio.create_task(running.run())
    try:
        await asyncio.wait_for(running.first_check.wait(), 5)
        assert "1080p" in health.offer.resolutions and health.offer.from_provider
        gmi_sim.reject_1080p = True  # the provider withdraws 1080p
        await gmi_sim.wait_for_calls("model", 3)  # the second read was recorded before the third
        assert health.offer.resolutions == ("480p", "720p") and health.taking_jobs
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
