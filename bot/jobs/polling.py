"""When to ask the provider about a job: checks planned from the finish-time estimate.

While the job waits in the provider's queue, the checks only need to catch the moment it
starts processing (the provider then says since when, by its own clock): they can be as far
apart as the shortest generation, because a job that starts right after a check cannot
finish before the next one. Once processing started at S, the checks go where the
generation's estimate says the video becomes ready: S plus its quantiles, never more than
`WINDOW_GAP` apart once the video could be ready (a wide, young estimate still notices it
within seconds), then backing off for jobs running long. No two checks are ever more than
``max_interval`` apart (5 minutes by default: that far apart only for a job that can't be
ready for a while yet, or one running a quarter of an hour past its estimate).

The first check comes early (a fifth of the shortest expected generation after the queue's
usual wait), so a job that finishes far sooner than predicted is still seen within a small
multiple of its own run time, and most jobs are already processing by then.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.jobs.estimates import Duration

# Where the checks go once processing started: quantiles of the generation's duration.
FINISH_QUANTILES = (0.5, 0.8, 0.95, 0.99)
WINDOW_OPENS = 0.02  # the quantile before which the video can't be ready yet
WINDOW_GAP = 5.0  # the longest wait between checks once it could be
FIRST_CHECK_SHARE = 0.2  # of the shortest expected generation (its 10th percentile)
QUEUE_CHECK_SHARE = 0.9  # of the same: checks while queued


@dataclass(frozen=True)
class PollPlan:
    min_interval: float = 1.0
    max_interval: float = 300.0

    def _bounded(self, delay: float) -> float:
        return min(max(delay, self.min_interval), self.max_interval)

    def first_check(self, queue: Duration, processing: Duration) -> float:
        """Seconds from the submit to the first check."""
        return self._bounded(queue.median + FIRST_CHECK_SHARE * processing.quantile(0.1))

    def while_queued(self, processing: Duration) -> float:
        """Seconds to the next check of a job the provider has not started yet."""
        return self._bounded(QUEUE_CHECK_SHARE * processing.quantile(0.1))

    def while_processing(self, started_at: float, now: float, processing: Duration) -> float:
        """Seconds to the next check of a job processing since ``started_at``."""
        latest = max(now, started_at + processing.quantile(WINDOW_OPENS)) + WINDOW_GAP
        for q in FINISH_QUANTILES:
            target = started_at + processing.quantile(q)
            if target >= now + self.min_interval / 2:
                return self._bounded(min(target, latest) - now)
        overdue = now - (started_at + processing.quantile(FINISH_QUANTILES[-1]))
        return self._bounded(overdue / 3)
