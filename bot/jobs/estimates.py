"""How long the provider will take: a finish-time estimate learned from finished jobs.

Seedance's time splits in two: the wait in the provider's queue, which depends on load and
is long-tailed, and the generation itself, which depends on what is asked (length,
resolution, mode, reference videos, audio) and varies little. So the two are learned
apart: the queue from recent jobs of every kind, the generation per kind. Once the provider
says a job is processing (and since when, by its own clock), only the generation remains to
predict, and that prediction is tight enough to time the checks around it.

A fresh install has no history: the prior scales with duration and resolution (about 35 s
for 5 s at 720p, one public report; 20-150 s across kinds) and is deliberately wide. Kinds
with little history borrow from similar kinds (same resolution and mode, another length),
translated by the prior's shape. Until a kind has seen a few dozen jobs its spread is
fitted, with the width a prediction from so few samples has (`FewObserved`). Timings live
in the database, so the estimate survives restarts.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.db.timings import JobTiming, TimingRepository
from bot.jobs.model import Job
from bot.params import GenerationRequest

HISTORY_PER_KIND = 100
QUEUE_HISTORY = 300
LOADED_AT_START = 5000
ENOUGH_SAMPLES = 5
READ_AS_IS = 30  # samples from which their own quantiles are the estimate (`FewObserved`)
RESOLUTION_FACTOR = {"480p": 0.6, "720p": 1.0, "1080p": 1.8}
REFERENCE_VIDEO_FACTOR = 1.5
# The prior's width: its 90th percentile is this many times its median (and the 10th
# percentile its median divided by it).
PRIOR_SPREAD = 1.8
QUEUE_PRIOR_MEDIAN = 3.0
QUEUE_PRIOR_SPREAD = 6.0
_NORMAL = statistics.NormalDist()
_Z90 = _NORMAL.inv_cdf(0.9)


class Duration:
    """A distribution of seconds, read through its quantiles."""

    def quantile(self, q: float) -> float:
        raise NotImplementedError

    @property
    def median(self) -> float:
        return self.quantile(0.5)


@dataclass(frozen=True)
class LogNormal(Duration):
    """The prior's shape: ``spread`` is the ratio of the 90th percentile to the median."""

    median_seconds: float
    spread: float

    def quantile(self, q: float) -> float:
        q = min(max(q, 1e-4), 1 - 1e-4)
        return self.median_seconds * math.exp(_NORMAL.inv_cdf(q) * math.log(self.spread) / _Z90)


@dataclass(frozen=True)
class FewObserved(Duration):
    """A handful of observations, read as a log-normal around their median with the spread
    a *new* job's time has when so little is known (a Student's t prediction interval on
    the logs). A few samples' own extremes sit well inside the true range: taken as the
    quantiles, about one job in eight would finish before the "earliest" edge and wait a
    whole check gap past it."""

    log_median: float
    log_spread: float  # the logs' standard deviation
    samples: int

    @classmethod
    def of(cls, values: Sequence[float]) -> FewObserved:
        logs = [math.log(value) for value in values]
        return cls(math.log(statistics.median(values)), statistics.stdev(logs), len(logs))

    def quantile(self, q: float) -> float:
        z = _NORMAL.inv_cdf(min(max(q, 1e-4), 1 - 1e-4))
        nu = self.samples - 1
        # Student's t quantile from the normal's (Cornish-Fisher; within 3 % from nu = 4).
        t = z + (z**3 + z) / (4 * nu) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * nu**2)
        spread = t * self.log_spread * math.sqrt(1 + 1 / self.samples)
        return math.exp(self.log_median + spread)


@dataclass(frozen=True)
class Empirical(Duration):
    """Recent observations; quantiles interpolate between them."""

    values: tuple[float, ...]  # sorted

    def quantile(self, q: float) -> float:
        values = self.values
        if len(values) == 1:
            return values[0]
        position = min(max(q, 0.0), 1.0) * (len(values) - 1)
        low = int(position)
        high = min(low + 1, len(values) - 1)
        return values[low] + (values[high] - values[low]) * (position - low)


def _observed(values: Iterable[float]) -> Duration:
    """What ``values`` (at least `ENOUGH_SAMPLES`) say: their own quantiles once there are
    `READ_AS_IS` of them, a fitted spread before."""
    values = tuple(sorted(values))
    return Empirical(values) if len(values) >= READ_AS_IS else FewObserved.of(values)


def job_kind(request: GenerationRequest) -> str:
    """What a job's generation time depends on, as one key."""
    return ":".join(
        (
            f"{request.duration}s",
            request.resolution,
            request.mode,
            "refvideo" if request.reference_videos else "-",
            "audio" if request.generate_audio else "silent",
        )
    )


def processing_prior(kind: str) -> float:
    """Median generation seconds of ``kind`` before anything is known about it."""
    duration, resolution, _mode, refvideo, _audio = kind.split(":")
    seconds = 10.0 + 5.0 * int(duration.rstrip("s")) * RESOLUTION_FACTOR.get(resolution, 1.0)
    return seconds * (REFERENCE_VIDEO_FACTOR if refvideo == "refvideo" else 1.0)


def _family(kind: str) -> str:
    """Kinds that differ only in length: their times are translated into each other."""
    _duration, resolution, mode, refvideo, audio = kind.split(":")
    return ":".join((resolution, mode, refvideo, audio))


class FinishEstimator:
    def __init__(self, timings: TimingRepository) -> None:
        self.timings = timings
        self._processing: dict[str, deque[float]] = defaultdict(
            lambda: deque(maxlen=HISTORY_PER_KIND)
        )
        self._queue: deque[float] = deque(maxlen=QUEUE_HISTORY)

    async def load(self) -> None:
        """Learn from the timings already in the database (at start)."""
        self._learn(await self.timings.recent(LOADED_AT_START))

    def _learn(self, timings: Iterable[JobTiming]) -> None:
        for timing in timings:
            processing = timing.processing_seconds
            if processing is None:  # the provider's clock did not tell the phases apart
                processing = timing.total_seconds - (timing.queue_seconds or 0.0)
            self._processing[timing.kind].append(max(processing, 0.1))
            if timing.queue_seconds is not None:
                self._queue.append(max(timing.queue_seconds, 0.0))

    def processing(self, request: GenerationRequest) -> Duration:
        """How long the generation itself takes, once the provider started it."""
        kind = job_kind(request)
        own = self._processing.get(kind, ())
        if len(own) >= ENOUGH_SAMPLES:
            return _observed(own)
        family = _family(kind)
        prior = processing_prior(kind)
        borrowed = [
            seconds * prior / processing_prior(other)
            for other, samples in self._processing.items()
            if _family(other) == family
            for seconds in samples
        ]
        if len(borrowed) >= ENOUGH_SAMPLES:
            return _observed(borrowed)
        if borrowed:  # a few: the prior's shape, around what was seen
            return LogNormal(statistics.median(borrowed), PRIOR_SPREAD)
        return LogNormal(prior, PRIOR_SPREAD)

    def queue(self) -> Duration:
        """How long a job waits in the provider's queue (load, not kind, decides)."""
        if len(self._queue) >= ENOUGH_SAMPLES:
            return Empirical(tuple(sorted(self._queue)))
        return LogNormal(QUEUE_PRIOR_MEDIAN, QUEUE_PRIOR_SPREAD)

    def predicted_finish(self, job: Job, now: float) -> float:
        """When the job's video should be ready: from the provider's processing start when
        known, else from now plus the queue's and the generation's medians."""
        processing = self.processing(job.request).median
        if job.processing_started_at is not None:
            return job.processing_started_at + processing
        started = job.provider_created_at or job.submitted_at or now
        return max(now, started + self.queue().median) + processing

    def timing_of(self, job: Job) -> JobTiming | None:
        """What ``job`` teaches the estimate, by the provider's clock (our own otherwise)."""
        finished = job.provider_finished_at or job.finished_at
        created = job.provider_created_at or job.submitted_at
        if finished is None or created is None:
            return None
        queue = processing = None
        if job.processing_started_at is not None:
            queue = max(0.0, job.processing_started_at - created)
            processing = max(0.0, finished - job.processing_started_at)
        return JobTiming(job_kind(job.request), queue, processing, finished - created, finished)

    async def record(self, job: Job) -> None:
        timing = self.timing_of(job)
        if timing is None:
            return
        self._learn([timing])
        await self.timings.add(job.id, timing)
