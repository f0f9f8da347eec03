"""The finish-time estimate: a prior for a fresh install, learning per kind, borrowing across
lengths, and surviving a restart."""

from __future__ import annotations

import dataclasses

import pytest

from bot.db.timings import JobTiming, TimingRepository
from bot.jobs.estimates import FinishEstimator, job_kind
from bot.params import GenerationRequest


def timing(request: GenerationRequest, processing: float, queue: float = 2.0, at: float = 0.0):
    return JobTiming(job_kind(request), queue, processing, queue + processing, at)


FIVE_720 = GenerationRequest(prompt="x", duration=5, resolution="720p")


async def test_a_fresh_install_scales_its_prior_by_length_and_resolution(db):
    estimator = FinishEstimator(TimingRepository(db))
    five = estimator.processing(FIVE_720).median
    assert 25 <= five <= 45  # one public report: about 35 s for 5 s at 720p
    long_hd = estimator.processing(dataclasses.replace(FIVE_720, duration=15, resolution="1080p"))
    short_sd = estimator.processing(dataclasses.replace(FIVE_720, duration=4, resolution="480p"))
    assert short_sd.median < five < long_hd.median
    prior = estimator.processing(FIVE_720)
    assert prior.quantile(0.9) / prior.quantile(0.1) > 2.5  # deliberately wide


async def test_it_learns_each_kind_and_the_queue(db):
    repo = TimingRepository(db)
    estimator = FinishEstimator(repo)
    for i, seconds in enumerate([40.0, 41.0, 39.5, 40.5, 42.0, 38.0]):
        estimator._learn([timing(FIVE_720, seconds, queue=1.0 + i, at=i)])
    learned = estimator.processing(FIVE_720)
    assert learned.median == pytest.approx(40.25)
    assert learned.quantile(0.9) / learned.quantile(0.1) < 1.2  # tight, unlike the prior (> 2.5)
    assert estimator.queue().median == pytest.approx(3.5)


async def test_a_young_kind_expects_a_wider_range_than_its_few_jobs_showed(db):
    """Six jobs can't show how early the next may finish: the early edge lies below all of
    them (a job finishing before it waits a whole check gap past it), the late one above;
    once the kind has a few dozen jobs, the estimate is their own range."""
    estimator = FinishEstimator(TimingRepository(db))
    seen = [40.0, 41.0, 39.5, 40.5, 42.0, 38.0]
    estimator._learn([timing(FIVE_720, seconds, at=i) for i, seconds in enumerate(seen)])
    young = estimator.processing(FIVE_720)
    assert young.median == pytest.approx(40.25)
    assert young.quantile(0.02) < min(seen) - 1 and young.quantile(0.99) > max(seen) + 1
    estimator._learn([timing(FIVE_720, seen[i % 6], at=10 + i) for i in range(30)])
    grown = estimator.processing(FIVE_720)
    assert min(seen) <= grown.quantile(0.02) and grown.quantile(0.99) <= max(seen)


async def test_a_kind_with_no_history_borrows_from_its_other_lengths(db):
    estimator = FinishEstimator(TimingRepository(db))
    ten = dataclasses.replace(FIVE_720, duration=10)
    estimator._learn([timing(ten, 100.0, at=i) for i in range(6)])  # much slower than the prior
    borrowed = estimator.processing(FIVE_720).median
    prior = FinishEstimator(TimingRepository(db)).processing(FIVE_720).median
    assert borrowed > prior * 1.3  # the family is slow, so this length is expected slow too
    other_mode = dataclasses.replace(FIVE_720, generate_audio=False)
    assert FinishEstimator(TimingRepository(db)).processing(other_mode).median == prior


async def test_the_estimate_survives_a_restart(db):
    repo = TimingRepository(db)
    for i in range(6):
        await repo.add(i + 1, timing(FIVE_720, 50.0 + i, at=float(i)))
    restarted = FinishEstimator(TimingRepository(db))
    await restarted.load()
    assert restarted.processing(FIVE_720).median == pytest.approx(52.5)
