"""A small HTTP control API, so a test can drive a bot running as a separate process.

Mounted under ``/_control`` by ``python -m tests.fakecord``. People, channels and messages are
named by id or by name (``"alice"``, ``"general"``). Option values are JSON; an attachment is
``{"attachment": {"filename": ..., "data_b64": ..., "content_type": ...}}``, a user/role/channel
``{"member": "bob"}`` / ``{"role": "Mods"}`` / ``{"channel": "general"}``.

    GET  /_control/state                        who is connected (shards), synced commands, the world
    POST /_control/command      {member, channel, command, options}      -> interaction
    POST /_control/autocomplete {member, channel, command, focused, value, options} -> {choices}
    POST /_control/click        {member, message_id, label | custom_id}  -> interaction
    POST /_control/modal        {member, interaction_id, values}         -> interaction
    POST /_control/message_command {member, message_id, command}        -> interaction
    POST /_control/say          {member, channel, content, attachments, reply_to} -> message
    GET  /_control/interactions/{id}                                     -> interaction
    GET  /_control/messages/{message_id}                                 -> message
    GET  /_control/channels/{channel}/messages  (what everyone sees, oldest first; threads too)
    POST /_control/threads/{thread}/archive {locked}
    GET  /_control/dms/{user}/messages
    POST /_control/guilds       {count, shard_count, channels, members} -> [guild]
    POST /_control/clock/advance {seconds}
    POST /_control/gateway/reconnect | /_control/gateway/invalid_session
    POST /_control/gateway/shards {recommended, max_guilds_per_shard}
    GET  /_control/rate_limits  counters: requests and 429s by route, most edits per channel in 5 s
    POST /_control/rate_limits  {enabled, global: {limit, per}, default: {limit, per},
                                 routes: [{method, route, limit, per}]}
    GET  /_control/violations

:class:`ControlClient` wraps these for tests, with bounded polling waits.
"""

from __future__ import annotations

import asyncio
import base64
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from .interactions import Interaction, ScenarioError
from .ratelimits import Limit
from .rest import json_response
from .world import Channel, Guild, Member, Message, Role

if TYPE_CHECKING:
    from .emulator import FakeDiscord


def message_json(msg: Message) -> dict[str, Any]:
    return {
        "id": str(msg.id), "channel_id": str(msg.channel.id), "author_id": str(msg.author.id),
        "author": msg.author.name, "content": msg.content, "embeds": msg.embeds,
        "attachments": [{"id": str(a.id), "filename": a.filename, "size": a.size, "url": a.url,
                         "content_type": a.content_type} for a in msg.attachments],
        "components": msg.components, "mentions": [str(u) for u in msg.mentions],
        "mention_roles": [str(r) for r in msg.mention_roles], "mention_everyone": msg.mention_everyone,
        "reply_to": str(msg.reply_to) if msg.reply_to else None, "flags": msg.flags,
        "ephemeral": msg.ephemeral, "loading": msg.loading, "type": msg.type,
        "thread_id": str(msg.thread.id) if msg.thread else None,
    }


def interaction_json(ix: Interaction) -> dict[str, Any]:
    return {
        "id": str(ix.id), "type": ix.type, "command_type": ix.command_type,
        "target_id": str(ix.target_message.id) if ix.target_message else None,
        "user": ix.user.name, "acknowledged": ix.acknowledged,
        "failed": ix.failed, "response_type": ix.response_type, "modal": ix.modal, "choices": ix.choices,
        "original_message": message_json(ix.original_message) if ix.original_message else None,
        "followups": [message_json(m) for m in ix.followups],
        "ephemeral_messages": [message_json(m) for m in ix.ephemeral_messages],
    }


class Control:
    def __init__(self, emu: FakeDiscord) -> None:
        self.emu = emu

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", "/_control/state", self.state),
            ("POST", "/_control/command", self.command),
            ("POST", "/_control/autocomplete", self.autocomplete),
            ("POST", "/_control/click", self.click),
            ("POST", "/_control/modal", self.modal),
            ("POST", "/_control/message_command", self.message_command),
            ("POST", "/_control/say", self.say),
            ("GET", "/_control/interactions/{interaction_id}", self.interaction),
            ("GET", "/_control/messages/{message_id}", self.message),
            ("POST", "/_control/threads/{thread}/archive", self.archive),
            ("POST", "/_control/guilds", self.guilds),
            ("POST", "/_control/gateway/shards", self.shards),
            ("GET", "/_control/rate_limits", self.rate_limits),
            ("POST", "/_control/rate_limits", self.set_rate_limits),
            ("GET", "/_control/channels/{channel}/messages", self.channel_messages),
            ("GET", "/_control/dms/{user}/messages", self.dm_messages),
            ("POST", "/_control/clock/advance", self.advance),
            ("POST", "/_control/gateway/reconnect", self.reconnect),
            ("POST", "/_control/gateway/invalid_session", self.invalid_session),
            ("GET", "/_control/violations", self.violations),
        ]

    # name resolution
    def member(self, ref: Any, channel: Channel | None = None) -> Any:
        guilds = [channel.guild] if channel is not None and channel.guild else list(self.emu.world.guilds.values())
        for guild in guilds:
            for m in guild.members.values():
                if str(ref) in (m.name, str(m.id)):
                    return m
        for u in self.emu.world.users.values():
            if str(ref) in (u.name, str(u.id)):
                return u
        raise ScenarioError(f"nobody called {ref!r}")

    def channel(self, ref: Any) -> Channel:
        for c in self.emu.world.channels.values():
            if str(ref) in (c.name, str(c.id)):
                return c
        raise ScenarioError(f"no channel {ref!r}")

    def role(self, ref: Any) -> Role:
        for g in self.emu.world.guilds.values():
            for r in g.roles.values():
                if str(ref) in (r.name, str(r.id)):
                    return r
        raise ScenarioError(f"no role {ref!r}")

    def attachment(self, a: dict[str, Any]):
        return self.emu.attachment(a["filename"], base64.b64decode(a.get("data_b64", "")),
                                   content_type=a.get("content_type"))

    def options(self, raw: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for name, value in (raw or {}).items():
            if isinstance(value, dict) and "attachment" in value:
                out[name] = self.attachment(value["attachment"])
            elif isinstance(value, dict) and "member" in value:
                out[name] = self.member(value["member"])
            elif isinstance(value, dict) and "role" in value:
                out[name] = self.role(value["role"])
            elif isinstance(value, dict) and "channel" in value:
                out[name] = self.channel(value["channel"])
            else:
                out[name] = value
        return out

    async def _guarded(self, coro) -> web.Response:
        try:
            return json_response(await coro)
        except ScenarioError as exc:
            return json_response({"error": str(exc)}, status=422)

    # handlers
    async def state(self, request: web.Request) -> web.Response:
        emu = self.emu
        return json_response({
            "api_base_url": emu.api_base_url, "gateway_url": emu.gateway_url,
            "application_id": str(emu.application_id), "bot_user_id": str(emu.bot_user.id),
            "connected_sessions": len(emu.gateway.connected_sessions),
            "shards": sorted(s.shard for s in emu.gateway.connected_sessions),
            "identifies": emu.gateway.identifies,
            "commands": {"global": sorted(n for (_, n) in emu.global_commands),
                         "guilds": {str(g): sorted(n for (_, n) in cmds) for g, cmds in emu.guild_commands.items()}},
            "guilds": [guild_json(g) for g in emu.world.guilds.values()],
            "violations": [str(v) for v in emu.violations], "unknown_routes": emu.unknown_routes,
        })

    async def command(self, request: web.Request) -> web.Response:
        body = await request.json()

        async def run() -> dict:
            channel = self.channel(body["channel"])
            ix = await self.emu.run_command(self.member(body["member"], channel), channel, body["command"],
                                            **self.options(body.get("options", {})))
            return interaction_json(ix)
        return await self._guarded(run())

    async def autocomplete(self, request: web.Request) -> web.Response:
        body = await request.json()

        async def run() -> dict:
            channel = self.channel(body["channel"])
            choices = await self.emu.autocomplete(
                self.member(body["member"], channel), channel, body["command"], focused=body["focused"],
                value=body.get("value", ""), **self.options(body.get("options", {})))
            return {"choices": choices}
        return await self._guarded(run())

    async def click(self, request: web.Request) -> web.Response:
        body = await request.json()

        async def run() -> dict:
            msg = self.emu._message(int(body["message_id"]))
            ix = await self.emu.click(self.member(body["member"], msg.channel), msg,
                                      label=body.get("label"), custom_id=body.get("custom_id"))
            return interaction_json(ix)
        return await self._guarded(run())

    async def modal(self, request: web.Request) -> web.Response:
        body = await request.json()

        async def run() -> dict:
            opened = self.emu.interactions.get(int(body["interaction_id"]))
            if opened is None:
                raise ScenarioError(f"no interaction {body['interaction_id']}")
            ix = await self.emu.submit_modal(self.member(body["member"], opened.channel), opened,
                                             body.get("values", {}))
            return interaction_json(ix)
        return await self._guarded(run())

    async def message_command(self, request: web.Request) -> web.Response:
        body = await request.json()

        async def run() -> dict:
            msg = self.emu._message(int(body["message_id"]))
            ix = await self.emu.run_message_command(self.member(body["member"], msg.channel), msg,
                                                    body["command"])
            return interaction_json(ix)
        return await self._guarded(run())

    async def say(self, request: web.Request) -> web.Response:
        body = await request.json()

        async def run() -> dict:
            channel = self.channel(body["channel"])
            reply_to = self.emu._message(int(body["reply_to"])) if body.get("reply_to") else None
            msg = await self.emu.say(self.member(body["member"], channel), channel,
                                     body.get("content", ""), reply_to=reply_to,
                                     attachments=[self.attachment(a) for a in body.get("attachments", [])])
            return message_json(msg)
        return await self._guarded(run())

    async def message(self, request: web.Request) -> web.Response:
        async def run() -> dict:
            return message_json(self.emu._message(int(request.match_info["message_id"])))
        return await self._guarded(run())

    async def archive(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}

        async def run() -> dict:
            thread = self.channel(request.match_info["thread"])
            if not thread.is_thread:
                raise ScenarioError(f"#{thread.name} is not a thread")
            thread.archive(locked=bool(body.get("locked", False)))
            return {"archived": thread.archived, "locked": thread.locked}
        return await self._guarded(run())

    async def guilds(self, request: web.Request) -> web.Response:
        body = await request.json()
        made = self.emu.add_guilds(int(body.get("count", 1)), shard_count=int(body.get("shard_count", 1)),
                                   name=body.get("name", "Guild"),
                                   channels=tuple(body.get("channels", ["general"])),
                                   members=tuple(body.get("members", ["alice", "bob"])))
        return json_response([guild_json(g, int(body.get("shard_count", 1))) for g in made])

    async def shards(self, request: web.Request) -> web.Response:
        body = await request.json()
        gateway = self.emu.gateway
        if "recommended" in body:
            gateway.recommended_shards = body["recommended"]
        if "max_guilds_per_shard" in body:
            gateway.max_guilds_per_shard = int(body["max_guilds_per_shard"])
        return json_response({"recommended": gateway.shards_to_recommend(),
                              "max_guilds_per_shard": gateway.max_guilds_per_shard})

    async def rate_limits(self, request: web.Request) -> web.Response:
        limiter = self.emu.rate_limits
        return json_response({**self.emu.counters(), "enabled": limiter.enabled,
                              "global": vars(limiter.global_limit), "default": vars(limiter.default),
                              "routes": [{"method": m, "route": r, **vars(lim)}
                                         for (m, r), lim in sorted(limiter.routes.items())]})

    async def set_rate_limits(self, request: web.Request) -> web.Response:
        body = await request.json()
        limiter = self.emu.rate_limits
        if "enabled" in body:
            limiter.enabled = bool(body["enabled"])
        if "global" in body:
            limiter.global_limit = Limit(int(body["global"]["limit"]), float(body["global"]["per"]))
        if "default" in body:
            limiter.default = Limit(int(body["default"]["limit"]), float(body["default"]["per"]))
        for route in body.get("routes", []):
            limiter.set(route["method"], route["route"], int(route["limit"]), float(route["per"]))
        return await self.rate_limits(request)

    async def interaction(self, request: web.Request) -> web.Response:
        ix = self.emu.interactions.get(int(request.match_info["interaction_id"]))
        if ix is None:
            return json_response({"error": "no such interaction"}, status=404)
        self.emu.check_deadline(ix)
        return json_response(interaction_json(ix))

    async def channel_messages(self, request: web.Request) -> web.Response:
        try:
            chan = self.channel(request.match_info["channel"])
        except ScenarioError as exc:
            return json_response({"error": str(exc)}, status=404)
        return json_response([message_json(m) for m in chan.messages])

    async def dm_messages(self, request: web.Request) -> web.Response:
        user = self.member(request.match_info["user"])
        return json_response([message_json(m) for m in self.emu.dms(user)])

    async def advance(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.emu.clock.advance(float(body["seconds"]))
        return json_response({"offset": self.emu.clock.offset})

    async def reconnect(self, request: web.Request) -> web.Response:
        await self.emu.gateway_reconnect()
        return json_response({"ok": True})

    async def invalid_session(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        await self.emu.invalid_session(resumable=bool(body.get("resumable", False)), timeout=10)
        return json_response({"ok": True})

    async def violations(self, request: web.Request) -> web.Response:
        return json_response([{"code": v.code, "status": v.status, "message": v.message,
                               "method": v.method, "route": v.route, "errors": v.errors}
                              for v in self.emu.violations])


class ControlClient:
    """Drives a standalone emulator over its control API (for child-process tests)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/") + "/_control"
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ControlClient:
        self.session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.session is not None
        await self.session.close()

    async def get(self, path: str) -> Any:
        assert self.session is not None
        async with self.session.get(self.base_url + path) as resp:
            data = await resp.json()
            if resp.status >= 400:
                raise AssertionError(f"GET {path}: {resp.status} {data}")
            return data

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        assert self.session is not None
        async with self.session.post(self.base_url + path, json=body or {}) as resp:
            data = await resp.json()
            if resp.status >= 400:
                raise AssertionError(f"POST {path}: {resp.status} {data}")
            return data

    async def poll(self, fetch, predicate, *, within: float = 10.0, what: str = "a condition") -> Any:
        """Re-fetch until ``predicate(result)`` holds, at most ``within`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            result = await fetch()
            if predicate(result):
                return result
            if loop.time() > deadline:
                raise AssertionError(f"timed out after {within}s waiting for {what}; last: {result}")
            await asyncio.sleep(0.05)

    async def interaction(self, ix_id: str) -> dict[str, Any]:
        return await self.get(f"/interactions/{ix_id}")

    async def say(self, member: str, channel: str, content: str = "", *,
                  files: dict[str, bytes] | None = None, reply_to: str | None = None) -> dict[str, Any]:
        """``member`` posts in ``channel``, with ``files`` ({filename: bytes}) attached."""
        return await self.post("/say", {
            "member": member, "channel": channel, "content": content, "reply_to": reply_to,
            "attachments": [{"filename": name, "data_b64": base64.b64encode(data).decode()}
                            for name, data in (files or {}).items()]})

    async def run_message_command(self, member: str, message_id: str, command: str) -> dict[str, Any]:
        """``member`` picks Apps > ``command`` on a message."""
        return await self.post("/message_command", {"member": member, "message_id": message_id,
                                                    "command": command})

    async def counters(self) -> dict[str, Any]:
        """Requests and 429s by route, the most edits in one channel in 5 s, the limits in force."""
        return await self.get("/rate_limits")

    async def wait_acknowledged(self, ix_id: str, within: float = 5.0) -> dict[str, Any]:
        ix = await self.poll(lambda: self.interaction(ix_id), lambda i: i["acknowledged"] or i["failed"],
                             within=within, what=f"interaction {ix_id} to be answered")
        if ix["failed"]:
            raise AssertionError(f"This interaction failed: {ix}")
        return ix


def member_json(m: Member) -> dict[str, str]:
    return {"id": str(m.id), "name": m.name}


def guild_json(g: Guild, shard_count: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(g.id), "name": g.name, "boost_tier": g.boost_tier,
        "channels": [{"id": str(c.id), "name": c.name, "type": c.type} for c in g.channels.values()],
        "members": [{"id": str(m.id), "name": m.name} for m in g.members.values()]}
    if shard_count is not None:
        data["shard_id"] = g.shard_id(shard_count)
    return data
