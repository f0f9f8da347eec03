"""Estimated cost of a video: what every job records, and what cost limits and budgets count."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.params import GenerationRequest


@dataclass(frozen=True)
class PriceTable:
    """Estimated provider price per second of output, by resolution.

    The reference-video multiplier applies when any reference video is given.
    """

    per_second: Mapping[str, float]
    reference_video_multiplier: float

    def estimate(self, request: GenerationRequest) -> float:
        rate = self.per_second.get(request.resolution, max(self.per_second.values()))
        cost = rate * request.duration
        if request.reference_videos:
            cost *= self.reference_video_multiplier
        return round(cost, 4)
