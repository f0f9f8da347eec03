"""REST API v10: the routes discord.py uses, answered with Discord's shapes and errors.

Route templates use discord.py's own placeholder names (``/channels/{channel_id}/messages``,
``/webhooks/{webhook_id}/{webhook_token}/messages/@original``...) so ``fail_next`` and the
request log speak the same language as discord.py's ``Route``.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import limits
from .interactions import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE,
    MESSAGE_COMPONENT,
    MODAL,
    MODAL_SUBMIT,
    UPDATE_MESSAGE,
    Interaction,
)
from .limits import ApiError
from .world import (
    EVERYONE_RE,
    ROLE_MENTION_RE,
    USER_MENTION_RE,
    Channel,
    Message,
    User,
    iso,
    permission_bits,
)

if TYPE_CHECKING:
    from .emulator import FakeDiscord

API = "/api/v10"


class Upload:
    """One ``files[n]`` part of a multipart request."""

    def __init__(self, index: int, filename: str, data: bytes, content_type: str | None) -> None:
        self.index, self.filename, self.data, self.content_type = index, filename, data, content_type


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON with ``Content-Type`` exactly ``application/json`` (discord.py checks it verbatim)."""
    hdrs = {"Content-Type": "application/json"}
    hdrs.update(headers or {})
    return web.Response(body=json.dumps(data).encode(), status=status, headers=hdrs)


def _guess_type(filename: str) -> str | None:
    import mimetypes

    return mimetypes.guess_type(filename)[0]


class Rest:
    def __init__(self, emu: FakeDiscord) -> None:
        self.emu = emu
        self.world = emu.world

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", "/users/@me", self.get_me),
            ("GET", "/oauth2/applications/@me", self.get_application),
            ("GET", "/applications/@me", self.get_application),
            ("GET", "/gateway", self.get_gateway),
            ("GET", "/gateway/bot", self.get_gateway),
            ("GET", "/users/{user_id}", self.get_user),
            ("POST", "/users/@me/channels", self.create_dm),
            ("GET", "/guilds/{guild_id}", self.get_guild),
            ("GET", "/guilds/{guild_id}/channels", self.get_guild_channels),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member),
            ("GET", "/guilds/{guild_id}/roles", self.get_roles),
            ("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", self.add_member_role),
            ("GET", "/applications/{application_id}/commands", self.get_commands),
            ("PUT", "/applications/{application_id}/commands", self.put_commands),
            ("POST", "/applications/{application_id}/commands", self.post_command),
            ("DELETE", "/applications/{application_id}/commands/{command_id}", self.delete_command),
            ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", self.get_commands),
            ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", self.put_commands),
            ("POST", "/applications/{application_id}/guilds/{guild_id}/commands", self.post_command),
            ("DELETE", "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
             self.delete_command),
            ("POST", "/interactions/{webhook_id}/{webhook_token}/callback", self.interaction_callback),
            ("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/@original", self.get_webhook_message),
            ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original", self.edit_webhook_message),
            ("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
             self.delete_webhook_message),
            ("POST", "/webhooks/{webhook_id}/{webhook_token}", self.followup),
            ("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", self.get_webhook_message),
            ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
             self.edit_webhook_message),
            ("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
             self.delete_webhook_message),
            ("GET", "/channels/{channel_id}", self.get_channel),
            ("POST", "/channels/{channel_id}/typing", self.typing),
            ("GET", "/channels/{channel_id}/messages", self.get_messages),
            ("POST", "/channels/{channel_id}/messages", self.create_message),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message),
            ("POST", "/channels/{channel_id}/messages/{message_id}/threads", self.start_thread),
            ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self.add_reaction),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
             self.remove_reaction),
        ]

    # ----------------------------------------------------------------- helpers

    async def body(self, request: web.Request) -> tuple[dict[str, Any], list[Upload]]:
        """The JSON body, or ``payload_json`` plus ``files[n]`` of a multipart body."""
        ctype = request.content_type
        if ctype.startswith("multipart/"):
            payload: dict[str, Any] = {}
            uploads: list[Upload] = []
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                name = part.name or ""
                if name == "payload_json":
                    payload = json.loads(await part.text())
                elif m := re.fullmatch(r"files\[(\d+)\]", name):
                    data = await part.read(decode=False)
                    filename = part.filename or f"file{m.group(1)}"
                    uploads.append(Upload(int(m.group(1)), filename, bytes(data), _guess_type(filename)))
            return payload, uploads
        raw = await request.read()
        if not raw:
            return {}, []
        if ctype != "application/json":
            raise ApiError(400, 50109, "The request body contains invalid JSON.")
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, 50109, "The request body contains invalid JSON.") from exc
        return (data if isinstance(data, dict) else {"__list__": data}), []

    def channel(self, request: web.Request) -> Channel:
        try:
            cid = int(request.match_info["channel_id"])
        except ValueError as exc:
            raise ApiError(400, 50035, "Invalid Form Body", {"channel_id": {"_errors": [
                {"code": "NUMBER_TYPE_COERCE", "message": "Value is not snowflake."}]}}) from exc
        chan = self.world.channels.get(cid)
        if chan is None:
            raise limits.unknown_channel()
        if chan.guild is not None and not self.bot_can(chan, view_channel=True):
            raise limits.missing_access()
        return chan

    def bot_can(self, chan: Channel, **perms: bool) -> bool:
        if chan.guild is None:
            return True
        return chan.guild.has(chan.guild.bot_member, chan, **perms)

    def bot_perms(self, chan: Channel) -> int:
        if chan.guild is None:
            return 0
        return chan.guild.permissions_for(chan.guild.bot_member, chan)

    def upload_limit(self, chan: Channel) -> int:
        return chan.guild.upload_limit if chan.guild else limits.upload_limit(0)

    def check_uploads(self, chan: Channel, uploads: list[Upload]) -> None:
        if len(uploads) > limits.FILES_MAX:
            raise limits.invalid_form_body({"files": {"_errors": [{
                "code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {limits.FILES_MAX} or fewer in length."}]}})
        limit = self.upload_limit(chan)
        for up in uploads:
            if len(up.data) > limit:
                raise limits.entity_too_large()

    def validate(self, payload: dict[str, Any], *, root: str | None = None) -> None:
        errors = limits.validate_message(payload)
        if errors:
            raise limits.invalid_form_body({root: errors} if root else errors)

    def message_by_id(self, chan: Channel, message_id: str) -> Message:
        try:
            mid = int(message_id)
        except ValueError:
            raise limits.unknown_message() from None
        msg = chan.find_message(mid)
        if msg is None or msg.deleted or msg.visible_to is not None:
            raise limits.unknown_message()
        return msg

    def mentions(self, chan: Channel, content: str, allowed: dict | None, *, can_everyone: bool,
                 replied_author: int | None) -> tuple[list[int], list[int], bool]:
        """Who is actually pinged, computed as Discord does from content + ``allowed_mentions``."""
        if allowed is None:
            parse = {"users", "roles", "everyone"}
            users_ok: set[int] = set()
            roles_ok: set[int] = set()
            replied = True
        else:
            parse = set(allowed.get("parse") or [])
            users_ok = {int(x) for x in allowed.get("users") or []}
            roles_ok = {int(x) for x in allowed.get("roles") or []}
            replied = bool(allowed.get("replied_user", False))
        users: list[int] = []
        for m in USER_MENTION_RE.finditer(content or ""):
            uid = int(m.group(1))
            if uid in self.world.users and uid not in users and ("users" in parse or uid in users_ok):
                users.append(uid)
        roles: list[int] = []
        guild = chan.guild
        if guild is not None:
            for m in ROLE_MENTION_RE.finditer(content or ""):
                rid = int(m.group(1))
                role = guild.roles.get(rid)
                if role is None or rid in roles or not ("roles" in parse or rid in roles_ok):
                    continue
                if role.mentionable or can_everyone:
                    roles.append(rid)
        everyone = bool(guild is not None and EVERYONE_RE.search(content or "")
                        and "everyone" in parse and can_everyone)
        if replied_author is not None and replied and replied_author not in users:
            users.append(replied_author)
        return users, roles, everyone

    def new_attachments(self, chan: Channel, payload: dict[str, Any], uploads: list[Upload],
                        *, ephemeral: bool = False) -> list:
        described = {}
        for entry in payload.get("attachments") or []:
            try:
                described[int(entry.get("id"))] = entry
            except (TypeError, ValueError):
                continue
        out = []
        for up in sorted(uploads, key=lambda u: u.index):
            meta = described.get(up.index, {})
            filename = meta.get("filename") or up.filename
            att = self.world.add_attachment(
                filename, up.data, content_type=_guess_type(filename) or up.content_type,
                description=meta.get("description"), channel_id=chan.id, ephemeral=ephemeral)
            out.append(att)
        return out

    def build_message(self, chan: Channel, payload: dict[str, Any], uploads: list[Upload], *,
                      webhook: bool = False, ix: Interaction | None = None, ephemeral: bool = False,
                      root: str | None = None) -> Message:
        """Validate a create body and turn it into a stored message (not yet in the channel)."""
        self.validate(payload, root=root)
        embeds = list(payload.get("embeds") or [])
        has_body = bool((payload.get("content") or "").strip() or embeds or uploads
                        or payload.get("components") or payload.get("sticker_ids") or payload.get("poll"))
        if not has_body:
            raise limits.empty_message()
        self.check_uploads(chan, uploads)
        perms = self.bot_perms(chan)
        can_everyone = chan.guild is not None and bool(perms & permission_bits(mention_everyone=True))
        reply_to = None
        replied_author = None
        ref = payload.get("message_reference")
        if ref and ref.get("message_id"):
            target = chan.find_message(int(ref["message_id"]))
            if target is None or target.deleted:
                if ref.get("fail_if_not_exists", True):
                    raise limits.invalid_form_body({"message_reference": {"_errors": [{
                        "code": "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "message": "Unknown message"}]}})
            else:
                reply_to = target.id
                replied_author = target.author.id
        content = payload.get("content") or ""
        users, roles, everyone = self.mentions(
            chan, content, payload.get("allowed_mentions"), can_everyone=can_everyone,
            replied_author=replied_author)
        flags = int(payload.get("flags") or 0) & (limits.FLAG_EPHEMERAL | limits.FLAG_SUPPRESS_EMBEDS
                                                   | limits.FLAG_COMPONENTS_V2 | (1 << 12))
        if ephemeral:
            flags |= limits.FLAG_EPHEMERAL
        msg = Message(
            id=self.world.ids.next(), channel=chan, author=self.world.bot_user, content=content,
            embeds=embeds, components=list(payload.get("components") or []), mentions=users,
            mention_roles=roles, mention_everyone=everyone, reply_to=reply_to, flags=flags,
            nonce=payload.get("nonce"), timestamp=self.world.clock.time(),
            webhook_id=self.world.application_id if webhook else None, interaction=ix,
        )
        msg.type = 19 if reply_to else (ix.message_type if ix is not None else 0)
        msg.attachments = self.new_attachments(chan, payload, uploads, ephemeral=bool(flags & limits.FLAG_EPHEMERAL))
        if msg.ephemeral and ix is not None:
            msg.visible_to = ix.user.id
        return msg

    def publish(self, msg: Message) -> Message:
        msg.channel.all_messages.append(msg)
        if msg.channel.is_thread:
            msg.channel.last_activity = self.world.clock.time()
        if msg.visible_to is None:
            self.emu.dispatch("MESSAGE_CREATE", msg.payload())
        self.emu.notify()
        return msg

    def apply_edit(self, msg: Message, payload: dict[str, Any], uploads: list[Upload], *,
                   root: str | None = None) -> Message:
        """PATCH semantics: only the keys present change; ``attachments`` lists what to keep."""
        errors = limits.validate_message(payload, editing=True)
        if errors:
            raise limits.invalid_form_body({root: errors} if root else errors)
        chan = msg.channel
        self.check_uploads(chan, uploads)
        new_content = payload["content"] if "content" in payload else msg.content
        new_embeds = payload["embeds"] if "embeds" in payload else msg.embeds
        if "attachments" in payload:
            keep = {str(a.get("id")) for a in payload["attachments"] or []}
            kept = [a for a in msg.attachments if str(a.id) in keep]
        else:
            kept = list(msg.attachments)
        new_atts = kept + self.new_attachments(chan, payload, uploads, ephemeral=msg.ephemeral)
        new_components = payload["components"] if "components" in payload else msg.components
        if not ((new_content or "").strip() or new_embeds or new_atts or new_components):
            raise limits.empty_message()
        msg.content = new_content or ""
        msg.embeds = list(new_embeds or [])
        msg.attachments = new_atts
        msg.components = list(new_components or [])
        if "flags" in payload and payload["flags"] is not None:
            keep_flags = msg.flags & (limits.FLAG_EPHEMERAL | limits.FLAG_COMPONENTS_V2)
            msg.flags = keep_flags | (int(payload["flags"]) & limits.FLAG_SUPPRESS_EMBEDS)
        if "content" in payload or "allowed_mentions" in payload:
            perms = self.bot_perms(chan)
            can_everyone = chan.guild is not None and bool(perms & permission_bits(mention_everyone=True))
            replied = None  # keep pinging the replied-to author only if the original did
            if msg.reply_to and (target := chan.find_message(msg.reply_to)) \
                    and target.author.id in msg.mentions:
                replied = target.author.id
            msg.mentions, msg.mention_roles, msg.mention_everyone = self.mentions(
                chan, msg.content, payload.get("allowed_mentions"), can_everyone=can_everyone,
                replied_author=replied)
        was_loading = msg.loading
        msg.flags &= ~limits.FLAG_LOADING
        msg.edited_timestamp = None if was_loading else self.world.clock.time()
        msg.edits += 1
        if msg.visible_to is None:
            self.emu.edits.record(chan.id)
            self.emu.dispatch("MESSAGE_UPDATE", msg.payload())
        self.emu.notify()
        return msg

    def remove(self, msg: Message) -> None:
        msg.deleted = True
        if msg.visible_to is None:
            data = {"id": str(msg.id), "channel_id": str(msg.channel.id)}
            if msg.guild:
                data["guild_id"] = str(msg.guild.id)
            self.emu.dispatch("MESSAGE_DELETE", data)
        self.emu.notify()

    # ------------------------------------------------------------ identity

    async def get_me(self, request: web.Request) -> web.Response:
        return json_response(self.world.bot_user.payload() | {
            "verified": True, "mfa_enabled": False, "email": None, "locale": "en-US", "bio": ""})

    async def get_application(self, request: web.Request) -> web.Response:
        world = self.world
        guild = next(iter(world.guilds.values()), None)
        owner = guild.owner.user if guild else world.bot_user
        return json_response({
            "id": str(world.application_id), "name": world.bot_user.name, "icon": None,
            "description": "", "summary": "", "bot_public": True, "bot_require_code_grant": False,
            "owner": owner.payload(), "team": None, "verify_key": "0" * 64, "flags": 0,
            "bot": world.bot_user.payload(), "interactions_endpoint_url": None, "redirect_uris": [],
            "tags": [], "approximate_guild_count": len(world.guilds),
        })

    async def get_gateway(self, request: web.Request) -> web.Response:
        data: dict[str, Any] = {"url": self.emu.gateway_url}
        if request.path.endswith("/bot"):
            gateway = self.emu.gateway
            data.update(shards=gateway.shards_to_recommend(), session_start_limit={
                "total": limits.SESSION_STARTS_PER_DAY,
                "remaining": max(0, limits.SESSION_STARTS_PER_DAY - gateway.identifies),
                "reset_after": 86_400_000, "max_concurrency": 1})
        return json_response(data)

    async def get_user(self, request: web.Request) -> web.Response:
        try:
            user = self.world.users.get(int(request.match_info["user_id"]))
        except ValueError:
            user = None
        if user is None:
            raise limits.unknown_user()
        return json_response(user.payload())

    async def create_dm(self, request: web.Request) -> web.Response:
        payload, _ = await self.body(request)
        try:
            user = self.world.users.get(int(payload.get("recipient_id")))
        except (TypeError, ValueError):
            user = None
        if user is None:
            raise limits.invalid_form_body({"recipient_id": {"_errors": [
                {"code": "NUMBER_TYPE_COERCE", "message": "Value is not snowflake."}]}})
        return json_response(self.world.dm_channel(user).payload())

    def guild(self, request: web.Request):
        try:
            guild = self.world.guilds.get(int(request.match_info["guild_id"]))
        except ValueError:
            guild = None
        if guild is None:
            raise limits.unknown_guild()
        return guild

    async def get_guild(self, request: web.Request) -> web.Response:
        return json_response(self.guild(request).payload(full=False))

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        guild = self.guild(request)
        return json_response([c.payload() for c in guild.channels.values() if not c.is_thread])

    async def get_roles(self, request: web.Request) -> web.Response:
        return json_response([r.payload() for r in self.guild(request).roles.values()])

    async def get_member(self, request: web.Request) -> web.Response:
        guild = self.guild(request)
        try:
            member = guild.members.get(int(request.match_info["user_id"]))
        except ValueError:
            member = None
        if member is None:
            raise limits.unknown_member()
        return json_response(member.payload())

    async def add_member_role(self, request: web.Request) -> web.Response:
        """Discord's rules: Manage Roles, and the role below the bot's highest role (the
        owner's bot would bypass it; bots never own the guild here); a role the member
        has already is a no-op. 204 either way."""
        guild = self.guild(request)
        try:
            member = guild.members.get(int(request.match_info["user_id"]))
            role = guild.roles.get(int(request.match_info["role_id"]))
        except ValueError:
            member = role = None
        if member is None:
            raise limits.unknown_member()
        if role is None:
            raise limits.unknown_role()
        me = guild.bot_member
        highest = max((r.position for r in me.roles), default=0)
        if not guild.has(me, manage_roles=True) or role.position >= highest or role.managed:
            raise limits.missing_permissions()
        if role not in member.roles:
            member.add_role(role)
        return web.Response(status=204)

    # ------------------------------------------------------------ commands

    def command_store(self, request: web.Request) -> tuple[dict, int | None]:
        if str(request.match_info["application_id"]) != str(self.world.application_id):
            raise ApiError(403, 50001, "Missing Access")
        if "guild_id" in request.match_info:
            guild = self.guild(request)
            return self.emu.guild_commands.setdefault(guild.id, {}), guild.id
        return self.emu.global_commands, None

    def stored_command(self, cmd: dict[str, Any], guild_id: int | None, previous: dict | None) -> dict:
        data = json.loads(json.dumps(cmd))
        data.setdefault("type", 1)
        data.setdefault("description", "")
        data.setdefault("options", [])
        data.setdefault("default_member_permissions", None)
        data.setdefault("nsfw", False)
        data.setdefault("name_localizations", None)
        data.setdefault("description_localizations", None)
        data["id"] = previous["id"] if previous else str(self.world.ids.next())
        data["application_id"] = str(self.world.application_id)
        data["version"] = str(self.world.ids.next())
        if guild_id is not None:
            data["guild_id"] = str(guild_id)
        else:
            data.setdefault("contexts", None)
            data.setdefault("integration_types", [0])
        return data

    async def get_commands(self, request: web.Request) -> web.Response:
        store, _ = self.command_store(request)
        return json_response(list(store.values()))

    async def put_commands(self, request: web.Request) -> web.Response:
        store, guild_id = self.command_store(request)
        payload, _ = await self.body(request)
        commands = payload.get("__list__", payload)
        errors = limits.validate_commands(commands)
        if errors:
            raise limits.invalid_form_body(errors)
        if (too_many := limits.too_many_commands(commands)) is not None:
            raise too_many
        previous = dict(store)
        store.clear()
        for cmd in commands:
            key = (cmd.get("type", 1), cmd["name"])
            store[key] = self.stored_command(cmd, guild_id, previous.get(key))
        self.emu.syncs.append(guild_id)
        self.emu.notify()
        return json_response(list(store.values()))

    async def post_command(self, request: web.Request) -> web.Response:
        store, guild_id = self.command_store(request)
        payload, _ = await self.body(request)
        errors = limits.validate_commands([payload])
        if errors:
            raise limits.invalid_form_body(errors["0"])
        key = (payload.get("type", 1), payload.get("name"))
        existed = key in store
        if not existed and (too_many := limits.too_many_commands([*store.values(), payload])) is not None:
            raise too_many
        store[key] = self.stored_command(payload, guild_id, store.get(key))
        self.emu.notify()
        return json_response(store[key], status=200 if existed else 201)

    async def delete_command(self, request: web.Request) -> web.Response:
        store, _ = self.command_store(request)
        for key, cmd in list(store.items()):
            if cmd["id"] == request.match_info["command_id"]:
                del store[key]
                return web.Response(status=204)
        raise limits.unknown_command()

    # -------------------------------------------------------- interactions

    async def interaction_callback(self, request: web.Request) -> web.Response:
        emu = self.emu
        try:
            ix = emu.interactions.get(int(request.match_info["webhook_id"]))
        except ValueError:
            ix = None
        if ix is None or ix.token != request.match_info["webhook_token"]:
            raise limits.unknown_interaction()
        emu.check_deadline(ix)
        if ix.failed:
            raise limits.unknown_interaction()
        if ix.acknowledged:
            raise limits.already_acknowledged()
        payload, uploads = await self.body(request)
        rtype = payload.get("type")
        data = payload.get("data") or {}
        allowed = {
            APPLICATION_COMMAND: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL},
            MESSAGE_COMPONENT: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE,
                                UPDATE_MESSAGE, MODAL},
            AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
            MODAL_SUBMIT: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE}
            | ({DEFERRED_UPDATE, UPDATE_MESSAGE} if ix.source_message else set()),
        }[ix.type]
        if rtype not in allowed:
            raise limits.invalid_form_body({"type": {"_errors": [{
                "code": "INTERACTION_RESPONSE_TYPE_INVALID",
                "message": f"Interaction response type {rtype} is not valid for this interaction"}]}})
        resource: dict[str, Any] | None = None
        info: dict[str, Any] = {"id": str(ix.id), "type": ix.type}
        chan = ix.channel
        if rtype == CHANNEL_MESSAGE:
            msg = self.build_message(chan, data, uploads, webhook=True, ix=ix,
                                     ephemeral=bool(int(data.get("flags") or 0) & limits.FLAG_EPHEMERAL),
                                     root="data")
            ix.original_message = msg
            self.publish(msg)
            resource = {"type": rtype, "message": msg.payload()}
            info.update(response_message_id=str(msg.id), response_message_loading=False,
                        response_message_ephemeral=msg.ephemeral)
        elif rtype == DEFERRED_CHANNEL_MESSAGE:
            ephemeral = bool(int(data.get("flags") or 0) & limits.FLAG_EPHEMERAL)
            msg = Message(id=self.world.ids.next(), channel=chan, author=self.world.bot_user,
                          flags=limits.FLAG_LOADING | (limits.FLAG_EPHEMERAL if ephemeral else 0),
                          timestamp=self.world.clock.time(), webhook_id=self.world.application_id,
                          interaction=ix, type=ix.message_type)
            if ephemeral:
                msg.visible_to = ix.user.id
            ix.original_message = msg
            self.publish(msg)
            info.update(response_message_id=str(msg.id), response_message_loading=True,
                        response_message_ephemeral=ephemeral)
        elif rtype == DEFERRED_UPDATE:
            ix.original_message = ix.source_message
        elif rtype == UPDATE_MESSAGE:
            assert ix.source_message is not None
            if uploads or data:
                self.apply_edit(ix.source_message, data, uploads, root="data")
            ix.original_message = ix.source_message
            resource = {"type": rtype, "message": ix.source_message.payload()}
            info.update(response_message_id=str(ix.source_message.id))
        elif rtype == AUTOCOMPLETE_RESULT:
            errors = limits.validate_choices(data.get("choices"))
            if errors:
                raise limits.invalid_form_body({"data": errors})
            ix.choices = list(data.get("choices") or [])
        elif rtype == MODAL:
            errors = limits.validate_modal(data)
            if errors:
                raise limits.invalid_form_body({"data": errors})
            ix.modal = data
        emu.acknowledge(ix, rtype, data)
        if request.query.get("with_response", "").lower() not in ("1", "true"):
            return web.Response(status=204)
        body: dict[str, Any] = {"interaction": info}
        if resource is not None:
            body["resource"] = resource
        return json_response(body)

    def webhook_interaction(self, request: web.Request) -> Interaction:
        emu = self.emu
        ix = emu.interactions_by_token.get(request.match_info["webhook_token"])
        if ix is None or request.match_info["webhook_id"] != str(self.world.application_id):
            raise limits.unknown_webhook()
        if ix.token_expired:
            raise limits.invalid_webhook_token()
        return ix

    def webhook_message(self, request: web.Request, ix: Interaction) -> Message:
        mid = request.match_info.get("message_id", "@original")
        if mid == "@original":
            msg = ix.original_message
        else:
            msg = next((m for m in [ix.original_message, *ix.followups] if m and str(m.id) == mid), None)
        if msg is None or msg.deleted:
            raise limits.unknown_message()
        return msg

    async def get_webhook_message(self, request: web.Request) -> web.Response:
        ix = self.webhook_interaction(request)
        return json_response(self.webhook_message(request, ix).payload())

    async def edit_webhook_message(self, request: web.Request) -> web.Response:
        ix = self.webhook_interaction(request)
        msg = self.webhook_message(request, ix)
        payload, uploads = await self.body(request)
        self.apply_edit(msg, payload, uploads)
        return json_response(msg.payload())

    async def delete_webhook_message(self, request: web.Request) -> web.Response:
        ix = self.webhook_interaction(request)
        self.remove(self.webhook_message(request, ix))
        return web.Response(status=204)

    async def followup(self, request: web.Request) -> web.Response:
        ix = self.webhook_interaction(request)
        if not ix.acknowledged:
            raise limits.unknown_webhook()
        payload, uploads = await self.body(request)
        original = ix.original_message
        if ix.response_type == DEFERRED_CHANNEL_MESSAGE and original is not None and original.loading \
                and not original.deleted:
            # The first followup after a "thinking" deferral replaces the thinking message.
            self.validate(payload)
            msg = self.apply_edit(original, payload, uploads)
        else:
            ephemeral = bool(int(payload.get("flags") or 0) & limits.FLAG_EPHEMERAL)
            msg = self.build_message(ix.channel, payload, uploads, webhook=True, ix=ix, ephemeral=ephemeral)
            self.publish(msg)
        ix.followups.append(msg)
        self.emu.notify()
        if request.query.get("wait", "").lower() in ("1", "true"):
            return json_response(msg.payload())
        return web.Response(status=204)

    # ------------------------------------------------------------ channels

    async def get_channel(self, request: web.Request) -> web.Response:
        return json_response(self.channel(request).payload())

    async def typing(self, request: web.Request) -> web.Response:
        chan = self.channel(request)
        if chan.guild is not None and not self.bot_can(chan, send_messages=True):
            raise limits.missing_permissions()
        self.emu.typing.append(chan.id)
        return web.Response(status=204)

    async def get_messages(self, request: web.Request) -> web.Response:
        chan = self.channel(request)
        if not self.bot_can(chan, read_message_history=True):
            return json_response([])
        q = request.query
        try:
            limit = int(q.get("limit", 50))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            raise limits.invalid_form_body({"limit": {"_errors": [{
                "code": "NUMBER_TYPE_MAX" if limit > 100 else "NUMBER_TYPE_MIN",
                "message": "int value should be less than or equal to 100." if limit > 100
                else "int value should be greater than or equal to 1."}]}})
        msgs = sorted(chan.messages, key=lambda m: m.id)
        if "around" in q:
            pivot = int(q["around"])
            older = [m for m in msgs if m.id < pivot][-(limit // 2 or 1):] if limit > 1 else []
            rest = [m for m in msgs if m.id >= pivot][: limit - len(older)]
            picked = older + rest
        elif "after" in q:
            picked = [m for m in msgs if m.id > int(q["after"])][:limit]
        else:
            if "before" in q:
                msgs = [m for m in msgs if m.id < int(q["before"])]
            picked = msgs[-limit:]
        return json_response([m.payload() for m in sorted(picked, key=lambda m: m.id, reverse=True)])

    async def get_message(self, request: web.Request) -> web.Response:
        chan = self.channel(request)
        if not self.bot_can(chan, read_message_history=True):
            raise limits.missing_access()
        return json_response(self.message_by_id(chan, request.match_info["message_id"]).payload())

    async def create_message(self, request: web.Request) -> web.Response:
        chan = self.channel(request)
        payload, uploads = await self.body(request)
        if chan.type == 1:
            user = chan.recipient
            assert isinstance(user, User)
            if user.bot or not user.dms_open or not self.world.shares_guild_with_bot(user):
                raise limits.cannot_dm()
        else:
            needed = {"send_messages_in_threads": True} if chan.is_thread else {"send_messages": True}
            if not self.bot_can(chan, **needed):
                raise limits.missing_permissions()
            if chan.archived and chan.locked and not self.bot_can(chan, manage_threads=True):
                raise limits.thread_archived()
            if uploads and not self.bot_can(chan, attach_files=True):
                raise limits.missing_permissions()
            ref = payload.get("message_reference")
            if ref and ref.get("message_id") and not self.bot_can(chan, read_message_history=True):
                raise limits.cannot_reply_without_history()
        nonce = payload.get("nonce")
        if nonce is not None and payload.get("enforce_nonce"):
            seen = self.emu.nonces.get((chan.id, str(nonce)))
            if seen is not None and self.world.clock.time() - seen[1] < limits.NONCE_WINDOW \
                    and not seen[0].deleted:
                return json_response(seen[0].payload())
        msg = self.build_message(chan, payload, uploads)
        if msg.embeds and chan.guild is not None and not self.bot_can(chan, embed_links=True):
            # Discord accepts the message but drops rich embeds the bot may not post.
            msg.embeds = []
            self.emu.violation(200, 50013, "Missing Permissions: embeds were silently dropped "
                               "(the bot lacks Embed Links)", request)
            if not (msg.content.strip() or msg.attachments or msg.components):
                raise limits.empty_message()
        if nonce is not None and payload.get("enforce_nonce"):
            self.emu.nonces[(chan.id, str(nonce))] = (msg, self.world.clock.time())
        if chan.archived:  # sending is the one thing that unarchives a thread
            chan.set_archived(False)
        self.publish(msg)
        return json_response(msg.payload())

    def unarchived(self, request: web.Request) -> Channel:
        """The channel of a request that changes a message: archived threads refuse it."""
        chan = self.channel(request)
        if chan.archived:
            raise limits.thread_archived()
        return chan

    async def edit_message(self, request: web.Request) -> web.Response:
        chan = self.unarchived(request)
        msg = self.message_by_id(chan, request.match_info["message_id"])
        payload, uploads = await self.body(request)
        if msg.author.id != self.world.bot_user.id:
            if set(payload) - {"flags"}:
                raise limits.cannot_edit_other_users_message()
        if uploads and chan.guild is not None and not self.bot_can(chan, attach_files=True):
            raise limits.missing_permissions()
        self.apply_edit(msg, payload, uploads)
        return json_response(msg.payload())

    async def delete_message(self, request: web.Request) -> web.Response:
        chan = self.unarchived(request)
        msg = self.message_by_id(chan, request.match_info["message_id"])
        if msg.author.id != self.world.bot_user.id and not self.bot_can(chan, manage_messages=True):
            raise limits.missing_permissions()
        self.remove(msg)
        return web.Response(status=204)

    async def add_reaction(self, request: web.Request) -> web.Response:
        chan = self.unarchived(request)
        if not self.bot_can(chan, read_message_history=True):
            raise limits.missing_access()
        msg = self.message_by_id(chan, request.match_info["message_id"])
        emoji = request.match_info["emoji"]
        if emoji not in msg.reactions:
            if not self.bot_can(chan, add_reactions=True):
                raise limits.missing_permissions()
            msg.reactions.append(emoji)
            self.emu.notify()
        return web.Response(status=204)

    async def remove_reaction(self, request: web.Request) -> web.Response:
        chan = self.unarchived(request)
        msg = self.message_by_id(chan, request.match_info["message_id"])
        if request.match_info["emoji"] in msg.reactions:
            msg.reactions.remove(request.match_info["emoji"])
            self.emu.notify()
        return web.Response(status=204)

    async def start_thread(self, request: web.Request) -> web.Response:
        chan = self.channel(request)
        if chan.type != 0:
            raise limits.wrong_channel_type()
        msg = self.message_by_id(chan, request.match_info["message_id"])
        if not self.bot_can(chan, create_public_threads=True):
            raise limits.missing_permissions()
        payload, _ = await self.body(request)
        errors = limits.validate_thread(payload)
        if errors:
            raise limits.invalid_form_body(errors)
        if msg.thread is not None:
            raise limits.thread_already_created()
        thread = chan.start_thread(
            msg, payload["name"], owner=self.world.bot_user,
            auto_archive_duration=payload.get("auto_archive_duration") or 1440)
        data = thread.payload()
        data["member"] = {"id": str(thread.id), "user_id": str(self.world.bot_user.id),
                          "join_timestamp": iso(thread.created_at), "flags": 1}
        return json_response(data, status=201)
