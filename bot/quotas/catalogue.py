"""Which limits exist, what their values are, and how moderators write them.

Each limit has a kind, and each kind one small value type: `Quantity` (a number of videos,
seconds or cost, or unlimited), `Cooldown` (seconds between requests), `HighestResolution`
and `Permission` (allow or deny). Every value type can say how generous it is, so the
most generous of a member's roles can be picked whatever the kind.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass

from bot.durations import parse_duration
from bot.errors import InvalidInput
from bot.model_offer import RESOLUTIONS


class Window(enum.StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    @property
    def this(self) -> str:
        return {"day": "today", "week": "this week", "month": "this month"}[self.value]

    @property
    def last(self) -> str:
        return {"day": "yesterday", "week": "last week", "month": "last month"}[self.value]

    @classmethod
    def parse(cls, text: str) -> Window:
        try:
            return cls(text)
        except ValueError:
            raise InvalidInput("The window must be day, week or month.") from None


class Metric(enum.StrEnum):
    GENERATIONS = "generations"
    SECONDS = "seconds"
    COST = "cost"


class LimitKind(enum.StrEnum):
    COUNT = "count"  # whole number, larger is more generous, "unlimited" allowed
    AMOUNT = "amount"  # estimated cost, larger is more generous, "unlimited" allowed
    COOLDOWN = "cooldown"  # seconds between requests, smaller is more generous
    RESOLUTION = "resolution"  # highest resolution, "unlimited" allowed
    ALLOW = "allow"  # allow/deny


class LimitValue(ABC):
    """One limit's value, whatever its kind."""

    @abstractmethod
    def generosity(self) -> float:
        """A number that grows with how much the value lets a member do."""

    @abstractmethod
    def __str__(self) -> str:
        """How moderators read and write it; also how it is stored."""


@dataclass(frozen=True)
class Quantity(LimitValue):
    """At most ``amount`` (videos, seconds or cost) per window or at once; None: unlimited."""

    amount: float | None

    @property
    def unlimited(self) -> bool:
        return self.amount is None

    def generosity(self) -> float:
        return float("inf") if self.amount is None else float(self.amount)

    def __str__(self) -> str:
        return "unlimited" if self.amount is None else f"{self.amount:g}"


@dataclass(frozen=True)
class Cooldown(LimitValue):
    seconds: int

    def generosity(self) -> float:
        return -float(self.seconds)

    def __str__(self) -> str:
        return "none" if not self.seconds else f"{self.seconds}s"


@dataclass(frozen=True)
class HighestResolution(LimitValue):
    resolution: str | None  # None: any

    def generosity(self) -> float:
        return float("inf") if self.resolution is None else RESOLUTIONS.index(self.resolution)

    def allows(self, resolution: str) -> bool:
        return self.resolution is None or RESOLUTIONS.index(resolution) <= self.generosity()

    def __str__(self) -> str:
        return self.resolution or "unlimited"


@dataclass(frozen=True)
class Permission(LimitValue):
    allowed: bool

    def generosity(self) -> float:
        return 1.0 if self.allowed else 0.0

    def __str__(self) -> str:
        return "allow" if self.allowed else "deny"


_UNLIMITED = {"unlimited", "none", "no limit", "any", "∞", "inf"}
_ALLOW = {"allow", "allowed", "yes", "on", "true", "1"}
_DENY = {"deny", "denied", "no", "off", "false", "0", "block", "blocked"}


@dataclass(frozen=True)
class LimitSpec:
    name: str
    label: str
    kind: LimitKind
    window: Window | None = None
    metric: Metric | None = None

    @property
    def default(self) -> LimitValue:
        """What applies when nobody set the limit: no limit at all."""
        if self.kind is LimitKind.ALLOW:
            return Permission(True)
        if self.kind is LimitKind.COOLDOWN:
            return Cooldown(0)
        if self.kind is LimitKind.RESOLUTION:
            return HighestResolution(None)
        return Quantity(None)

    def parse(self, text: str) -> LimitValue:
        """A moderator's text as this limit's value; `InvalidInput` says what is expected."""
        raw = text.strip().lower()
        if self.kind is LimitKind.ALLOW:
            if raw in _ALLOW:
                return Permission(True)
            if raw in _DENY:
                return Permission(False)
            raise InvalidInput(f"{self.label}: say `allow` or `deny`.")
        if self.kind is LimitKind.RESOLUTION:
            if raw in _UNLIMITED:
                return HighestResolution(None)
            if raw in RESOLUTIONS:
                return HighestResolution(raw)
            raise InvalidInput(
                f"{self.label}: one of {', '.join(RESOLUTIONS)}, or `unlimited`."
            )
        if self.kind is LimitKind.COOLDOWN:
            if raw in _UNLIMITED or raw in _DENY:
                return Cooldown(0)
            try:
                return Cooldown(parse_duration(raw))
            except ValueError:
                raise InvalidInput(
                    f"{self.label}: a time such as `30s`, `5m` or `1h30m`, or `none`."
                ) from None
        if raw in _UNLIMITED:
            return Quantity(None)
        try:
            number = float(raw) if self.kind is LimitKind.AMOUNT else int(raw)
        except ValueError:
            whole = "a whole number" if self.kind is LimitKind.COUNT else "a number"
            raise InvalidInput(f"{self.label}: {whole} (0 or more), or `unlimited`.") from None
        if number < 0:
            raise InvalidInput(f"{self.label}: the value can't be negative.")
        return Quantity(number)


def _catalogue() -> dict[str, LimitSpec]:
    labels = {
        Metric.GENERATIONS: "generations",
        Metric.SECONDS: "seconds of video",
        Metric.COST: "estimated cost",
    }
    specs = [
        LimitSpec(
            f"{metric}_per_{window}",
            f"{labels[metric]} per {window}",
            LimitKind.AMOUNT if metric is Metric.COST else LimitKind.COUNT,
            window,
            metric,
        )
        for metric in Metric
        for window in Window
    ]
    specs += [
        LimitSpec("concurrent_jobs", "videos in progress at once", LimitKind.COUNT),
        LimitSpec("cooldown_seconds", "cooldown between requests", LimitKind.COOLDOWN),
        LimitSpec("max_duration", "longest video (seconds)", LimitKind.COUNT),
        LimitSpec("max_resolution", "highest resolution", LimitKind.RESOLUTION),
        LimitSpec("web_search", "web search", LimitKind.ALLOW),
        LimitSpec("reference_images", "image inputs (reference images, frames)", LimitKind.ALLOW),
        LimitSpec("reference_videos", "reference videos", LimitKind.ALLOW),
        LimitSpec("reference_audios", "reference audio", LimitKind.ALLOW),
    ]
    return {s.name: s for s in specs}


LIMITS: dict[str, LimitSpec] = _catalogue()
GATES = ("web_search", "reference_images", "reference_videos", "reference_audios")


def limit_spec(name: str) -> LimitSpec:
    try:
        return LIMITS[name]
    except KeyError:
        raise InvalidInput(f"`{name}` is not a limit. Limits: {', '.join(LIMITS)}.") from None


def window_limit(metric: Metric, window: Window) -> str:
    return f"{metric}_per_{window}"
