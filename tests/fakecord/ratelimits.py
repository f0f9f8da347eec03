"""Discord's REST rate limits: per-route buckets per top-level resource, and the global limit.

How Discord counts (https://discord.com/developers/docs/topics/rate-limits):

- A per-route bucket is keyed by its route and the request's *major parameters* (the top-level
  resource: ``channel_id``, ``guild_id``, or ``webhook_id`` + ``webhook_token``), so #a and #b
  have separate limits. A window opens with the first request and refills whole when it ends.
  Every answer carries ``X-RateLimit-Limit``, ``-Remaining``, ``-Reset``, ``-Reset-After`` and
  ``-Bucket`` (a hash naming the route's limit, the same for every channel).
- The global limit: 50 requests a second per bot token (a window of one second that opens
  with its first request), whatever the route. Interaction
  endpoints (the callback, ``@original`` and followups) are not bound by it.
- Over a limit: 429 ``{"message", "retry_after", "global", "code"}`` with ``Retry-After`` and
  ``X-RateLimit-Scope`` (``user`` for a route bucket, ``global`` with ``X-RateLimit-Global``).

The numbers are the ones bots observe (5 messages / 5 s per channel, edits likewise and
separately, deletes 5 / 1 s, reactions 1 / 0.25 s); routes without a known figure get
:data:`DEFAULT`. A test may change any of them: ``emu.rate_limits.set(method, route, limit, per)``,
``emu.rate_limits.global_limit = Limit(...)``, or ``emu.rate_limits.enabled = False``.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

MAJOR_PARAMETERS = ("channel_id", "guild_id", "webhook_id", "webhook_token")
# Routes that answer interactions: not bound by the global limit.
INTERACTION_PREFIXES = ("/interactions/", "/webhooks/")
# Windows end when the client's own sleep says so; allow its timer to fire a hair early.
EARLY_WAKE = 0.02


@dataclass(frozen=True)
class Limit:
    """``limit`` requests per ``per`` seconds."""

    limit: int
    per: float


DEFAULT = Limit(50, 1.0)
GLOBAL = Limit(50, 1.0)
ROUTES: dict[tuple[str, str], Limit] = {
    ("POST", "/channels/{channel_id}/messages"): Limit(5, 5.0),
    ("PATCH", "/channels/{channel_id}/messages/{message_id}"): Limit(5, 5.0),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}"): Limit(5, 1.0),
    ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me"): Limit(1, 0.25),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me"): Limit(1, 0.25),
    ("POST", "/channels/{channel_id}/typing"): Limit(5, 5.0),
    ("POST", "/webhooks/{webhook_id}/{webhook_token}"): Limit(5, 2.0),
    ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original"): Limit(5, 2.0),
    ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"): Limit(5, 2.0),
}
# Routes Discord counts in one bucket (same X-RateLimit-Bucket): reactions added and removed.
SHARED = {
    ("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me"):
        ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me"),
}


@dataclass
class Window:
    """Requests counted in a window that ends at ``resets_at`` (emulator monotonic seconds).

    It counts what was used, not what is left, so a limit a test changes applies at once."""

    resets_at: float
    used: int = 0


@dataclass
class RateLimitHit:
    """One 429 the emulator answered because a limit was reached."""

    method: str
    route: str
    path: str
    scope: str  # "user" (a route bucket) or "global"
    retry_after: float
    bucket: str
    at: float  # emulator monotonic seconds


@dataclass
class Verdict:
    """What a request gets: the headers to add, and the 429 body if it was refused."""

    headers: dict[str, str]
    refused: dict | None = None


def bucket_hash(name: str) -> str:
    return hashlib.sha256(f"fakecord:{name}".encode()).hexdigest()[:32]


@dataclass
class RateLimits:
    """The rate limiter the middleware consults before every API request."""

    clock_monotonic: Callable[[], float]
    clock_time: Callable[[], float]
    enabled: bool = True
    global_limit: Limit = GLOBAL
    routes: dict[tuple[str, str], Limit] = field(default_factory=lambda: dict(ROUTES))
    default: Limit = DEFAULT
    hits: list[RateLimitHit] = field(default_factory=list)
    _windows: dict[tuple[str, tuple[str, ...]], Window] = field(default_factory=dict)
    _global: Window | None = None

    def set(self, method: str, route: str, limit: int, per: float) -> None:
        """Loosen or tighten one route's bucket (a discord.py template, without /api/v10)."""
        self.routes[(method.upper(), route)] = Limit(limit, per)

    def limit_for(self, method: str, route: str) -> Limit:
        key = SHARED.get((method, route), (method, route))
        return self.routes.get(key, self.default)

    def _name(self, method: str, route: str) -> str:
        shared_method, shared_route = SHARED.get((method, route), (method, route))
        return f"{shared_method} {shared_route}"

    def bucket(self, method: str, route: str) -> str:
        return bucket_hash(self._name(method, route))

    def check(self, method: str, route: str, path: str, params: Mapping[str, str], *,
              authorized: bool) -> Verdict:
        """Count the request against its bucket and the global limit (unless refused)."""
        now = self.clock_monotonic()
        limit = self.limit_for(method, route)
        name = self._name(method, route)
        key = (name, tuple(params.get(p, "") for p in MAJOR_PARAMETERS))
        bucket = bucket_hash(name)
        if not self.enabled:
            return Verdict(self._headers(limit, limit.limit, limit.per, bucket))
        window = self._windows.get(key)
        if window is None or now + EARLY_WAKE >= window.resets_at:
            window = self._windows[key] = Window(now + limit.per)
        counts_globally = authorized and not route.startswith(INTERACTION_PREFIXES)
        if counts_globally:
            if self._global is None or now + EARLY_WAKE >= self._global.resets_at:
                self._global = Window(now + self.global_limit.per)
            if self._global.used >= self.global_limit.limit:
                retry_after = max(0.001, self._global.resets_at - now)
                self.hits.append(RateLimitHit(method, route, path, "global", retry_after, bucket, now))
                return Verdict(
                    {"Retry-After": str(math.ceil(retry_after)), "X-RateLimit-Global": "true",
                     "X-RateLimit-Scope": "global", "Via": "1.1 google"},
                    {"message": "You are being rate limited.", "retry_after": round(retry_after, 3),
                     "global": True, "code": 0})
        reset_after = max(0.0, window.resets_at - now)
        if window.used >= limit.limit:
            retry_after = max(0.001, reset_after)
            self.hits.append(RateLimitHit(method, route, path, "user", retry_after, bucket, now))
            headers = self._headers(limit, 0, reset_after, bucket)
            headers.update({"Retry-After": str(math.ceil(retry_after)), "X-RateLimit-Scope": "user",
                            "Via": "1.1 google"})
            return Verdict(headers, {"message": "You are being rate limited.",
                                     "retry_after": round(retry_after, 3), "global": False, "code": 0})
        window.used += 1
        if counts_globally and self._global is not None:
            self._global.used += 1
        return Verdict(self._headers(limit, limit.limit - window.used, reset_after, bucket))

    def _headers(self, limit: Limit, remaining: int, reset_after: float, bucket: str) -> dict[str, str]:
        reset_after = math.ceil(reset_after * 1000) / 1000
        return {
            "X-RateLimit-Limit": str(limit.limit), "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{self.clock_time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}", "X-RateLimit-Bucket": bucket,
        }

    def injected_headers(self, method: str, route: str, retry_after: float) -> dict[str, str]:
        """Headers for a 429 a test injected: the route's real bucket, exhausted."""
        headers = self._headers(self.limit_for(method, route), 0, retry_after, self.bucket(method, route))
        headers["X-RateLimit-Scope"] = "user"
        return headers


class EditCounter:
    """The most edits of visible messages seen in one channel within any ``window`` seconds."""

    def __init__(self, clock_monotonic: Callable[[], float], window: float = 5.0) -> None:
        self.clock = clock_monotonic
        self.window = window
        self.max_in_window = 0
        self.busiest_channel: int | None = None
        self._recent: dict[int, deque[float]] = {}

    def record(self, channel_id: int) -> None:
        now = self.clock()
        recent = self._recent.setdefault(channel_id, deque())
        recent.append(now)
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        if len(recent) > self.max_in_window:
            self.max_in_window = len(recent)
            self.busiest_channel = channel_id
