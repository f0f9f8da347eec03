"""Prometheus metrics for operators who want them (``METRICS_PORT``; off by default).

Everything is measured at a boundary this module owns, so the job code carries no metrics
calls and can be rewritten freely:

- jobs by state, the scheduler's backlog, delivery outcomes and the finish-to-post delay are
  read from the jobs table when Prometheus scrapes (`JobCounts`); each settled job is
  counted once, from when this process started;
- provider calls (every HTTP request to GMI's API, retries included), their errors by kind
  and their latency come from an aiohttp trace on the bot's HTTP session (`provider_trace`);
- Discord's 429s, and how old each interaction was when its answer reached Discord, come
  from discord.py's own HTTP trace (`discord_trace`, its ``http_trace``).

The names are listed in the README's operator section.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from urllib.parse import urlsplit

import aiohttp
import discord.utils
from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot.clock import Clock
from bot.db.jobs import JobCounts

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
POST_DELAY_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0)
# Discord fails an interaction whose answer comes 3 s after it was created, so the buckets
# are finest there.
ANSWER_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0)
# Discord's answer to an interaction's callback: its id (whose top bits are when it was
# created) and its token, which is matched over and never kept.
INTERACTION_CALLBACK = re.compile(r"/interactions/(\d+)/[^/]+/callback$")
# Calls made to check the provider itself (`bot.provider_health`) rather than for a job.
CHECK_CALLS = frozenset({"model", "models"})


class Metrics:
    """The bot's metrics in their own registry (one per bot, so tests can run several)."""

    def __init__(self, clock: Clock, *, provider_taking_jobs: Callable[[], bool]) -> None:
        self.clock = clock
        self.provider_taking_jobs = provider_taking_jobs
        self.registry = CollectorRegistry()
        registry = self.registry
        self.jobs = Gauge("seedance_jobs", "Jobs by lifecycle state.", ["state"], registry=registry)
        self.jobs_due = Gauge(
            "seedance_jobs_due",
            "Jobs whose next step is due and not started yet (the scheduler's backlog).",
            registry=registry,
        )
        self.provider_requests = Counter(
            "seedance_provider_requests",
            "HTTP requests to the video provider's API, by call and outcome "
            "(ok, invalid, auth, not_found, rate_limited, server_error, timeout, network, other).",
            ["call", "outcome"],
            registry=registry,
        )
        self.provider_latency = Histogram(
            "seedance_provider_request_duration_seconds",
            "Time until the video provider answered (headers), by call.",
            ["call"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.provider_available = Gauge(
            "seedance_provider_available",
            "1 while the video provider takes jobs, 0 while it is unavailable.",
            registry=registry,
        )
        self.deliveries = Counter(
            "seedance_deliveries",
            "Job outcomes settled since start, by where they went (channel, dm, undeliverable).",
            ["via"],
            registry=registry,
        )
        self.post_delay = Histogram(
            "seedance_result_post_delay_seconds",
            "From the outcome being known to the result being posted.",
            buckets=POST_DELAY_BUCKETS,
            registry=registry,
        )
        self.discord_rate_limits = Counter(
            "seedance_discord_rate_limits",
            "429 answers from Discord, by scope (user, global, shared).",
            ["scope"],
            registry=registry,
        )
        self.interaction_answers = Histogram(
            "seedance_interaction_answer_seconds",
            "From an interaction's creation (its id's timestamp, read against this host's "
            "clock) to Discord's reply to the bot's answer, by outcome (ok; expired: "
            "Discord had given up on it; refused: any other error).",
            ["outcome"],
            buckets=ANSWER_BUCKETS,
            registry=registry,
        )
        ProcessCollector(registry=registry)
        self._settled_mark = (clock(), 0)

    async def refresh(self, counts: JobCounts) -> None:
        """Bring the database-backed metrics up to date (before each scrape)."""
        for state, count in (await counts.by_state()).items():
            self.jobs.labels(state=state.value).set(count)
        self.jobs_due.set(await counts.due(self.clock()))
        self.provider_available.set(1 if self.provider_taking_jobs() else 0)
        while settled := await counts.settled_after(*self._settled_mark):
            for job in settled:
                via = job.delivered_via or "undeliverable"
                self.deliveries.labels(via=via).inc()
                if via != "undeliverable" and job.finished_at is not None:
                    self.post_delay.observe(max(0.0, job.delivered_at - job.finished_at))
            self._settled_mark = (settled[-1].delivered_at, settled[-1].id)

    async def render(self, counts: JobCounts) -> bytes:
        """The text Prometheus scrapes."""
        await self.refresh(counts)
        return generate_latest(self.registry)

    def provider_answered(self, call: str, status: int, seconds: float) -> None:
        self.provider_requests.labels(call=call, outcome=_outcome(status)).inc()
        self.provider_latency.labels(call=call).observe(seconds)

    def provider_failed(self, call: str, error: BaseException) -> None:
        outcome = "timeout" if isinstance(error, TimeoutError) else "network"
        self.provider_requests.labels(call=call, outcome=outcome).inc()

    def interaction_answered(self, interaction_id: int, status: int) -> None:
        """An answer to an interaction got Discord's reply ``status``: how old it was."""
        created = discord.utils.snowflake_time(interaction_id).timestamp()
        outcome = "ok" if 200 <= status < 300 else "expired" if status == 404 else "refused"
        age = max(0.0, self.clock() - created)  # a host clock behind Discord's reads 0
        self.interaction_answers.labels(outcome=outcome).observe(age)


def _outcome(status: int) -> str:
    if 200 <= status < 300:
        return "ok"
    kinds = {400: "invalid", 401: "auth", 403: "auth", 404: "not_found", 429: "rate_limited"}
    if status in kinds:
        return kinds[status]
    return "server_error" if status >= 500 else "other"


def provider_call_name(base_url: str, method: str, url: str) -> str | None:
    """Which GMI call a request is (``submit``, ``get``, ``list``, ``models``, ``model``),
    or ``None`` for any other request the session makes (result downloads...)."""
    base = urlsplit(base_url.rstrip("/"))
    target = urlsplit(url)
    if (target.scheme, target.netloc) != (base.scheme, base.netloc):
        return None
    if not target.path.startswith(base.path + "/"):
        return None
    parts = target.path[len(base.path) + 1 :].split("/")
    if parts[0] == "requests":
        if len(parts) == 1:
            return "submit" if method == "POST" else "list"
        return "get"
    if parts[0] == "models":
        return "models" if len(parts) == 1 else "model"
    return None


def provider_trace(
    metrics: Metrics, base_url: str, *, on_key_refused: Callable[[str], Awaitable[None]]
) -> aiohttp.TraceConfig:
    """Count and time every request to the provider's API; tell ``on_key_refused`` when a
    job's call is refused for its key (the provider's own checks report themselves)."""
    trace = aiohttp.TraceConfig()

    async def started(
        session: aiohttp.ClientSession,
        ctx: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        ctx.call = provider_call_name(base_url, params.method, str(params.url))
        ctx.started = time.monotonic()

    async def answered(
        session: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceRequestEndParams
    ) -> None:
        if ctx.call is None:
            return
        status = params.response.status
        metrics.provider_answered(ctx.call, status, time.monotonic() - ctx.started)
        if status in (401, 403) and ctx.call not in CHECK_CALLS:
            await on_key_refused(f"HTTP {status} on a {ctx.call} call")

    async def failed(
        session: aiohttp.ClientSession,
        ctx: SimpleNamespace,
        params: aiohttp.TraceRequestExceptionParams,
    ) -> None:
        if ctx.call is not None and not isinstance(params.exception, asyncio.CancelledError):
            metrics.provider_failed(ctx.call, params.exception)

    trace.on_request_start.append(started)
    trace.on_request_end.append(answered)
    trace.on_request_exception.append(failed)
    trace.freeze()
    return trace


def discord_trace(metrics: Metrics) -> aiohttp.TraceConfig:
    """Count Discord's 429s (discord.py waits them out and retries by itself), and time
    each interaction's answer from the interaction's creation."""
    trace = aiohttp.TraceConfig()

    async def answered(
        session: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceRequestEndParams
    ) -> None:
        status = params.response.status
        if status == 429:
            scope = params.response.headers.get("X-RateLimit-Scope", "unknown")
            metrics.discord_rate_limits.labels(scope=scope).inc()
        elif params.method == "POST":
            callback = INTERACTION_CALLBACK.search(params.url.path)
            if callback is not None:
                metrics.interaction_answered(int(callback.group(1)), status)

    trace.on_request_end.append(answered)
    trace.freeze()
    return trace


class MetricsServer:
    """``GET /metrics`` on ``host:port`` (port 0: any free port), in the bot's event loop."""

    def __init__(self, metrics: Metrics, counts: JobCounts, host: str, port: int) -> None:
        self.metrics = metrics
        self.counts = counts
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        """Serve; returns the URL to scrape."""
        app = web.Application()
        app.router.add_get("/metrics", self._scrape)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        return self.url

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    async def _scrape(self, request: web.Request) -> web.Response:
        body = await self.metrics.render(self.counts)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
