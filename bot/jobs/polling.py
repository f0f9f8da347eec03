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

The gaps chosen for promptness (the window's, and the back-off past the estimate) widen
when the provider budget can't pay for them all (`CheckPace`), so the plan stays one the
budget keeps.
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
# The pace (`CheckPace`): checks booked for the next PACE_HORIZON seconds are held against
# PACE_SHARE of what the budget affords (the rest is room for new submits and lists).
PACE_HORIZON = WINDOW_GAP
PACE_SHARE = 0.9
PACE_STEP = 1.25  # the most one reading widens (or narrows back) the gaps by, before damping
PACE_DAMPING = 0.5
MAX_STRETCH = 12.0  # the window's checks a minute apart at most


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

    def while_processing(
        self, started_at: float, now: float, processing: Duration, stretch: float = 1.0
    ) -> float:
        """Seconds to the next check of a job processing since ``started_at``; ``stretch``
        (`CheckPace.stretch`) widens the gaps that are there for promptness only."""
        latest = max(now, started_at + processing.quantile(WINDOW_OPENS)) + WINDOW_GAP * stretch
        for q in FINISH_QUANTILES:
            target = started_at + processing.quantile(q)
            if target >= now + self.min_interval / 2:
                return self._bounded(min(target, latest) - now)
        overdue = now - (started_at + processing.quantile(FINISH_QUANTILES[-1]))
        return self._bounded(max(overdue / 3, self.min_interval) * stretch)


class CheckPace:
    """How far the checks chosen for promptness spread out so the plan fits the budget.

    The window's 5 s gaps cost little for a few hundred jobs. Thousands on a fresh
    install's wide prior, all inside their window at once, would ask for more checks a
    second than the hourly budget pays, and every check would then run late by the same
    seconds. So the scheduler reads the checks booked for the next `PACE_HORIZON` against
    what the budget can keep paying (`ProviderBudget.affordable`) every second, and the gaps widen
    in proportion, damped (the bookings answer a change only as jobs are checked), and
    narrow back as the load goes: a plan the budget can keep, so jobs are checked when it
    says, the ones nearest their estimate still as often as the budget allows."""

    def __init__(self) -> None:
        self.stretch = 1.0

    def observe(self, booked: int, affordable: float) -> None:
        """``booked`` checks due within `PACE_HORIZON`; ``affordable`` calls a second."""
        demand = booked / PACE_HORIZON
        ratio = demand / max(affordable * PACE_SHARE, 1e-9)
        ratio = min(max(ratio, 1 / PACE_STEP), PACE_STEP) ** PACE_DAMPING
        self.stretch = min(max(self.stretch * ratio, 1.0), MAX_STRETCH)
