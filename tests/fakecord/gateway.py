"""The Gateway: HELLO, IDENTIFY -> READY + GUILD_CREATE, heartbeats, RESUME, RECONNECT, INVALID_SESSION.

Sharding works as on Discord: IDENTIFY carries ``shard: [shard_id, shard_count]`` and a session
gets only the guilds with ``(guild_id >> 22) % shard_count == shard_id`` (in READY, GUILD_CREATE
and every guild event, interactions included); DMs go to shard 0. A shard outside the count is
closed with 4010 (Invalid shard), a shard that would hold more than :attr:`Gateway.
max_guilds_per_shard` guilds with 4011 (Sharding required). Several sessions may be connected
at once, several on one shard too (Discord allows it, "for load balancing"): each gets every
event of its shard, unless :attr:`Gateway.balance_interactions` hands each interaction to
one of them in turn (Discord does not document how it splits them; tests use this to spread
one server's commands over several bot processes).

Frames are JSON text (the client asks for zlib in the URL and reads text frames uncompressed).
Each session keeps its sequence number and a replay buffer, so a RESUME after a RECONNECT (or
after the socket dropped) gets the events it missed, like Discord does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from .emulator import FakeDiscord

OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY, OP_RESUME = 0, 1, 2, 6
OP_RECONNECT, OP_REQUEST_MEMBERS, OP_INVALID_SESSION, OP_HELLO, OP_HEARTBEAT_ACK = 7, 8, 9, 10, 11

INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15

GUILD_EVENTS = {
    "GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE", "GUILD_ROLE_CREATE", "GUILD_ROLE_UPDATE",
    "GUILD_ROLE_DELETE", "CHANNEL_CREATE", "CHANNEL_UPDATE", "CHANNEL_DELETE", "THREAD_CREATE",
    "THREAD_UPDATE", "THREAD_DELETE",
}
MEMBER_EVENTS = {"GUILD_MEMBER_ADD", "GUILD_MEMBER_UPDATE", "GUILD_MEMBER_REMOVE"}
MESSAGE_EVENTS = {"MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE"}
CLOSE_INVALID_SHARD, CLOSE_SHARDING_REQUIRED = 4010, 4011
GUILDS_PER_SHARD = 2500  # Discord closes a session with 4011 past this many guilds
RECOMMENDED_GUILDS_PER_SHARD = 1000  # GET /gateway/bot recommends a shard per this many


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord sends a guild's events to."""
    return (guild_id >> 22) % shard_count


def guild_of(event: str, data: dict[str, Any]) -> int | None:
    """The guild an event belongs to (None: a DM, or no guild at all)."""
    if event in ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"):
        return int(data["id"])
    gid = data.get("guild_id")
    return int(gid) if gid else None


@dataclass(eq=False)
class Connection:
    ws: web.WebSocketResponse
    outbox: asyncio.Queue = field(default_factory=asyncio.Queue)
    writer: asyncio.Task | None = None

    def send(self, frame: dict[str, Any]) -> None:
        self.outbox.put_nowait(frame)

    async def write_loop(self) -> None:
        while True:
            frame = await self.outbox.get()
            if frame is None:
                await self.ws.close(code=4000, message=b"closing")
                return
            try:
                await self.ws.send_str(json.dumps(frame))
            except (ConnectionError, RuntimeError):
                return


@dataclass(eq=False)
class Session:
    id: str
    intents: int
    shard: list[int]
    seq: int = 0
    buffer: deque = field(default_factory=lambda: deque(maxlen=2000))
    connection: Connection | None = None
    identified: int = 1  # how many READYs this session got (always 1)
    resumed: int = 0  # how many RESUMEs succeeded
    invalid: bool = False

    @property
    def shard_id(self) -> int:
        return self.shard[0]

    @property
    def shard_count(self) -> int:
        return self.shard[1]

    def serves(self, guild_id: int | None) -> bool:
        """Whether this session's shard gets the guild's events (DMs: shard 0)."""
        if guild_id is None:
            return self.shard_id == 0
        return shard_of(guild_id, self.shard_count) == self.shard_id

    def wants(self, event: str, data: dict[str, Any], bot_id: int) -> bool:
        if not self.serves(guild_of(event, data)):
            return False
        if event in GUILD_EVENTS:
            return bool(self.intents & INTENT_GUILDS) or event == "GUILD_CREATE"
        if event in MEMBER_EVENTS:
            own = str((data.get("user") or {}).get("id")) == str(bot_id)
            return own or bool(self.intents & INTENT_GUILD_MEMBERS)
        if event in MESSAGE_EVENTS:
            bit = INTENT_GUILD_MESSAGES if data.get("guild_id") else INTENT_DIRECT_MESSAGES
            return bool(self.intents & bit)
        return True

    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        self.seq += 1
        frame = {"op": OP_DISPATCH, "t": event, "s": self.seq, "d": data}
        self.buffer.append(frame)
        if self.connection is not None:
            self.connection.send(frame)


class Gateway:
    def __init__(self, emu: FakeDiscord, *, heartbeat_interval_ms: int = 41250) -> None:
        self.emu = emu
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.sessions: dict[str, Session] = {}
        self.connections: set[Connection] = set()
        self.heartbeats = 0
        self.identifies = 0
        self.max_guilds_per_shard = GUILDS_PER_SHARD
        self.recommended_shards: int | None = None  # None: one per 1000 guilds, as Discord
        self.balance_interactions = False
        self._turn = 0

    def shards_to_recommend(self) -> int:
        if self.recommended_shards is not None:
            return self.recommended_shards
        guilds = len(self.emu.world.guilds)
        return max(1, -(-guilds // RECOMMENDED_GUILDS_PER_SHARD))

    def sessions_for(self, guild_id: int | None) -> list[Session]:
        """The live sessions whose shard gets this guild's events."""
        return [s for s in self.live_sessions if s.serves(guild_id)]

    @property
    def live_sessions(self) -> list[Session]:
        return [s for s in self.sessions.values() if not s.invalid]

    @property
    def connected_sessions(self) -> list[Session]:
        return [s for s in self.live_sessions if s.connection is not None]

    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send an event to every live session whose intents ask for it (an interaction to
        one of them in turn, with `balance_interactions`)."""
        bot_id = self.emu.world.bot_user.id
        sessions = [s for s in self.live_sessions if s.wants(event, data, bot_id)]
        if event == "INTERACTION_CREATE" and self.balance_interactions and sessions:
            connected = [s for s in sessions if s.connection is not None] or sessions
            self._turn += 1
            sessions = [connected[self._turn % len(connected)]]
        for session in sessions:
            payload = data
            if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE"):
                payload = self._message_for(session, data)
            session.dispatch(event, payload)

    def _message_for(self, session: Session, data: dict[str, Any]) -> dict[str, Any]:
        """Without the MESSAGE_CONTENT intent, others' messages arrive without their content."""
        if session.intents & INTENT_MESSAGE_CONTENT or not data.get("guild_id"):
            return data
        bot_id = str(self.emu.world.bot_user.id)
        if data.get("author", {}).get("id") == bot_id:
            return data
        if any(u.get("id") == bot_id for u in data.get("mentions", [])):
            return data
        return {**data, "content": "", "embeds": [], "attachments": [], "components": []}

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = Connection(ws)
        conn.writer = asyncio.create_task(conn.write_loop(), name="fakecord-gateway-writer")
        self.connections.add(conn)
        conn.send({"op": OP_HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}, "s": None, "t": None})
        session: Session | None = None
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                op, d = frame.get("op"), frame.get("d")
                if op == OP_HEARTBEAT:
                    self.heartbeats += 1
                    conn.send({"op": OP_HEARTBEAT_ACK, "d": None, "s": None, "t": None})
                elif op == OP_IDENTIFY:
                    session = await self._identify(conn, d or {})
                elif op == OP_RESUME:
                    session = self._resume(conn, d or {})
                elif op == OP_REQUEST_MEMBERS and session is not None:
                    self._member_chunk(session, d or {})
                self.emu.notify()
        finally:
            self.connections.discard(conn)
            if session is not None and session.connection is conn:
                session.connection = None
            if conn.writer is not None:
                conn.writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await conn.writer
            self.emu.notify()
        return ws

    async def _identify(self, conn: Connection, d: dict[str, Any]) -> Session | None:
        if d.get("token") != self.emu.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return None
        world = self.emu.world
        shard = d.get("shard") or [0, 1]
        if not (isinstance(shard, list) and len(shard) == 2 and all(isinstance(x, int) for x in shard)
                and shard[1] >= 1 and 0 <= shard[0] < shard[1]):
            await conn.ws.close(code=CLOSE_INVALID_SHARD, message=b"Invalid shard.")
            return None
        guilds = [g for g in world.guilds.values() if shard_of(g.id, shard[1]) == shard[0]]
        if len(guilds) > self.max_guilds_per_shard:
            await conn.ws.close(code=CLOSE_SHARDING_REQUIRED, message=b"Sharding required.")
            return None
        self.identifies += 1
        session = Session(secrets.token_hex(16), int(d.get("intents", 0)), shard)
        self.sessions[session.id] = session
        session.connection = conn
        user = world.bot_user.payload() | {"verified": True, "mfa_enabled": False, "email": None}
        session.dispatch("READY", {
            "v": 10, "user": user, "session_type": "normal", "session_id": session.id,
            "resume_gateway_url": self.emu.gateway_url, "shard": shard,
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "application": {"id": str(world.application_id), "flags": 0},
            "private_channels": [], "relationships": [], "presences": [],
            "guild_join_requests": [], "geo_ordered_rtc_regions": [], "_trace": ["fakecord"],
        })
        for guild in guilds:
            session.dispatch("GUILD_CREATE", guild.payload())
        return session

    def _resume(self, conn: Connection, d: dict[str, Any]) -> Session | None:
        session = self.sessions.get(d.get("session_id", ""))
        if session is None or session.invalid or d.get("token") != self.emu.token:
            conn.send({"op": OP_INVALID_SESSION, "d": False, "s": None, "t": None})
            return None
        if session.connection is not None and session.connection is not conn:
            session.connection.send(None)
        session.connection = conn
        last = d.get("seq") or 0
        for frame in list(session.buffer):
            if frame["s"] > last:
                conn.send(frame)
        session.resumed += 1
        session.dispatch("RESUMED", {"_trace": ["fakecord"]})
        return session

    def _member_chunk(self, session: Session, d: dict[str, Any]) -> None:
        guild = self.emu.world.guilds.get(int(d.get("guild_id", 0)))
        if guild is None:
            return
        session.dispatch("GUILD_MEMBERS_CHUNK", {
            "guild_id": str(guild.id), "members": [m.payload() for m in guild.members.values()],
            "chunk_index": 0, "chunk_count": 1, "nonce": d.get("nonce"), "not_found": [],
        })

    def send_reconnect(self) -> list[Session]:
        sessions = self.connected_sessions
        for s in sessions:
            assert s.connection is not None
            s.connection.send({"op": OP_RECONNECT, "d": None, "s": None, "t": None})
        return sessions

    def send_invalid_session(self, resumable: bool) -> list[Session]:
        sessions = self.connected_sessions
        for s in sessions:
            assert s.connection is not None
            s.connection.send({"op": OP_INVALID_SESSION, "d": resumable, "s": None, "t": None})
            if not resumable:
                s.invalid = True
        return sessions

    async def close(self) -> None:
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"going away")
            if conn.writer is not None:
                conn.writer.cancel()
