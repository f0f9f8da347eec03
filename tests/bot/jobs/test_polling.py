"""When checks go: a job that finishes early, on time, late, or never; and how many calls."""

from __future__ import annotations

import heapq
import random

from bot.jobs.estimates import Empirical, LogNormal
from bot.jobs.polling import PACE_HORIZON, CheckPace, PollPlan

PLAN = PollPlan()  # the defaults
QUEUE = Empirical((0.5, 1.0, 1.5, 2.0, 3.0, 10.0, 30.0))


def checks_until_seen(finish: float, started: float, processing, horizon: float = 3600.0):
    """Replay the plan for a job that starts processing at ``started`` and is ready at
    ``finish`` (seconds after its submit): (number of status checks, when it was seen)."""
    now = PLAN.first_check(QUEUE, processing)
    checks = 0
    while now < horizon:
        checks += 1
        if now >= finish:
            return checks, now
        if now >= started:
            now += PLAN.while_processing(started, now, processing)
        else:
            now += PLAN.while_queued(processing)
    return checks, None


def test_a_job_on_time_is_seen_within_seconds_in_few_checks():
    rng = random.Random(7)
    learned = Empirical(tuple(sorted(60 * rng.lognormvariate(0, 0.06) for _ in range(100))))
    delays, calls = [], []
    for _ in range(400):
        queue = rng.choice([0.5, 1.5, 2.5, 8.0])
        finish = queue + 60 * rng.lognormvariate(0, 0.06)
        checks, seen = checks_until_seen(finish, queue, learned)
        assert seen is not None
        delays.append(seen - finish)
        calls.append(checks)
    delays.sort()
    calls.sort()
    assert delays[len(delays) // 2] <= 2.0
    assert delays[int(len(delays) * 0.95)] <= 4.5
    assert calls[len(calls) // 2] <= 3  # plus the submit: at most 4 calls


def test_a_job_far_quicker_than_predicted_is_seen_within_a_small_multiple_of_its_time():
    predicted = LogNormal(60.0, 1.8)
    checks, seen = checks_until_seen(finish=4.0, started=0.5, processing=predicted)
    assert seen is not None and seen <= 4.0 * 4


def test_a_job_running_long_is_checked_ever_less_often_but_never_lost():
    learned = Empirical((58.0, 59.0, 60.0, 61.0, 62.0))
    checks, seen = checks_until_seen(finish=1000.0, started=1.0, processing=learned)
    assert seen is not None and seen - 1000.0 <= PLAN.max_interval
    assert checks < 60  # far fewer than one a second


def test_a_job_known_to_take_an_hour_waits_quietly_then_is_seen_within_seconds():
    """10,000 of them cost 33 checks a second while they wait (at the default 5 minutes)."""
    learned = Empirical(tuple(float(s) for s in range(3500, 3700, 10)))
    checks, seen = checks_until_seen(finish=3601.0, started=1.0, processing=learned, horizon=7200.0)
    assert seen is not None and seen - 3601.0 <= 5.0
    assert checks <= 3500 / PLAN.max_interval + 25  # the wait, then the window's checks (31)
    quiet = [PLAN.while_processing(1.0, now, learned) for now in (60.0, 600.0, 3000.0)]
    assert quiet == [PLAN.max_interval] * 3 and PLAN.max_interval == 300.0


def test_a_job_that_never_starts_is_checked_at_the_queue_pace_not_faster():
    learned = Empirical((58.0, 59.0, 60.0, 61.0, 62.0))
    assert PLAN.while_queued(learned) >= 0.9 * 58.0 - 1e-9
    checks, seen = checks_until_seen(finish=float("inf"), started=float("inf"), processing=learned,
                                     horizon=600.0)
    assert seen is None and checks <= 600 / 52 + 2


def test_a_young_wide_estimate_still_notices_the_video_within_seconds():
    prior = LogNormal(35.0, 1.8)  # a fresh install's guess for 5 s at 720p
    for finish in (20.0, 35.0, 50.0, 90.0):
        checks, seen = checks_until_seen(finish=finish, started=1.0, processing=prior)
        assert seen is not None and seen - finish <= 8.0, (finish, seen)
    _, seen = checks_until_seen(finish=12.0, started=1.0, processing=prior)  # implausibly soon
    assert seen is not None and seen <= 3 * 12.0


def replay_a_crowd_in_its_window(pace: CheckPace, *, jobs: int = 2000, rate: float = 200.0):
    """``jobs`` jobs on a fresh install's wide prior, submitted over 20 s and running for
    good, with a budget of ``rate`` calls a second (a bucket of a minute's worth, what
    `ProviderBudget.affordable` reads as refill plus the tokens spread over 5 minutes). The
    due checks are made oldest first as tokens allow, the pace read every second. Returns
    how late each check after the first 90 s was, and the most checks planned a second."""
    prior = LogNormal(35.0, 1.8)
    rng = random.Random(3)
    due = [(rng.uniform(0.0, 20.0), i) for i in range(jobs)]  # the submits
    heapq.heapify(due)
    started = [0.0] * jobs
    tokens, now, dt, read_at = rate * 60, 0.0, 0.1, 0.0
    late: list[float] = []
    while now < 240.0:
        tokens = min(rate * 60, tokens + rate * dt)
        if now >= read_at:
            read_at = now + 1.0
            pace.observe(sum(1 for at, _ in due if at <= now + PACE_HORIZON), rate + tokens / 300)
        while due and due[0][0] <= now and tokens >= 1:
            at, i = heapq.heappop(due)
            tokens -= 1
            if not started[i]:  # the submit; the provider starts it at once
                started[i] = now + 0.5
                delay = PLAN.first_check(QUEUE, prior)
            else:
                if now > 90.0:
                    late.append(now - at)
                delay = PLAN.while_processing(started[i], now, prior, pace.stretch)
            heapq.heappush(due, (now + delay, i))
        now += dt
    return sorted(late)


class FixedPace(CheckPace):
    def observe(self, booked: int, affordable: float) -> None:
        pass  # the plan as if the budget were endless


def test_a_crowd_inside_a_wide_prior_at_once_gets_a_plan_the_budget_keeps():
    """2,000 jobs all inside their window ask for about twice what the budget pays: without
    the pace every check runs seconds late; with it the gaps widen and checks are on time."""
    unpaced = replay_a_crowd_in_its_window(FixedPace())
    assert unpaced[len(unpaced) // 2] > 2.0
    pace = CheckPace()
    paced = replay_a_crowd_in_its_window(pace)
    assert paced[len(paced) // 2] <= 0.2 and paced[int(len(paced) * 0.99)] <= 1.0
    assert pace.stretch == 1.0  # the crowd past its estimate, checked ever less: as planned


def test_the_pace_narrows_back_when_the_load_goes_and_never_below_the_plan():
    pace = CheckPace()
    pace.observe(booked=0, affordable=10.0)
    assert pace.stretch == 1.0  # a quiet bot checks as planned
    for _ in range(100):
        pace.observe(booked=100_000, affordable=10.0)
    assert pace.stretch == 12.0  # bounded: a minute between the window's checks at most
    for _ in range(30):
        pace.observe(booked=0, affordable=10.0)
    assert pace.stretch == 1.0
