"""FakeDiscord: the world, the aiohttp server (REST + Gateway + CDN), the clock, the scenario API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.clock import ManualClock

from . import limits
from .gateway import Gateway
from .interactions import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    MESSAGE_COMPONENT,
    MODAL,
    MODAL_SUBMIT,
    Interaction,
    InteractionFailed,
    ScenarioError,
    WaitTimeout,
    build_options,
    check_can_use,
    context_payload,
    find_command,
    find_context_menu,
    modal_submit_components,
)
from .limits import ApiError
from .ratelimits import EditCounter, RateLimitHit, RateLimits
from .rest import API, Rest, json_response
from .world import Attachment, Channel, Guild, Member, Message, User, World

ACK_TIMEOUT = "ack_timeout"  # the violation code of an interaction nobody answered in 3 s
LISTEN_BACKLOG = 4096  # connections waiting to be accepted (Linux caps it at somaxconn)


@dataclass
class Violation:
    """A Discord rule the bot broke, and how Discord answered (``status`` 0: no HTTP answer)."""

    code: int | str
    status: int
    message: str
    method: str = ""
    route: str = ""
    errors: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        where = f" on {self.method} {self.route}" if self.method else ""
        errs = f" {self.errors}" if self.errors else ""
        return f"[{self.code}] {self.message}{where}{errs}"


@dataclass
class RecordedRequest:
    method: str
    route: str  # discord.py-style template, e.g. /channels/{channel_id}/messages
    path: str
    status: int = 0


CLIENT_CLOSED_REQUEST = 499  # a request whose client hung up before it was answered


@dataclass
class InjectedFailure:
    method: str
    route: str
    status: int
    retry_after: float
    code: int
    message: str
    is_global: bool
    times: int

    def matches(self, method: str, route: str, path: str) -> bool:
        return self.method == method and self.route in (route, path)

    def response(self, bucket_headers: dict[str, str]) -> web.Response:
        if self.status == 429:
            return json_response(
                {"message": "You are being rate limited.", "retry_after": self.retry_after,
                 "global": self.is_global, "code": 0},
                status=429,
                headers={"Retry-After": str(max(1, math.ceil(self.retry_after))), "Via": "1.1 google",
                         **({"X-RateLimit-Global": "true", "X-RateLimit-Scope": "global"}
                            if self.is_global else bucket_headers)})
        return json_response({"message": self.message, "code": self.code}, status=self.status)


class FakeDiscord:
    """A local Discord: REST v10 + Gateway + CDN on 127.0.0.1, and a person to click things.

    See the package docstring for the cheat sheet.
    """

    def __init__(self, *, token: str | None = None, bot_name: str = "FakeBot",
                 heartbeat_interval_ms: int = 41250, rate_limits: bool = True) -> None:
        self.clock = ManualClock.realtime()
        self.world = World(self.clock, bot_name=bot_name)
        self.world.emit = self.dispatch
        self.token = token or f"fakecord.{secrets.token_urlsafe(24)}"
        self.gateway = Gateway(self, heartbeat_interval_ms=heartbeat_interval_ms)
        self.rest = Rest(self)
        self.global_commands: dict[tuple[int, str], dict] = {}
        self.guild_commands: dict[int, dict[tuple[int, str], dict]] = {}
        self.syncs: list[int | None] = []  # guild id (None: global) of every bulk overwrite
        self.interactions: dict[int, Interaction] = {}
        self.interactions_by_token: dict[str, Interaction] = {}
        self.violations: list[Violation] = []
        self.allowed_violations: set[int | str] = set()
        self.violations_allowed = False
        self.unknown_routes: list[str] = []
        self.internal_errors: list[str] = []  # emulator bugs (answered 400, code 0)
        self.client_errors: list[str] = []  # unhandled client exceptions (filled by run_client)
        self.allowed_client_errors: list[str] = []
        self.requests: list[RecordedRequest] = []
        self.typing: list[int] = []
        self.nonces: dict[tuple[int, str], tuple[Message, float]] = {}
        self._failures: list[InjectedFailure] = []
        self._changed = asyncio.Event() if _has_loop() else None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.host = "127.0.0.1"
        self.clock.on_advance(self._check_all_deadlines)
        self.clock.on_advance(self._archive_idle_threads)
        self.extra_routes: list[tuple[str, str, Any]] = []
        self.ack_deadline = limits.ACK_DEADLINE  # lower it only to test the real-time timer
        self.rate_limits = RateLimits(self.clock.monotonic, self.clock.time, enabled=rate_limits)
        self.edits = EditCounter(self.clock.monotonic)

    # ----------------------------------------------------------- world shortcuts

    @property
    def application_id(self) -> int:
        return self.world.application_id

    @property
    def bot_user(self) -> User:
        return self.world.bot_user

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base_url(self) -> str:
        return f"{self.base_url}{API}"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    def add_guild(self, name: str, *, boost_tier: int = 0, owner_name: str = "owner",
                  shard: tuple[int, int] | None = None) -> Guild:
        """A guild (see :meth:`World.add_guild`); ``shard=(id, count)`` puts it on that shard."""
        return self.world.add_guild(name, boost_tier=boost_tier, owner_name=owner_name, shard=shard)

    def add_guilds(self, count: int, *, shard_count: int = 1, name: str = "Guild",
                   channels: tuple[str, ...] = ("general",),
                   members: tuple[str, ...] = ("alice", "bob")) -> list[Guild]:
        """``count`` guilds named "Guild 0".. spread round-robin over ``shard_count`` shards
        (guild ``i`` on shard ``i % shard_count``), each with ``channels`` and ``members``."""
        guilds = []
        for i in range(count):
            guild = self.add_guild(f"{name} {i}", shard=(i % shard_count, shard_count))
            for chan in channels:
                guild.add_text_channel(chan)
            for member in members:
                guild.add_member(member)
            guilds.append(guild)
        return guilds

    def attachment(self, filename: str, data: bytes, *, content_type: str | None = None,
                   width: int | None = None, height: int | None = None) -> Attachment:
        """A file a user uploads as a command option (served at an ephemeral-attachments URL)."""
        import mimetypes

        return self.world.add_attachment(
            filename, data, content_type=content_type or mimetypes.guess_type(filename)[0],
            width=width, height=height, ephemeral=True)

    def dm_channel(self, user: Member | User) -> Channel:
        return self.world.dm_channel(user.user if isinstance(user, Member) else user)

    def dms(self, user: Member | User) -> list[Message]:
        """The messages in the bot's DM with ``user``."""
        chan = self.world.dm_channels.get(user.id)
        return chan.messages if chan else []

    def ephemeral_messages(self, user: Member | User) -> list[Message]:
        """Every ephemeral message ``user`` has been shown (all interactions), oldest first."""
        return [m for ix in self.interactions.values() if ix.user.id == user.id
                for m in ix.ephemeral_messages]

    def close_dms(self, user: Member | User, closed: bool = True) -> None:
        (user.user if isinstance(user, Member) else user).dms_open = not closed

    # ----------------------------------------------------------------- server

    async def start(self, port: int = 0, host: str = "127.0.0.1") -> FakeDiscord:
        if self._changed is None:
            self._changed = asyncio.Event()
        self.host = host
        app = web.Application(middlewares=[self._middleware], client_max_size=200 * limits.MiB)
        for method, path, handler in self.rest.routes():
            app.router.add_route(method, API + path, handler)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/{kind:attachments|ephemeral-attachments}/{channel_id}/{attachment_id}/{filename}",
                           self._cdn)
        for method, path, handler in self.extra_routes:
            app.router.add_route(method, path, handler)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     shutdown_timeout=0.5)
        await self._runner.setup()
        # Discord's edge accepts any burst of connections; aiohttp's default backlog of 128
        # would drop the SYNs of a burst's answers and add a 1 s retransmit to each.
        site = web.TCPSite(self._runner, host, port, backlog=LISTEN_BACKLOG)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]
        self.world.cdn_base = self.base_url
        return self

    async def close(self) -> None:
        for ix in self.interactions.values():
            if ix._timer is not None:
                ix._timer.cancel()
        await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @web.middleware
    async def _middleware(self, request: web.Request, handler) -> web.StreamResponse:
        info = request.match_info.route.resource
        canonical = info.canonical if info is not None else request.path
        route = canonical[len(API):] if canonical.startswith(API) else canonical
        path = request.path[len(API):] if request.path.startswith(API) else request.path
        rec = RecordedRequest(request.method, route, path)
        is_api = canonical.startswith(API)
        if is_api:
            self.requests.append(rec)
        for failure in self._failures:
            if failure.matches(request.method, route, path):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                rec.status = failure.status
                return failure.response(self.rate_limits.injected_headers(
                    request.method, route, failure.retry_after))
        needs_auth = is_api and not route.startswith(("/interactions/", "/webhooks/"))
        authorized = request.headers.get("Authorization") == f"Bot {self.token}"
        verdict = None
        try:
            if needs_auth and not authorized:
                raise limits.unauthorized()
            if is_api:
                verdict = self.rate_limits.check(request.method, route, path, request.match_info,
                                                 authorized=authorized)
            if verdict is not None and verdict.refused is not None:
                response = json_response(verdict.refused, status=429)
            else:
                response = await handler(request)
        except ApiError as err:
            if err.status != 401 or route != "/users/@me":
                self.violation(err.status, err.code, err.message, request, err.errors)
            response = json_response(err.body(), status=err.status, headers=err.headers)
        except web.HTTPException:
            raise
        except ConnectionResetError:
            # The client went away mid-request (a bot killed while uploading): nobody to
            # answer, and no fault of the emulator's. Recorded as nginx records it.
            rec.status = CLIENT_CLOSED_REQUEST
            raise
        except Exception as exc:  # a bug in the emulator: fail fast (no 5xx retries) and loudly
            logging.getLogger(__name__).exception("fakecord failed on %s %s", request.method, route)
            self.internal_errors.append(f"{request.method} {route}: {exc!r}")
            response = json_response({"message": f"fakecord internal error: {exc!r}", "code": 0},
                                     status=400)
        rec.status = response.status
        if verdict is not None:
            response.headers.update(verdict.headers)
        if response.status == 429:
            self.notify()
        return response

    async def _unknown(self, request: web.Request) -> web.Response:
        self.unknown_routes.append(f"{request.method} {request.path}")
        return json_response({"message": "404: Not Found", "code": 0}, status=404)

    async def _cdn(self, request: web.Request) -> web.Response:
        try:
            att = self.world.attachments.get(int(request.match_info["attachment_id"]))
        except ValueError:
            att = None
        gone = web.Response(status=404, text="This content is no longer available.")
        if att is None or att.filename != request.match_info["filename"]:
            return gone
        try:
            expires = int(request.query.get("ex", "0"), 16)
            issued = int(request.query.get("is", "0"), 16)
        except ValueError:
            return gone
        if request.query.get("hm") != att.signature(issued, expires) or self.clock.time() > expires:
            return gone
        return web.Response(body=att.data, content_type=att.content_type or "application/octet-stream")

    # ------------------------------------------------------------ bookkeeping

    def notify(self) -> None:
        """Wake every ``wait_for``: something changed."""
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        self.gateway.dispatch(event, data)
        self.notify()

    def violation(self, status: int, code: int | str, message: str,
                  request: web.Request | None = None, errors: dict | None = None) -> Violation:
        route = ""
        if request is not None:
            res = request.match_info.route.resource
            route = res.canonical[len(API):] if res is not None else request.path
        v = Violation(code, status, message, request.method if request else "", route, errors or {})
        self.violations.append(v)
        self.notify()
        return v

    def expect_violation(self, *codes: int | str) -> None:
        """Tell the fixtures these violation codes are the point of the test."""
        self.allowed_violations.update(codes)

    def expect_client_error(self, substring: str) -> None:
        """Tell the fixtures an unhandled client error containing ``substring`` is expected."""
        self.allowed_client_errors.append(substring)

    @property
    def unexpected_client_errors(self) -> list[str]:
        return [e for e in self.client_errors
                if not any(allowed in e for allowed in self.allowed_client_errors)]

    @property
    def unexpected_violations(self) -> list[Violation]:
        if self.violations_allowed:
            return []
        return [v for v in self.violations if v.code not in self.allowed_violations]

    def fail_next(self, method: str, route: str, *, status: int = 429, retry_after: float = 0.5,
                  code: int = 0, message: str | None = None, is_global: bool = False,
                  times: int = 1) -> None:
        """Answer the next ``times`` requests to ``route`` with an error (429 with ``retry_after``,
        or any status). ``route`` is a discord.py template or a concrete path, without /api/v10.

        discord.py retries 500/502/504 itself after sleeping 1 s, 3 s...; use 503 to fail fast.
        """
        self._failures.append(InjectedFailure(
            method.upper(), route, status, retry_after, code,
            message or {429: "You are being rate limited."}.get(status, f"{status}: injected failure"),
            is_global, times))

    def clear_failures(self) -> None:
        """Forget the injected failures that no request has met yet."""
        self._failures.clear()

    def requests_by_route(self) -> Counter[tuple[str, str]]:
        """How many API requests the bot made, by (method, discord.py route template)."""
        return Counter((r.method, r.route) for r in self.requests)

    def rate_limited_by_route(self) -> Counter[tuple[str, str]]:
        """How many 429s the bot got, by (method, route): limits reached and injected ones."""
        return Counter((r.method, r.route) for r in self.requests if r.status == 429)

    @property
    def rate_limit_hits(self) -> list[RateLimitHit]:
        """Every 429 a limit caused (not injected ones), with its scope and ``retry_after``."""
        return self.rate_limits.hits

    @property
    def max_channel_edits(self) -> int:
        """The most message edits seen in any one channel within any 5-second window."""
        return self.edits.max_in_window

    def counters(self) -> dict[str, Any]:
        """The rate-limit counters as JSON (the control API and benchmarks read this)."""
        def by_route(counter: Counter[tuple[str, str]]) -> dict[str, int]:
            return {f"{m} {r}": n for (m, r), n in sorted(counter.items())}

        return {
            "requests_by_route": by_route(self.requests_by_route()),
            "rate_limited_by_route": by_route(self.rate_limited_by_route()),
            "rate_limit_hits": {"user": sum(h.scope == "user" for h in self.rate_limit_hits),
                                "global": sum(h.scope == "global" for h in self.rate_limit_hits)},
            "max_channel_edits_5s": self.edits.max_in_window,
            "busiest_edit_channel": str(self.edits.busiest_channel) if self.edits.busiest_channel else None,
        }

    def requests_to(self, method: str, route: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and route in (r.route, r.path)]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0,  # noqa: ASYNC109 (a bounded-wait API, as the spec asks)
                       what: str | None = None) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked on every change, and every 20 ms).

        Raises :class:`WaitTimeout` naming ``what`` after ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if self._changed is None:
            self._changed = asyncio.Event()
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                desc = what or getattr(predicate, "__name__", repr(predicate))
                extra = f"; violations so far: {[str(v) for v in self.violations]}" if self.violations else ""
                raise WaitTimeout(f"timed out after {timeout}s waiting for {desc}{extra}")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.02))

    # ----------------------------------------------------------- interactions

    def _new_interaction(self, itype: int, member: Member | User, channel: Channel,
                         data: dict[str, Any], **kwargs: Any) -> Interaction:
        if not self.gateway.live_sessions:
            raise ScenarioError("no bot is connected to the gateway: start the bot first")
        if channel.guild is not None:
            if isinstance(member, User):
                member = channel.guild.members.get(member.id) or member
            if not isinstance(member, Member) or member.guild is not channel.guild:
                raise ScenarioError(f"{member!r} is not a member of {channel.guild.name}")
            if not channel.guild.has(member, channel, view_channel=True):
                raise ScenarioError(f"{member.name} cannot see #{channel.name}")
        ix = Interaction(self, self.world.ids.next(), itype, member, channel, data,
                         self.clock.monotonic(), **kwargs)
        self.interactions[ix.id] = ix
        self.interactions_by_token[ix.token] = ix
        payload = context_payload(self, ix)
        payload["data"] = data
        if ix.source_message is not None:
            payload["message"] = ix.source_message.payload()
        loop = asyncio.get_running_loop()
        ix._timer = loop.call_later(self.ack_deadline, self.check_deadline, ix, True)
        self.dispatch("INTERACTION_CREATE", payload)
        return ix

    def check_deadline(self, ix: Interaction, timer_fired: bool = False) -> None:
        """Fail ``ix`` if it is unanswered and its 3 s (emulator clock) have passed.

        ``timer_fired``: called by the real-time timer, which asyncio may run a hair before
        its due time (within the clock's resolution), so it must not re-measure."""
        if ix.acknowledged or ix.failed:
            return
        if timer_fired or self.clock.monotonic() - ix.created_at >= self.ack_deadline:
            ix.failed = True
            ix._settled.set()
            if ix._timer is not None:
                ix._timer.cancel()
            self.violation(0, ACK_TIMEOUT, f"This interaction failed: {ix.describe()} was not "
                           f"acknowledged within {self.ack_deadline:g} s")

    def _archive_idle_threads(self) -> None:
        for chan in list(self.world.channels.values()):
            chan.archive_if_idle()

    def _check_all_deadlines(self) -> None:
        for ix in list(self.interactions.values()):
            self.check_deadline(ix)

    def acknowledge(self, ix: Interaction, response_type: int, data: dict[str, Any]) -> None:
        ix.response_type = response_type
        ix.response = data
        ix.acknowledged_after = self.clock.monotonic() - ix.created_at
        ix._settled.set()
        if ix._timer is not None:
            ix._timer.cancel()
        self.notify()

    async def run_command(self, member: Member | User, channel: Channel, command: str, /,
                          **options: Any) -> Interaction:
        """As ``member`` in ``channel``, run ``/command`` (``"video generate"`` for subcommands).

        Options are checked against the synced schema (names, types, required, choices, ranges);
        pass ``emu.attachment(...)`` for attachment options, members/roles/channels as such.
        """
        cmd, parts, leaf = find_command(self, channel, command)
        check_can_use(self, cmd, member, channel)
        resolved: dict[str, dict] = {}
        opts = build_options(self, leaf, options, channel, resolved)
        data = self._command_data(cmd, parts, opts, resolved)
        return self._new_interaction(APPLICATION_COMMAND, member, channel, data,
                                     command_name=" ".join(parts))

    async def run_message_command(self, member: Member | User, message: Message | int,
                                  name: str, /) -> Interaction:
        """As ``member``, pick Apps > ``name`` on ``message`` (a synced message command).

        The bot gets an APPLICATION_COMMAND interaction with ``data.type`` 3, ``target_id`` and
        the whole message, attachments freshly signed, in ``data.resolved.messages``."""
        msg = self._message(message)
        if msg.visible_to is not None:
            raise ScenarioError(f"{msg!r} is ephemeral: it has no Apps menu")
        cmd = find_context_menu(self, msg.channel, name, 3)
        check_can_use(self, cmd, member, msg.channel)
        data: dict[str, Any] = {"id": cmd["id"], "name": cmd["name"], "type": 3,
                                "target_id": str(msg.id),
                                "resolved": {"messages": {str(msg.id): msg.payload()}}}
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        return self._new_interaction(APPLICATION_COMMAND, member, msg.channel, data,
                                     command_name=cmd["name"], target_message=msg)

    async def run_command_raw(self, member: Member | User, channel: Channel, command: str, /,
                              options: list[dict[str, Any]],
                              resolved: dict[str, dict] | None = None) -> Interaction:
        """Like :meth:`run_command`, but with ``options`` sent exactly as given (Discord's
        option objects, ``{"name", "type", "value"}``, and ``resolved`` as Discord's), unchecked
        against the synced schema.

        Discord checks options against its own copy of a command, which can differ from the
        bot's for a while (a bot upgraded before its sync landed, a client with an old copy):
        that is when a required option goes missing, a value arrives as another type, or a
        choice the bot no longer has. Only those moments are this method's business: the
        command must still be synced and usable by ``member``, as with :meth:`run_command`.
        """
        cmd, parts, _ = find_command(self, channel, command)
        check_can_use(self, cmd, member, channel)
        data = self._command_data(cmd, parts, list(options), dict(resolved or {}))
        return self._new_interaction(APPLICATION_COMMAND, member, channel, data,
                                     command_name=" ".join(parts))

    def _command_data(self, cmd: dict, parts: list[str], opts: list[dict], resolved: dict) -> dict:
        for depth in range(len(parts) - 1, 0, -1):
            node_type = 1 if depth == len(parts) - 1 else 2
            opts = [{"name": parts[depth], "type": node_type, "options": opts}]
        data: dict[str, Any] = {"id": cmd["id"], "name": cmd["name"], "type": 1, "options": opts}
        if resolved:
            data["resolved"] = resolved
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        return data

    async def autocomplete(self, member: Member | User, channel: Channel, command: str, /, *,
                           focused: str, value: Any = "", timeout: float = limits.ACK_DEADLINE + 2,  # noqa: ASYNC109 (a bounded-wait API, as the spec asks)
                           options: dict[str, Any] | None = None, **more_options: Any) -> list[dict[str, Any]]:
        """Type ``value`` into option ``focused`` and return the bot's choices ([{name, value}]).

        Other options already filled go as keywords, or in ``options`` when their names clash
        with ``focused``/``value``/``timeout``/``options``.
        """
        options = {**(options or {}), **more_options}
        cmd, parts, leaf = find_command(self, channel, command)
        check_can_use(self, cmd, member, channel)
        resolved: dict[str, dict] = {}
        opts = build_options(self, leaf, {**options, focused: value}, channel, resolved, focused=focused)
        data = self._command_data(cmd, parts, opts, resolved)
        ix = self._new_interaction(AUTOCOMPLETE, member, channel, data, command_name=" ".join(parts))
        await ix.wait_acknowledged(timeout)
        return list(ix.choices or [])

    async def click(self, member: Member | User, message: Message | int, *, label: str | None = None,
                    custom_id: str | None = None) -> Interaction:
        """Click the button labelled ``label`` (or with ``custom_id``) on ``message``."""
        msg = self._message(message)
        if label is None and custom_id is None:
            raise ScenarioError("click needs a label or a custom_id")
        button = msg.button(label=label, custom_id=custom_id)
        if button is None:
            shown = [b.get("label") or b.get("custom_id") for b in msg.buttons()]
            raise ScenarioError(f"no button {label or custom_id!r} on {msg!r} (buttons: {shown})")
        if button.get("disabled"):
            raise ScenarioError(f"button {label or custom_id!r} is disabled")
        if button.get("style") in (5, 6):
            raise ScenarioError(f"button {label or custom_id!r} is a link/premium button")
        self._check_sees(member, msg)
        return self._new_interaction(MESSAGE_COMPONENT, member, msg.channel,
                                     {"custom_id": button["custom_id"], "component_type": 2},
                                     source_message=msg)

    async def select(self, member: Member | User, message: Message | int, values: list[str], *,
                     custom_id: str | None = None, placeholder: str | None = None) -> Interaction:
        """Pick ``values`` in a string select menu on ``message``."""
        from .world import iter_components

        msg = self._message(message)
        selects = [c for c in iter_components(msg.components) if c.get("type") == 3]
        menu = next((s for s in selects if (custom_id is None or s.get("custom_id") == custom_id)
                     and (placeholder is None or s.get("placeholder") == placeholder)), None)
        if menu is None:
            raise ScenarioError(f"no select menu {custom_id or placeholder!r} on {msg!r}")
        offered = [o["value"] for o in menu.get("options") or []]
        if any(v not in offered for v in values):
            raise ScenarioError(f"{values} not among the options {offered}")
        if not menu.get("min_values", 1) <= len(values) <= menu.get("max_values", 1):
            raise ScenarioError(f"select needs {menu.get('min_values', 1)}..{menu.get('max_values', 1)} values")
        self._check_sees(member, msg)
        return self._new_interaction(MESSAGE_COMPONENT, member, msg.channel,
                                     {"custom_id": menu["custom_id"], "component_type": 3,
                                      "values": list(values)}, source_message=msg)

    async def submit_modal(self, member: Member | User, opened_by: Interaction,
                           values: dict[str, Any]) -> Interaction:
        """Fill the modal that ``opened_by``'s answer showed (inputs by custom_id or label) and submit."""
        if opened_by.response_type != MODAL or opened_by.modal is None:
            raise ScenarioError(f"{opened_by.describe()} did not open a modal")
        if opened_by.user.id != (member.user.id if isinstance(member, Member) else member.id):
            raise ScenarioError("only the user who saw the modal can submit it")
        modal = opened_by.modal
        resolved: dict[str, dict] = {}
        components = modal_submit_components(modal, values, opened_by.channel, resolved)
        data: dict[str, Any] = {"custom_id": modal["custom_id"], "components": components}
        if resolved:
            data["resolved"] = resolved
        return self._new_interaction(MODAL_SUBMIT, member, opened_by.channel, data,
                                     source_message=opened_by.source_message, opened_by=opened_by)

    async def say(self, member: Member | User, channel: Channel, content: str = "", *,
                  reply_to: Message | None = None,
                  attachments: list[Attachment] | None = None) -> Message:
        """``member`` posts a message, with files made by ``emu.attachment(...)`` if given
        (MESSAGE_CREATE goes to the bot if its intents allow). The member needs what the
        Discord client needs: View Channel, Send Messages (Send Messages in Threads in a
        thread) and Attach Files for files; a locked archived thread refuses them."""
        user = member.user if isinstance(member, Member) else member
        files = list(attachments or [])
        if not content.strip() and not files:
            raise ScenarioError("a message needs content or attachments")
        if len(files) > limits.FILES_MAX:
            raise ScenarioError(f"at most {limits.FILES_MAX} files per message")
        if channel.guild is not None:
            guild = channel.guild
            found = guild.members.get(user.id)
            if found is None:
                raise ScenarioError(f"{user.name} is not a member of {guild.name}")
            send = {"send_messages_in_threads": True} if channel.is_thread else {"send_messages": True}
            if not guild.has(found, channel, view_channel=True, **send):
                raise ScenarioError(f"{user.name} cannot post in #{channel.name}")
            if files and not guild.has(found, channel, attach_files=True):
                raise ScenarioError(f"{user.name} may not attach files in #{channel.name}")
            if channel.is_thread and channel.archived:
                if channel.locked and not guild.has(found, channel, manage_threads=True):
                    raise ScenarioError(f"#{channel.name} is archived and locked")
                channel.set_archived(False)
        for att in files:
            if att.size > self.rest.upload_limit(channel):
                raise ScenarioError(f"{att.filename} is over the {self.rest.upload_limit(channel)} byte upload limit")
            att.channel_id, att.ephemeral = channel.id, False  # now a file of this message
        users, roles, everyone = self.rest.mentions(channel, content, None, can_everyone=False,
                                                    replied_author=reply_to.author.id if reply_to else None)
        msg = Message(id=self.world.ids.next(), channel=channel, author=user, content=content,
                      attachments=files, mentions=users, mention_roles=roles,
                      mention_everyone=everyone, reply_to=reply_to.id if reply_to else None,
                      type=19 if reply_to else 0, timestamp=self.clock.time())
        return self.rest.publish(msg)

    def delete(self, member: Member | User, message: Message | int) -> None:
        """``member`` deletes a message, as the Discord client lets them: their own, or
        anyone's with Manage Messages in its channel (MESSAGE_DELETE goes to the bot; a
        fetch of it then answers 404 / 10008 Unknown Message)."""
        msg = self._message(message)
        self._check_sees(member, msg)
        user = member.user if isinstance(member, Member) else member
        guild = msg.channel.guild
        if msg.author.id != user.id:
            found = guild.members.get(user.id) if guild is not None else None
            if found is None or not guild.has(found, msg.channel, manage_messages=True):
                raise ScenarioError(f"{user.name} may not delete others' messages here")
        self.rest.remove(msg)

    def _message(self, message: Message | int) -> Message:
        if isinstance(message, Message):
            msg = message
        else:
            found = [m for c in self.world.channels.values() for m in c.all_messages if m.id == message]
            if not found:
                raise ScenarioError(f"no message {message}")
            msg = found[0]
        if msg.deleted:
            raise ScenarioError(f"{msg!r} was deleted")
        return msg

    def _check_sees(self, member: Member | User, msg: Message) -> None:
        uid = member.id
        if msg.visible_to is not None and msg.visible_to != uid:
            raise ScenarioError(f"{msg!r} is ephemeral: only its recipient can click it")

    # --------------------------------------------------------------- gateway

    async def gateway_reconnect(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 (a bounded-wait API, as the spec asks)
        """Send RECONNECT (op 7) and wait until every connected client RESUMEd."""
        sessions = self.gateway.send_reconnect()
        before = {s.id: s.resumed for s in sessions}
        await self.wait_for(lambda: all(s.resumed > before[s.id] and s.connection for s in sessions),
                            timeout, "the client to RESUME after RECONNECT")

    async def invalid_session(self, resumable: bool = False, timeout: float = 5.0) -> None:  # noqa: ASYNC109 (a bounded-wait API, as the spec asks)
        """Send INVALID_SESSION (op 9) and wait until the client resumed or identified again."""
        identifies = self.gateway.identifies
        sessions = self.gateway.send_invalid_session(resumable)
        if resumable:
            before = {s.id: s.resumed for s in sessions}
            await self.wait_for(lambda: all(s.resumed > before[s.id] for s in sessions), timeout,
                                "the client to RESUME after INVALID_SESSION")
        else:
            await self.wait_for(lambda: self.gateway.identifies >= identifies + len(sessions)
                                and self.gateway.connected_sessions, timeout,
                                "the client to IDENTIFY again after INVALID_SESSION")

    async def drop_connections(self) -> None:
        """Close every gateway socket abruptly (code 1006-ish); the client resumes on its own."""
        for conn in list(self.gateway.connections):
            await conn.ws.close(code=4000, message=b"fakecord drop")

    def wait_ready(self, timeout: float = 5.0):
        """Wait until a bot session identified (READY + GUILD_CREATE sent)."""
        return self.wait_for(lambda: self.gateway.connected_sessions, timeout, "a bot to connect")

    def summary(self) -> str:
        lines = [f"violations: {[str(v) for v in self.violations]}",
                 f"unknown routes: {self.unknown_routes}"]
        return "\n".join(lines)


def _has_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


__all__ = ["ACK_TIMEOUT", "FakeDiscord", "InteractionFailed", "ScenarioError", "Violation", "WaitTimeout"]
