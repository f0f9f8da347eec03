"""An in-process, scriptable stand-in for GMI Cloud's request-queue API.

It serves the production paths under :data:`API_PREFIX`, validates payloads like the provider,
walks each request through created/queued -> dispatched -> processing -> success|failed on a
schedule measured with an injectable clock, serves a real MP4 at the result URL, and records every
call. Tests script it per request (:meth:`GMISimulator.script_next`) and inject transient faults
(:meth:`GMISimulator.fault`). See ``docs`` in ``/work/shared/docs/gmi-api.md`` for what it plays.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from aiohttp import web

from .media import MediaRenderer, VideoSpec, free_box_header, padding_for
from .validation import (
    BOOL_KEYS,
    RATIOS,
    REFERENCE_LIMITS,
    RESOLUTIONS,
    SEED_MAX,
    PayloadError,
    validate_payload,
)

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1/ie/requestqueue/apikey"
DEFAULT_MODEL = "seedance-2-0-fast-260128"
BACKEND_400_ERROR = "Backend error (400). Please try again."
DEFAULT_BANNED_WORDS = ("policy-violation",)
# Connections waiting to be accepted (Linux caps it at somaxconn). A cloud API accepts a
# burst of them; aiohttp's default of 128 would drop the SYNs of the bot's calls beyond it
# (up to the budget's concurrency open at once) and add a 1 s retransmit to each.
LISTEN_BACKLOG = 4096

CALLS = ("submit", "get", "list", "models", "model", "media")
PENDING_PATH = ("created", "queued", "dispatched", "processing")
TERMINAL = frozenset({"success", "failed", "cancelled"})
REASON_PLACES = ("error", "outcome", "outcome_dict", "message", "detail", "none")
OUTCOME_SHAPES = ("media_urls", "media_urls_str", "flat")
MALFORMED_JSON = '{"request_id": "a1b2c3", "status": '


@dataclass(frozen=True)
class Timings:
    """Seconds a request spends in each pending status (0 skips the status)."""

    queued: float = 0.0
    dispatched: float = 0.0
    processing: float = 0.0
    created: float = 0.0

    def duration(self, status: str) -> float:
        return float(getattr(self, status))


@dataclass(frozen=True)
class Behaviour:
    """How one submitted request behaves; see :meth:`GMISimulator.script_next`."""

    fail_reason: str | None = None
    reason_in: str = "error"
    hold: bool = False
    terminal_on_submit: bool = False
    submit_status: str = "queued"
    outcome_shape: str = "media_urls"
    video_bytes: int | None = None
    timings: Timings | None = None
    video: VideoSpec | None = None
    rename_status: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.reason_in not in REASON_PLACES:
            raise ValueError(f"reason_in must be one of {REASON_PLACES}")
        if self.outcome_shape not in OUTCOME_SHAPES:
            raise ValueError(f"outcome_shape must be one of {OUTCOME_SHAPES}")
        if self.submit_status not in PENDING_PATH:
            raise ValueError(f"submit_status must be one of {PENDING_PATH}")


@dataclass
class Fault:
    """One injected fault; ``hits`` counts how often it fired, ``times`` None means forever."""

    call: str
    status: int | None = None
    retry_after: float | str | None = None
    times: int | None = 1
    after_create: bool = False
    body: Any = None
    malformed_json: bool = False
    drop_connection: bool = False
    delay: float = 0.0
    hits: int = 0

    def matches(self, call: str, after_create: bool) -> bool:
        if self.call not in ("*", call):
            return False
        if call == "submit":
            return self.after_create == after_create
        return not after_create


@dataclass
class LoggedCall:
    """One HTTP call the simulator received. ``status`` is None while in flight or if dropped."""

    method: str
    path: str
    call: str
    request_id: str | None
    body_json: Any
    status: int | None
    at: float
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    fault: str | None = None


@dataclass
class SimRequest:
    """A request's state. ``status`` is computed from the clock, so it is always current."""

    request_id: str
    model: str
    payload: dict[str, Any]
    behaviour: Behaviour
    timings: Timings
    created_at: float  # simulator clock
    created_wall: float  # Unix seconds
    anchor: float  # the clock reading the timed path starts from
    clock: Callable[[], float] = field(repr=False)
    org_id: str = "sim-org"
    held: bool = False
    cancelled_at: float | None = None
    token: str = field(default_factory=lambda: secrets.token_urlsafe(16), repr=False)

    @property
    def terminal_status(self) -> str:
        return "failed" if self.behaviour.fail_reason is not None else "success"

    def _path(self) -> list[str]:
        return list(PENDING_PATH[PENDING_PATH.index(self.behaviour.submit_status) :])

    def status_at(self, now: float) -> tuple[str, float]:
        """(status, clock reading when it began)."""
        if self.cancelled_at is not None and now >= self.cancelled_at:
            return "cancelled", self.cancelled_at
        if self.behaviour.terminal_on_submit:
            return self.terminal_status, self.created_at
        path = self._path()
        if self.held:
            return path[0], self.created_at
        cursor = self.anchor
        for status in path:
            end = cursor + self.timings.duration(status)
            if now < end:
                return status, cursor
            cursor = end
        return self.terminal_status, cursor

    @property
    def status(self) -> str:
        return self.status_at(self.clock())[0]

    @property
    def finished_at(self) -> float | None:
        status, since = self.status_at(self.clock())
        return since if status in TERMINAL else None

    def release(self, now: float) -> None:
        """Leave the queue now: skip whatever precedes ``dispatched``."""
        if not self.held:
            return
        self.held = False
        path = self._path()
        before = [s for s in path if PENDING_PATH.index(s) < PENDING_PATH.index("dispatched")]
        self.anchor = now - sum(self.timings.duration(s) for s in before)


class _Dropped(Exception):
    """The handler closed the connection on purpose (``response``: one already started)."""

    def __init__(self, response: web.StreamResponse | None = None) -> None:
        super().__init__("connection dropped")
        self.response = response


class GMISimulator:
    """A fake GMI request queue. ``await start()``, point a client at ``base_url``, ``close()``."""

    def __init__(
        self,
        api_key: str | None = "test-key",
        model: str = DEFAULT_MODEL,
        *,
        timings: Timings | None = None,
        video: VideoSpec | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        organization_id: str | None = None,
        extra_models: Iterable[str] = (),
        reject_1080p: bool = False,
        max_prompt_chars: int = 5000,
        banned_words: Iterable[str] = DEFAULT_BANNED_WORDS,
        url_ttl: float = 3600.0,
        max_queued: int = 120,
        public_origin: str | None = None,
        ffmpeg: str | None = None,
        timing_profile: Callable[[dict[str, Any]], Timings] | None = None,
        list_page_size: int | None = None,
        latency: float = 0.0,
    ) -> None:
        self.api_key = api_key
        self.model = model
        self.timings = timings or Timings()
        self.video = video or VideoSpec()
        self.clock = clock
        self.wall_clock = wall_clock
        self.organization_id = organization_id
        self.extra_models = list(extra_models)
        self.reject_1080p = reject_1080p
        self.max_prompt_chars = max_prompt_chars
        self.banned_words = list(banned_words)
        self.url_ttl = url_ttl
        self.max_queued = max_queued
        self.public_origin = public_origin
        # Per-request timings drawn from the payload (realistic runs); else `timings`.
        self.timing_profile = timing_profile
        # When set, the list answers in pages (`page`, `page_size`, `total`, `next`).
        self.list_page_size = list_page_size
        # Seconds every API call takes before it is answered (a provider's round trip).
        self.latency = latency
        self.requests: dict[str, SimRequest] = {}
        self.log: list[LoggedCall] = []
        self.faults: list[Fault] = []
        self._scripts: list[tuple[Behaviour, int]] = []  # (behaviour, times left)
        self._renderer = MediaRenderer(ffmpeg)
        self._runner: web.AppRunner | None = None
        self._changed: asyncio.Condition | None = None
        self._closing: asyncio.Event | None = None
        self._origin: str | None = None

    # ---- lifecycle ------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> GMISimulator:
        if self._runner is not None:
            raise RuntimeError("simulator already started")
        self._changed = asyncio.Condition()
        self._closing = asyncio.Event()
        runner = web.AppRunner(
            self.make_app(), handler_cancellation=True, shutdown_timeout=0.5, access_log=None
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port, backlog=LISTEN_BACKLOG)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        if bound_host in ("0.0.0.0", "::", ""):
            bound_host = "127.0.0.1"
        if ":" in bound_host:
            bound_host = f"[{bound_host}]"
        self._origin = f"http://{bound_host}:{bound_port}"
        log.info("GMI simulator listening at %s", self.base_url)
        return self

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if self._closing is not None:
            self._closing.set()  # ends injected delays at once
        if runner is not None:
            await runner.cleanup()
        await self._renderer.close()

    async def __aenter__(self) -> GMISimulator:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_origin(self) -> str:
        if self.public_origin:
            return self.public_origin.rstrip("/")
        if self._origin is None:
            raise RuntimeError("simulator not started")
        return self._origin

    @property
    def base_url(self) -> str:
        return self.base_origin + API_PREFIX

    # ---- scripting ------------------------------------------------------------------------

    def script_next(self, times: int = 1, **behaviour: Any) -> Behaviour:
        """The next ``times`` submits behave like this (see :class:`Behaviour` for the keys)."""
        if isinstance(behaviour.get("rename_status"), dict):
            behaviour["rename_status"] = dict(behaviour["rename_status"])
        script = Behaviour(**behaviour)
        self._scripts.append((script, times))
        return script

    def fault(
        self,
        call: str = "*",
        status: int | None = None,
        *,
        retry_after: float | str | None = None,
        times: int | None = 1,
        after_create: bool = False,
        body: Any = None,
        malformed_json: bool = False,
        drop_connection: bool = False,
        delay: float = 0.0,
    ) -> Fault:
        """Make the next ``times`` matching calls misbehave (``times=None``: until cleared).

        ``after_create`` (submit only): the request is created first, then the fault hits.
        Faults fire in the order they were added, before the key is checked.
        """
        if call != "*" and call not in CALLS:
            raise ValueError(f"call must be '*' or one of {CALLS}")
        if status is None and not (malformed_json or drop_connection or delay):
            raise ValueError("a fault needs a status, malformed_json, drop_connection or delay")
        injected = Fault(
            call, status, retry_after, times, after_create, body, malformed_json,
            drop_connection, delay,
        )  # fmt: skip
        self.faults.append(injected)
        return injected

    def clear_faults(self) -> None:
        self.faults.clear()

    def cancel(self, request_id: str) -> bool:
        """Cancel from outside (as an operator would); False if already finished."""
        request = self.requests[request_id]
        now = self.clock()
        if request.status_at(now)[0] in TERMINAL:
            return False
        request.cancelled_at = now
        return True

    def release(self, request_id: str) -> None:
        """Let a request submitted with ``hold=True`` leave the queue now."""
        self.requests[request_id].release(self.clock())

    def calls(self, call: str | None = None, request_id: str | None = None) -> list[LoggedCall]:
        return [
            c
            for c in self.log
            if (call is None or c.call == call)
            and (request_id is None or c.request_id == request_id)
        ]

    async def wait_for_calls(
        self,
        call: str | None = None,
        count: int = 1,
        *,
        request_id: str | None = None,
        answered: bool = True,
        within: float = 5.0,
    ) -> list[LoggedCall]:
        """Wait until ``count`` matching calls were received (and answered, by default)."""

        def enough() -> bool:
            found = self.calls(call, request_id)
            if answered:
                found = [c for c in found if c.status is not None or c.fault == "drop"]
            return len(found) >= count

        await self.wait_until(enough, within=within)
        return self.calls(call, request_id)

    async def wait_until(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        """Wait (without polling) until ``predicate()`` is true after some call to the simulator."""
        if self._changed is None:
            raise RuntimeError("simulator not started")
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(predicate)

    async def _notify(self) -> None:
        if self._changed is not None:
            async with self._changed:
                self._changed.notify_all()

    # ---- the app --------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        routes = [
            ("POST", f"{API_PREFIX}/requests", "submit", self._submit),
            ("GET", f"{API_PREFIX}/requests", "list", self._list),
            ("GET", f"{API_PREFIX}/requests/{{request_id}}", "get", self._get),
            ("GET", f"{API_PREFIX}/models", "models", self._models),
            ("GET", f"{API_PREFIX}/models/{{model_id}}", "model", self._model),
            ("GET", "/media/{name}", "media", self._media),
        ]
        for method, path, call, handler in routes:
            if method == "GET":
                app.router.add_get(path, self._endpoint(call, handler))  # and HEAD
            else:
                app.router.add_route(method, path, self._endpoint(call, handler))
        self._add_control_routes(app)
        return app

    # ---- control endpoints (for a simulator in another process) ------------------------------

    def _add_control_routes(self, app: web.Application) -> None:
        """``/_sim/...``: script, fault, cancel and release over HTTP; not logged, no key.

        POST /_sim/script {"times": 1, <Behaviour fields>; "timings"/"video" as objects}
        POST /_sim/faults {<fault() arguments>}        DELETE /_sim/faults
        POST /_sim/requests/{id}/cancel | /release     GET /_sim/requests | /_sim/log
        """
        app.router.add_post("/_sim/script", self._control_script)
        app.router.add_post("/_sim/faults", self._control_fault)
        app.router.add_delete("/_sim/faults", self._control_clear_faults)
        app.router.add_post("/_sim/requests/{request_id}/{action}", self._control_request)
        app.router.add_get("/_sim/requests", self._control_requests)
        app.router.add_get("/_sim/log", self._control_log)

    async def _control_body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="body must be JSON") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="body must be a JSON object")
        return body

    async def _control_script(self, request: web.Request) -> web.Response:
        body = await self._control_body(request)
        times = body.pop("times", 1)
        try:
            if isinstance(body.get("timings"), dict):
                body["timings"] = Timings(**body["timings"])
            if isinstance(body.get("video"), dict):
                body["video"] = VideoSpec(**body["video"])
            self.script_next(times, **body)
        except (TypeError, ValueError) as exc:
            return _error(400, str(exc))
        return web.json_response({"scripted": times})

    async def _control_fault(self, request: web.Request) -> web.Response:
        body = await self._control_body(request)
        try:
            self.fault(**body)
        except (TypeError, ValueError) as exc:
            return _error(400, str(exc))
        return web.json_response({"faults": len(self.faults)})

    async def _control_clear_faults(self, request: web.Request) -> web.Response:
        self.clear_faults()
        return web.json_response({"faults": 0})

    async def _control_request(self, request: web.Request) -> web.Response:
        request_id = request.match_info["request_id"]
        action = request.match_info["action"]
        if request_id not in self.requests:
            return _error(404, "request not found")
        if action == "cancel":
            return web.json_response({"cancelled": self.cancel(request_id)})
        if action == "release":
            self.release(request_id)
            return web.json_response({"released": True})
        return _error(404, f"unknown action {action!r}; use cancel or release")

    async def _control_requests(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "requests": [
                    {"request_id": r.request_id, "status": r.status, "payload": r.payload}
                    for r in self.requests.values()
                ]
            }
        )

    async def _control_log(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "log": [
                    {"method": c.method, "path": c.path, "call": c.call,
                     "request_id": c.request_id, "status": c.status, "fault": c.fault}
                    for c in self.log
                ]
            }
        )  # fmt: skip

    def _endpoint(
        self,
        call: str,
        handler: Callable[[web.Request, LoggedCall], Awaitable[web.StreamResponse]],
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def endpoint(request: web.Request) -> web.StreamResponse:
            body_json = None
            if request.can_read_body:
                raw = await request.read()
                try:
                    body_json = json.loads(raw) if raw else None
                except ValueError:
                    body_json = raw.decode("utf-8", "replace")
            request_id = request.match_info.get("request_id")
            if call == "media":
                request_id = request.match_info["name"].rsplit(".", 1)[0]
            entry = LoggedCall(
                method=request.method,
                path=request.path,
                call=call,
                request_id=request_id,
                body_json=body_json,
                status=None,
                at=self.clock(),
                query=dict(request.query),
                headers=dict(request.headers),
            )
            self.log.append(entry)
            await self._notify()
            try:
                if self.latency and call != "media":
                    await self._pause(request, self.latency)
                response = await self._apply_fault(call, request, entry, after_create=False)
                if response is None and call != "media":
                    response = self._check_auth(request)
                if response is None:
                    response = await handler(request, entry)
            except _Dropped as dropped:
                entry.fault = "drop"
                await self._notify()
                # Never sent: the transport is already closed.
                return dropped.response or web.Response(status=499)
            entry.status = response.status
            await self._notify()
            return response

        return endpoint

    def _take_fault(self, call: str, after_create: bool) -> Fault | None:
        for injected in self.faults:
            if injected.matches(call, after_create):
                injected.hits += 1
                if injected.times is not None:
                    injected.times -= 1
                    if injected.times <= 0:
                        self.faults.remove(injected)
                return injected
        return None

    async def _apply_fault(
        self, call: str, request: web.Request, entry: LoggedCall, *, after_create: bool
    ) -> web.StreamResponse | None:
        injected = self._take_fault(call, after_create)
        if injected is None:
            return None
        entry.fault = "fault"
        if injected.delay:
            await self._pause(request, injected.delay)
        if injected.drop_connection:
            if call == "media":
                entry.fault = "drop mid-body"  # _media sends half the file, then drops
                return None
            self._drop(request)
        headers = {}
        if injected.retry_after is not None:
            headers["Retry-After"] = str(injected.retry_after)
        if injected.malformed_json:
            entry.fault = "malformed"
            return web.Response(
                status=injected.status or 200,
                text=MALFORMED_JSON,
                content_type="application/json",
                headers=headers,
            )
        if injected.status is None:
            return None  # only a delay
        entry.fault = f"http {injected.status}"
        body = injected.body
        if body is None:
            body = {"error": _reason_phrase(injected.status)}
        if isinstance(body, str | bytes):
            return web.Response(status=injected.status, body=body, headers=headers)
        return web.json_response(body, status=injected.status, headers=headers)

    async def _pause(self, request: web.Request, delay: float) -> None:
        """Sleep ``delay`` seconds, or drop the connection at once if the simulator closes."""
        closing = self._closing or asyncio.Event()
        try:
            async with asyncio.timeout(delay):  # not wait_for: it can swallow a cancellation
                await closing.wait()
        except TimeoutError:
            return
        self._drop(request)

    def _drop(self, request: web.Request, response: web.StreamResponse | None = None) -> None:
        if request.transport is not None:
            request.transport.abort()
        raise _Dropped(response)

    def _check_auth(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return _error(401, "missing API key: send Authorization: Bearer <key>")
        if self.api_key is not None and key.strip() != self.api_key:
            return _error(401, "invalid API key")
        org = request.headers.get("X-Organization-ID")
        if self.organization_id is not None and org is not None and org != self.organization_id:
            return _error(403, "the API key does not belong to this organization")
        return None

    # ---- API handlers ---------------------------------------------------------------------

    def _next_behaviour(self) -> Behaviour:
        if not self._scripts:
            return Behaviour()
        behaviour, left = self._scripts[0]
        if left <= 1:
            self._scripts.pop(0)
        else:
            self._scripts[0] = (behaviour, left - 1)
        return behaviour

    async def _submit(self, request: web.Request, entry: LoggedCall) -> web.StreamResponse:
        body = entry.body_json
        if not isinstance(body, dict):
            return _error(400, "request body must be a JSON object with model and payload")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return _error(400, "model is required")
        if model != self.model:
            return _error(404, f"model not found: {model}")
        if "payload" not in body:
            return _error(400, "payload is required")
        try:
            validate_payload(
                body["payload"],
                max_prompt_chars=self.max_prompt_chars,
                reject_1080p=self.reject_1080p,
                banned_words=self.banned_words,
            )
        except PayloadError as exc:
            return _error(400, str(exc))
        now = self.clock()
        pending = sum(1 for r in self.requests.values() if r.status_at(now)[0] not in TERMINAL)
        if pending >= self.max_queued:
            return _error(429, f"too many queued requests (limit {self.max_queued})")

        behaviour = self._next_behaviour()
        request_id = str(uuid.uuid4())
        sim_request = SimRequest(
            request_id=request_id,
            model=model,
            payload=body["payload"],
            behaviour=behaviour,
            timings=behaviour.timings or self._timings_for(body["payload"]),
            created_at=now,
            created_wall=self.wall_clock(),
            anchor=now,
            clock=self.clock,
            held=behaviour.hold,
        )
        self.requests[request_id] = sim_request
        entry.request_id = request_id
        log.debug("simulator created request %s", request_id)

        faulty = await self._apply_fault("submit", request, entry, after_create=True)
        if faulty is not None:
            return faulty
        if behaviour.terminal_on_submit:
            return web.json_response(self._envelope(sim_request, brief=True))
        # The submit answers with its entry status even when the timings say it is already past.
        created = int(sim_request.created_wall)
        status = behaviour.rename_status.get(behaviour.submit_status, behaviour.submit_status)
        return web.json_response(
            {
                "request_id": request_id,
                "model": model,
                "status": status,
                "created_at": created,
                "updated_at": created,
                "queued_at": created,
            }
        )

    async def _get(self, request: web.Request, entry: LoggedCall) -> web.StreamResponse:
        sim_request = self.requests.get(request.match_info["request_id"])
        if sim_request is None:
            return _error(404, "request not found")
        return web.json_response(self._envelope(sim_request))

    def _timings_for(self, payload: dict[str, Any]) -> Timings:
        return self.timing_profile(payload) if self.timing_profile else self.timings

    async def _list(self, request: web.Request, entry: LoggedCall) -> web.StreamResponse:
        model = request.query.get("model_id")
        found = [r for r in self.requests.values() if model is None or r.model == model]
        found.sort(key=lambda r: r.created_at, reverse=True)
        body: dict[str, Any] = {"total": len(found)}
        if self.list_page_size:
            size = self.list_page_size
            try:
                page = max(1, int(request.query.get("page", "1")))
            except ValueError:
                return _error(400, "page must be a whole number")
            found = found[(page - 1) * size : page * size]
            body.update(page=page, page_size=size)
            if page * size < body["total"]:
                body["next"] = str(page + 1)
        body["requests"] = [self._envelope(r) for r in found]
        return web.json_response(body)

    async def _models(self, request: web.Request, entry: LoggedCall) -> web.StreamResponse:
        return web.json_response({"model_ids": [self.model, *self.extra_models]})

    async def _model(self, request: web.Request, entry: LoggedCall) -> web.StreamResponse:
        model_id = request.match_info["model_id"]
        if model_id != self.model:
            return _error(404, f"model not found: {model_id}")
        return web.json_response(self.model_details())

    # ---- envelopes ------------------------------------------------------------------------

    def _envelope(self, sim_request: SimRequest, *, brief: bool = False) -> dict[str, Any]:
        status, since = sim_request.status_at(self.clock())
        behaviour = sim_request.behaviour
        updated = sim_request.created_wall + (since - sim_request.created_at)
        envelope: dict[str, Any] = {
            "request_id": sim_request.request_id,
            "model": sim_request.model,
            "status": behaviour.rename_status.get(status, status),
            "created_at": int(sim_request.created_wall),
            "updated_at": int(updated),
            "queued_at": int(sim_request.created_wall),
        }
        if not brief:
            envelope.update(
                org_id=sim_request.org_id,
                is_public=False,
                payload=sim_request.payload,
                outcome=None,
            )
        if status == "success":
            envelope["outcome"] = self._outcome(sim_request)
        elif status == "failed":
            reason = behaviour.fail_reason or ""
            place = behaviour.reason_in
            if place == "outcome":
                envelope["outcome"] = reason
            elif place == "outcome_dict":
                envelope["outcome"] = {"error": reason}
            elif place in ("error", "message", "detail"):
                envelope[place] = reason
        return envelope

    def _outcome(self, sim_request: SimRequest) -> dict[str, Any]:
        base = f"{self.base_origin}/media/{sim_request.request_id}"
        # Signed like a cloud-storage link: valid for url_ttl from when it was handed out, so
        # asking for the request again gives a fresh, working link.
        signature = (
            f"token={sim_request.token}&exp={self.clock() + self.url_ttl:.3f}"
            f"&sig={secrets.token_hex(4)}"
        )
        video_url = f"{base}.mp4?{signature}"
        shape = sim_request.behaviour.outcome_shape
        if shape == "flat":
            return {
                "video_url": video_url,
                "thumbnail_image_url": f"{base}.jpg?{signature}",
            }
        if shape == "media_urls_str":
            return {"media_urls": [video_url]}
        return {"media_urls": [{"id": "0", "url": video_url}]}

    def model_details(self) -> dict[str, Any]:
        parameters = [
            _param("prompt", "Prompt", "What the video shows.", "string", required=True),
            _param("duration", "Duration", "Seconds of video.", "integer", default=5, minimum=4, maximum=15),
            _param("resolution", "Resolution", "Output resolution.", "enum", default="720p",
                   options=list(RESOLUTIONS[:2] if self.reject_1080p else RESOLUTIONS)),
            _param("ratio", "Aspect ratio", "Output aspect ratio.", "enum", default="16:9",
                   options=list(RATIOS)),
            _param("seed", "Seed", "Random seed.", "integer", minimum=0, maximum=SEED_MAX),
            *[
                _param(key, key.replace("_", " ").capitalize(), f"{key} switch.", "boolean",
                       default=key == "generate_audio")
                for key in BOOL_KEYS
            ],
            _param("first_frame", "First frame", "Image URL for the first frame.", "image"),
            _param("last_frame", "Last frame", "Image URL for the last frame; needs first_frame.",
                   "image"),
            *[
                _param(key, key.replace("_", " ").capitalize(), f"At most {limit} URLs.", "array",
                       max_items=limit)
                for key, limit in REFERENCE_LIMITS.items()
            ],
            _param("reference_asset_ids", "Reference assets", "Uploaded asset ids.", "array"),
        ]  # fmt: skip
        return {
            "model": self.model,
            "org_id": "sim-org",
            "brief_description": "Seedance 2.0 Fast (simulated): text/image/video/audio to video.",
            "detailed_description": (
                "# Seedance 2.0 Fast\n\nServed by the **GMI simulator**. Videos are test "
                "patterns; nothing is billed.\n"
            ),
            "parameters": parameters,
            "price_info": {"price": 0.16, "pricing_type": "per_second", "unit": "second"},
            "tags": ["video", "simulated"],
            "modalities": {"input": ["text", "image", "video", "audio"], "output": ["video"]},
        }

    # ---- media ----------------------------------------------------------------------------

    async def _media(self, request: web.Request, entry: LoggedCall) -> web.StreamResponse:
        name = request.match_info["name"]
        request_id, _, extension = name.rpartition(".")
        sim_request = self.requests.get(request_id)
        if sim_request is None or extension not in ("mp4", "jpg"):
            return _gcs_error(404, "NoSuchKey", "The specified key does not exist.")
        if request.query.get("token") != sim_request.token:
            return _gcs_error(403, "AccessDenied", "Access denied.")
        finished = sim_request.finished_at
        if sim_request.status != "success" or finished is None:
            return _gcs_error(404, "NoSuchKey", "The specified key does not exist.")
        try:
            expires = float(request.query.get("exp", finished + self.url_ttl))
        except ValueError:
            return _gcs_error(403, "AccessDenied", "Access denied.")
        if self.clock() > expires:
            return _gcs_error(403, "ExpiredToken", "The provided token has expired.")
        spec = (sim_request.behaviour.video or self.video).resolve(sim_request.payload)
        if extension == "jpg":
            data = await self._renderer.thumbnail(spec)
            return web.Response(body=data, content_type="image/jpeg")
        data = await self._renderer.video(spec)
        pad = padding_for(len(data), sim_request.behaviour.video_bytes)
        response = web.StreamResponse(
            headers={"Content-Type": "video/mp4", "Content-Length": str(len(data) + pad)}
        )
        await response.prepare(request)
        if request.method == "HEAD":
            await response.write_eof()
            return response
        if entry.fault == "drop mid-body":
            await response.write(data[: len(data) // 2])
            self._drop(request, response)
        await response.write(data)
        if pad:
            await response.write(free_box_header(pad))
            remaining = pad - len(free_box_header(pad))
            chunk = bytes(min(remaining, 1 << 20))
            while remaining > 0:
                piece = chunk if remaining >= len(chunk) else chunk[:remaining]
                await response.write(piece)
                remaining -= len(piece)
        await response.write_eof()
        return response


def _param(
    name: str,
    display_name: str,
    description: str,
    kind: str,
    *,
    required: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "name": name,
        "display_name": display_name,
        "description": description,
        "type": kind,
        "required": required,
        **extra,
    }


def _reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _gcs_error(status: int, code: str, message: str) -> web.Response:
    body = (
        "<?xml version='1.0' encoding='UTF-8'?>"
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return web.Response(status=status, text=body, content_type="application/xml")
