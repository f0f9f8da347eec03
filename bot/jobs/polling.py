"""When to ask the provider about a job: checks planned from the finish-time estimate.

While the job waits in the provider's queue, the checks only need to catch the moment it
starts processing (the provider then says since when, by its own clock): they can be as
far apart as the shortest generation, because a job that starts right after a check cannot
finish before the next one. Once processing started at S, the checks go where the
generation's estimate says the video becomes ready: S plus its quantiles, close together
where most jobs finish, then backing off for jobs running long.

The first check comes early (a fraction of the shortest expected generation), so a job
that finishes far sooner than predicted is still seen within a small multiple of its own
run time.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.jobs.estimates import Duration

# Where the checks go once processing started: quantiles of the generation's duration.
FINISH_QUANTILES = (0.3, 0.6, 0.85, 0.95, 0.99)
FIRST_CHECK_SHARE = 0.4  # of the shortest expected generation (its 10th percentile)
QUEUE_CHECK_SHARE = 0.9  # of the same: checks while queued


@dataclass(frozen=True)
class PollPlan:
    min_interval: float = 1.0
    max_interval: float = 30.0

    def _clamp(self, delay: float) -> float:
        return min(max(delay, self.min_interval), self.max_interval)

    def first_check(self, queue: Duration, processing: Duration) -> float:
        """Seconds from the submit to the first check."""
        early = processing.quantile(0.1)
        return self._clamp(min(queue.median + self.min_interval, FIRST_CHECK_SHARE * early))

    def while_queued(self, processing: Duration) -> float:
        """Seconds to the next check of a job the provider has not started yet."""
        return self._clamp(QUEUE_CHECK_SHARE * processing.quantile(0.1))

    def while_processing(self, started_at: float, now: float, processing: Duration) -> float:
        """Seconds to the next check of a job processing since ``started_at``."""
        for q in FINISH_QUANTILES:
            target = started_at + processing.quantile(q)
            if target >= now + self.min_interval / 2:
                return self._clamp(target - now)
        overdue = now - (started_at + processing.quantile(FINISH_QUANTILES[-1]))
        return self._clamp(overdue / 3)
