"""The emulated Discord world: users, guilds, roles, members, channels, threads, messages.

Everything here is plain state plus the JSON payloads Discord would send for it. Changes a
test makes after the bot connected (a role's permissions, a channel overwrite, a new member)
are pushed to the gateway through :attr:`World.emit`, so discord.py's cache matches.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import discord

from bot.clock import ManualClock

from . import limits

DISCORD_EPOCH_MS = 1420070400000
ALL_PERMISSIONS = discord.Permissions.all().value
VIEW_CHANNEL = discord.Permissions(view_channel=True).value
SEND_MESSAGES = discord.Permissions(send_messages=True).value
SEND_MESSAGES_IN_THREADS = discord.Permissions(send_messages_in_threads=True).value
ADMINISTRATOR = discord.Permissions(administrator=True).value
IMPLICITLY_NEEDS_SEND = discord.Permissions(
    send_tts_messages=True, mention_everyone=True, embed_links=True, attach_files=True
).value

EVERYONE_DEFAULT = discord.Permissions(
    view_channel=True, send_messages=True, send_messages_in_threads=True,
    create_public_threads=True, embed_links=True, attach_files=True, add_reactions=True,
    read_message_history=True, use_application_commands=True, use_external_emojis=True,
    change_nickname=True, connect=True, speak=True,
).value
BOT_DEFAULT = discord.Permissions(
    view_channel=True, send_messages=True, send_messages_in_threads=True, embed_links=True,
    attach_files=True, read_message_history=True, add_reactions=True, use_external_emojis=True,
    mention_everyone=True, use_application_commands=True,
).value

USER_MENTION_RE = re.compile(r"<@!?(\d+)>")
ROLE_MENTION_RE = re.compile(r"<@&(\d+)>")
EVERYONE_RE = re.compile(r"@(everyone|here)\b")


def permission_bits(**perms: bool) -> int:
    """``permission_bits(manage_guild=True)`` -> the integer Discord uses."""
    return discord.Permissions(**perms).value


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


class Snowflakes:
    def __init__(self, clock: ManualClock) -> None:
        self._clock = clock
        self._last = 0

    def next(self) -> int:
        ms = int(self._clock.time() * 1000) - DISCORD_EPOCH_MS
        value = max(ms << 22, self._last + 1)
        self._last = value
        return value

    def next_on_shard(self, shard_id: int, shard_count: int) -> int:
        """A fresh id whose timestamp puts it on ``shard_id`` of ``shard_count`` (a guild's
        shard is ``(id >> 22) % shard_count``): a millisecond or a few after the last id."""
        ms = max(int(self._clock.time() * 1000) - DISCORD_EPOCH_MS, (self._last >> 22) + 1)
        ms += (shard_id - ms) % shard_count
        self._last = ms << 22
        return self._last


@dataclass(eq=False)
class User:
    id: int
    name: str
    bot: bool = False
    global_name: str | None = None
    dms_open: bool = True  # False: the bot's DMs to this user fail with 50007

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id), "username": self.name, "discriminator": "0",
            "global_name": self.global_name, "avatar": None, "bot": self.bot,
            "public_flags": 0, "flags": 0, "primary_guild": None, "banner": None,
            "accent_color": None, "avatar_decoration_data": None, "collectibles": None,
        }

    def __repr__(self) -> str:
        return f"<User {self.name} {self.id}>"


@dataclass(eq=False)
class Role:
    id: int
    guild: Guild
    name: str
    permissions: int = 0
    position: int = 0
    mentionable: bool = False
    managed: bool = False
    bot_id: int | None = None

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>" if self.id != self.guild.id else "@everyone"

    def set_permissions(self, **perms: bool) -> None:
        """Turn permissions of this role on (True) or off (False), live."""
        value = discord.Permissions(self.permissions)
        value.update(**perms)
        self.permissions = value.value
        self.guild.world.emit("GUILD_ROLE_UPDATE", {"guild_id": str(self.guild.id), "role": self.payload()})

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id), "name": self.name, "color": 0, "colors": {"primary_color": 0},
            "hoist": False, "icon": None, "unicode_emoji": None, "position": self.position,
            "permissions": str(self.permissions), "managed": self.managed,
            "mentionable": self.mentionable, "flags": 0,
        }
        if self.bot_id:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data

    def __repr__(self) -> str:
        return f"<Role {self.name} {self.id}>"


@dataclass(eq=False)
class Member:
    user: User
    guild: Guild
    roles: list[Role] = field(default_factory=list)
    nick: str | None = None
    joined_at: float = 0.0

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def mention(self) -> str:
        return self.user.mention

    @property
    def is_owner(self) -> bool:
        return self.guild.owner_id == self.id

    def add_role(self, role: Role) -> None:
        self.roles.append(role)
        self._changed()

    def remove_role(self, role: Role) -> None:
        self.roles.remove(role)
        self._changed()

    def _changed(self) -> None:
        data = self.payload()
        data["guild_id"] = str(self.guild.id)
        self.guild.world.emit("GUILD_MEMBER_UPDATE", data)

    def payload(self, *, with_user: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [str(r.id) for r in self.roles], "nick": self.nick, "avatar": None,
            "banner": None, "joined_at": iso(self.joined_at), "premium_since": None,
            "deaf": False, "mute": False, "pending": False, "flags": 0,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        return data

    def __repr__(self) -> str:
        return f"<Member {self.name} of {self.guild.name}>"


@dataclass
class Overwrite:
    id: int
    type: int  # 0 role, 1 member
    allow: int = 0
    deny: int = 0

    def payload(self) -> dict[str, Any]:
        return {"id": str(self.id), "type": self.type, "allow": str(self.allow), "deny": str(self.deny)}


@dataclass(eq=False)
class Attachment:
    """A stored file: uploaded by the bot, or made by a test with ``FakeDiscord.attachment``."""

    world: World
    id: int
    filename: str
    data: bytes
    content_type: str | None = None
    width: int | None = None
    height: int | None = None
    description: str | None = None
    channel_id: int = 0
    ephemeral: bool = False

    @property
    def bytes(self) -> bytes:
        return self.data

    @property
    def size(self) -> int:
        return len(self.data)

    def signature(self, issued: int, expires: int) -> str:
        """The ``hm`` of a link issued at ``issued`` that expires at ``expires`` (Unix seconds)."""
        text = f"{self.world.cdn_secret}:{self.id}:{self.filename}:{issued:x}:{expires:x}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    @property
    def url(self) -> str:
        """A freshly signed CDN link, valid for a day from now (each payload signs anew)."""
        kind = "ephemeral-attachments" if self.ephemeral else "attachments"
        issued = int(self.world.clock.time())
        ex = issued + int(limits.ATTACHMENT_URL_LIFETIME)
        return (
            f"{self.world.cdn_base}/{kind}/{self.channel_id}/{self.id}/{self.filename}"
            f"?ex={ex:x}&is={issued:x}&hm={self.signature(issued, ex)}&"
        )

    def payload(self) -> dict[str, Any]:
        url = self.url
        data: dict[str, Any] = {
            "id": str(self.id), "filename": self.filename, "size": self.size,
            "url": url, "proxy_url": url.replace("/attachments/", "/proxy/attachments/"),
        }
        if self.content_type:
            data["content_type"] = self.content_type
        if self.width is not None:
            data["width"], data["height"] = self.width, self.height
        if self.description:
            data["description"] = self.description
        if self.ephemeral:
            data["ephemeral"] = True
        return data

    def __repr__(self) -> str:
        return f"<Attachment {self.filename} {self.size}B>"


@dataclass(eq=False)
class Message:
    """A message as users see it. ``mentions`` holds the ids of users actually pinged."""

    id: int
    channel: Channel
    author: User
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    mentions: list[int] = field(default_factory=list)
    mention_roles: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    reply_to: int | None = None
    flags: int = 0
    nonce: str | int | None = None
    type: int = 0
    timestamp: float = 0.0
    edited_timestamp: float | None = None
    webhook_id: int | None = None
    interaction: Any = None  # the fakecord Interaction that created it, if any
    visible_to: int | None = None  # ephemeral: the only user who sees it
    deleted: bool = False
    edits: int = 0
    reactions: list[str] = field(default_factory=list)  # the bot's own reactions ("👍", "name:id")
    thread: Channel | None = None  # the thread started from this message (same id)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & limits.FLAG_EPHEMERAL)

    @property
    def loading(self) -> bool:
        """A deferred "Bot is thinking..." message not yet edited."""
        return bool(self.flags & limits.FLAG_LOADING)

    @property
    def guild(self) -> Guild | None:
        return self.channel.guild

    def buttons(self) -> list[dict[str, Any]]:
        return [c for c in iter_components(self.components) if c.get("type") == 2]

    def button(self, label: str | None = None, custom_id: str | None = None) -> dict[str, Any] | None:
        for comp in self.buttons():
            if (label is not None and comp.get("label") == label) or (
                custom_id is not None and comp.get("custom_id") == custom_id
            ):
                return comp
        return None

    def payload(self) -> dict[str, Any]:
        world = self.channel.world
        guild = self.channel.guild
        data: dict[str, Any] = {
            "id": str(self.id), "channel_id": str(self.channel.id), "type": self.type,
            "author": self.author.payload(), "content": self.content, "embeds": self.embeds,
            "attachments": [a.payload() for a in self.attachments], "components": self.components,
            "mention_everyone": self.mention_everyone,
            "mention_roles": [str(r) for r in self.mention_roles], "mentions": [],
            "pinned": False, "tts": False,
            "flags": self.flags | (limits.FLAG_HAS_THREAD if self.thread is not None else 0),
            "timestamp": iso(self.timestamp),
            "edited_timestamp": iso(self.edited_timestamp) if self.edited_timestamp else None,
        }
        for uid in self.mentions:
            user = world.users.get(uid)
            if user is None:
                continue
            entry = user.payload()
            if guild and (m := guild.members.get(uid)):
                entry["member"] = m.payload(with_user=False)
            data["mentions"].append(entry)
        if guild is not None:
            data["guild_id"] = str(guild.id)
            if (m := guild.members.get(self.author.id)) and not self.webhook_id:
                data["member"] = m.payload(with_user=False)
        if self.nonce is not None:
            data["nonce"] = self.nonce
        if self.thread is not None:
            data["thread"] = self.thread.payload()
        if self.reactions:
            data["reactions"] = [{
                "emoji": {"id": e.split(":")[1], "name": e.split(":")[0]} if ":" in e else {"id": None, "name": e},
                "count": 1, "me": True, "count_details": {"normal": 1, "burst": 0}, "burst_colors": [],
                "me_burst": False, "burst_count": 0} for e in self.reactions]
        if self.webhook_id:
            data["webhook_id"] = str(self.webhook_id)
            data["application_id"] = str(self.webhook_id)
        if self.reply_to is not None:
            data["message_reference"] = {
                "type": 0, "channel_id": str(self.channel.id), "message_id": str(self.reply_to),
            }
            if guild:
                data["message_reference"]["guild_id"] = str(guild.id)
            ref = self.channel.find_message(self.reply_to)
            data["referenced_message"] = ref.payload() if ref and not ref.deleted else None
        if self.interaction is not None:
            ix = self.interaction
            data["interaction_metadata"] = {
                "id": str(ix.id), "type": ix.type, "user": ix.user.payload(),
                "authorizing_integration_owners": {"0": str(guild.id)} if guild else {},
            }
            if ix.command_name:
                data["interaction_metadata"]["name"] = ix.command_name
            if ix.target_message is not None:
                data["interaction_metadata"]["target_message_id"] = str(ix.target_message.id)
        return data

    def __repr__(self) -> str:
        return f"<Message {self.id} by {self.author.name}: {self.content[:40]!r}>"


def iter_components(components: list[dict[str, Any]]):
    """Every component, walking action rows, containers, sections and labels."""
    for comp in components or []:
        yield comp
        yield from iter_components(comp.get("components") or [])
        for key in ("accessory", "component"):
            if isinstance(comp.get(key), dict):
                yield from iter_components([comp[key]])


def _seen_by_everyone(message: Message) -> bool:
    """In the channel for all to see: not deleted, not ephemeral."""
    return not message.deleted and message.visible_to is None


@dataclass(eq=False)
class Channel:
    """A guild text channel (type 0), a public thread (11) or a DM (1)."""

    world: World
    id: int
    name: str
    type: int = 0
    guild: Guild | None = None
    parent: Channel | None = None
    position: int = 0
    topic: str | None = None
    recipient: User | None = None
    overwrites: dict[int, Overwrite] = field(default_factory=dict)
    all_messages: list[Message] = field(default_factory=list)
    threads: list[Channel] = field(default_factory=list)
    # threads only
    owner_id: int | None = None
    starter: Message | None = None  # the message a thread was started from
    archived: bool = False
    locked: bool = False
    auto_archive_duration: int = 1440  # minutes without activity before Discord archives it
    archive_timestamp: float = 0.0  # when archived or unarchived last (or created)
    created_at: float = 0.0
    last_activity: float = 0.0  # the newest message, or the creation

    @property
    def is_thread(self) -> bool:
        return self.type in (10, 11, 12)

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    @property
    def messages(self) -> list[Message]:
        """What everyone sees in the channel now, oldest first (no ephemeral, no deleted)."""
        return [m for m in self.all_messages if _seen_by_everyone(m)]

    @property
    def last_message(self) -> Message | None:
        """The newest of :attr:`messages`, found from the end (every interaction's channel
        payload names it: a scan of the whole history would grow with it)."""
        return next((m for m in reversed(self.all_messages) if _seen_by_everyone(m)), None)

    def find_message(self, message_id: int) -> Message | None:
        for m in self.all_messages:
            if m.id == message_id:
                return m
        return None

    def add_thread(self, name: str, *, owner: Member | User | None = None,
                   auto_archive_duration: int = 1440) -> Channel:
        """A public thread in this channel (THREAD_CREATE); ``owner`` defaults to the guild owner."""
        return self._new_thread(self.world.ids.next(), name, owner, auto_archive_duration)

    def start_thread(self, message: Message, name: str, *, owner: Member | User,
                     auto_archive_duration: int = 1440) -> Channel:
        """A thread started from ``message``: its id is the message's, the message shows it."""
        thread = self._new_thread(message.id, name, owner, auto_archive_duration, starter=message)
        message.thread = thread
        self.world.emit("MESSAGE_UPDATE", message.payload())
        return thread

    def _new_thread(self, thread_id: int, name: str, owner: Member | User | None,
                    auto_archive_duration: int, starter: Message | None = None) -> Channel:
        if self.guild is None or self.is_thread:
            raise ValueError("threads live in guild text channels")
        now = self.world.clock.time()
        thread = Channel(self.world, thread_id, name, type=11, guild=self.guild, parent=self,
                         owner_id=owner.id if owner is not None else self.guild.owner_id,
                         starter=starter, auto_archive_duration=auto_archive_duration,
                         archive_timestamp=now, created_at=now, last_activity=now)
        self.threads.append(thread)
        self.guild.channels[thread.id] = thread
        self.world.channels[thread.id] = thread
        self.world.emit("THREAD_CREATE", {**thread.payload(), "newly_created": True})
        return thread

    def archive(self, *, locked: bool = False) -> None:
        """Archive this thread (as a moderator or the auto-archive would); THREAD_UPDATE."""
        self.set_archived(True, locked=locked)

    def set_archived(self, archived: bool, *, locked: bool | None = None) -> None:
        if not self.is_thread:
            raise ValueError(f"#{self.name} is not a thread")
        self.archived = archived
        if locked is not None:
            self.locked = locked
        self.archive_timestamp = self.world.clock.time()
        if not archived:
            self.last_activity = self.archive_timestamp
        self.world.emit("THREAD_UPDATE", self.payload())

    def archive_if_idle(self) -> None:
        """Discord archives a thread once ``auto_archive_duration`` minutes passed without activity."""
        if self.is_thread and not self.archived and \
                self.world.clock.time() - self.last_activity >= self.auto_archive_duration * 60:
            self.set_archived(True)

    def set_permissions(self, target: Role | Member | User, **perms: bool | None) -> None:
        """Add or change this channel's overwrite for a role or member.

        ``True`` allows, ``False`` denies, ``None`` goes back to neutral. Sends CHANNEL_UPDATE.
        """
        channel = self.parent if self.is_thread else self
        assert channel is not None
        kind = 0 if isinstance(target, Role) else 1
        ow = channel.overwrites.setdefault(target.id, Overwrite(target.id, kind))
        for name, value in perms.items():
            bit = discord.Permissions(**{name: True}).value
            ow.allow &= ~bit
            ow.deny &= ~bit
            if value is True:
                ow.allow |= bit
            elif value is False:
                ow.deny |= bit
        self.world.emit("CHANNEL_UPDATE", channel.payload())

    def set_bot_permissions(self, **perms: bool | None) -> None:
        """Give or take away the bot's permissions here: ``set_bot_permissions(attach_files=False)``."""
        assert self.guild is not None
        self.set_permissions(self.guild.bot_member, **perms)

    def payload(self) -> dict[str, Any]:
        if self.type == 1:
            return {
                "id": str(self.id), "type": 1, "flags": 0, "last_message_id": None,
                "recipients": [self.recipient.payload()] if self.recipient else [],
            }
        assert self.guild is not None
        data: dict[str, Any] = {
            "id": str(self.id), "type": self.type, "guild_id": str(self.guild.id),
            "name": self.name, "position": self.position, "flags": 0, "nsfw": False,
            "rate_limit_per_user": 0, "last_message_id": None,
        }
        last = self.last_message
        if last:
            data["last_message_id"] = str(last.id)
        if self.is_thread:
            assert self.parent is not None
            data.update({
                "parent_id": str(self.parent.id), "owner_id": str(self.owner_id or self.guild.owner_id),
                "message_count": len(self.messages), "member_count": 1,
                "total_message_sent": len(self.messages),
                "thread_metadata": {
                    "archived": self.archived, "auto_archive_duration": self.auto_archive_duration,
                    "locked": self.locked, "archive_timestamp": iso(self.archive_timestamp),
                    "create_timestamp": iso(self.created_at), "invitable": True,
                },
            })
        else:
            data.update({
                "topic": self.topic, "parent_id": None,
                "permission_overwrites": [o.payload() for o in self.overwrites.values()],
            })
        return data

    def __repr__(self) -> str:
        return f"<Channel #{self.name} {self.id}>"


@dataclass(eq=False)
class Guild:
    world: World
    id: int
    name: str
    boost_tier: int = 0
    owner_id: int = 0
    roles: dict[int, Role] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    bot_role: Role | None = None

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    def shard_id(self, shard_count: int) -> int:
        """The shard Discord sends this guild's events to."""
        return (self.id >> 22) % shard_count

    @property
    def owner(self) -> Member:
        return self.members[self.owner_id]

    @property
    def bot_member(self) -> Member:
        return self.members[self.world.bot_user.id]

    @property
    def upload_limit(self) -> int:
        return limits.upload_limit(self.boost_tier)

    @property
    def text_channels(self) -> list[Channel]:
        return [c for c in self.channels.values() if c.type == 0]

    def channel(self, name: str) -> Channel:
        for c in self.channels.values():
            if c.name == name:
                return c
        raise KeyError(f"no channel #{name} in {self.name}")

    def member(self, name: str) -> Member:
        for m in self.members.values():
            if m.name == name:
                return m
        raise KeyError(f"no member {name} in {self.name}")

    def add_text_channel(self, name: str, *, topic: str | None = None) -> Channel:
        chan = Channel(self.world, self.world.ids.next(), name, guild=self,
                       position=len(self.text_channels), topic=topic)
        self.channels[chan.id] = chan
        self.world.channels[chan.id] = chan
        self.world.emit("CHANNEL_CREATE", chan.payload())
        return chan

    def add_role(self, name: str, permissions: int | discord.Permissions = 0, *,
                 mentionable: bool = False, **perms: bool) -> Role:
        """A role; permissions as an int/``discord.Permissions`` and/or keywords (``manage_guild=True``)."""
        value = int(getattr(permissions, "value", permissions)) | permission_bits(**perms)
        role = Role(self.world.ids.next(), self, name, value, position=len(self.roles),
                    mentionable=mentionable)
        self.roles[role.id] = role
        self.world.emit("GUILD_ROLE_CREATE", {"guild_id": str(self.id), "role": role.payload()})
        return role

    def add_member(self, name: str, roles: list[Role] | None = None, *, bot: bool = False,
                   user: User | None = None) -> Member:
        user = user or self.world.add_user(name, bot=bot)
        member = Member(user, self, list(roles or []), joined_at=self.world.clock.time())
        self.members[user.id] = member
        data = member.payload()
        data["guild_id"] = str(self.id)
        self.world.emit("GUILD_MEMBER_ADD", data)
        return member

    def set_boost_tier(self, tier: int) -> None:
        self.boost_tier = tier
        self.world.emit("GUILD_UPDATE", self.payload(full=False))

    def base_permissions(self, member: Member) -> int:
        if member.id == self.owner_id:
            return ALL_PERMISSIONS
        value = self.everyone.permissions
        for role in member.roles:
            value |= role.permissions
        if value & ADMINISTRATOR:
            return ALL_PERMISSIONS
        return value

    def permissions_for(self, member: Member, channel: Channel | None = None) -> int:
        """Discord's algorithm: base role permissions, then @everyone, role and member overwrites."""
        base = self.base_permissions(member)
        if channel is None or base == ALL_PERMISSIONS:
            return base
        target = channel.parent if channel.is_thread and channel.parent else channel
        ows = target.overwrites
        if (ow := ows.get(self.id)) is not None:
            base = (base & ~ow.deny) | ow.allow
        allow = deny = 0
        for role in member.roles:
            if (ow := ows.get(role.id)) is not None:
                allow |= ow.allow
                deny |= ow.deny
        base = (base & ~deny) | allow
        if (ow := ows.get(member.id)) is not None and ow.type == 1:
            base = (base & ~ow.deny) | ow.allow
        if not base & VIEW_CHANNEL:
            return 0
        # Without the right to send here, embeds, files and mentions go too; in a thread that
        # right is Send Messages in Threads (the parent's Send Messages does not count), as
        # Discord's client and discord.py compute it.
        if not base & (SEND_MESSAGES_IN_THREADS if channel.is_thread else SEND_MESSAGES):
            base &= ~IMPLICITLY_NEEDS_SEND
        return base

    def has(self, member: Member, channel: Channel | None = None, **perms: bool) -> bool:
        need = permission_bits(**perms)
        return self.permissions_for(member, channel) & need == need

    def payload(self, *, full: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id), "name": self.name, "icon": None, "splash": None,
            "discovery_splash": None, "banner": None, "description": None,
            "owner_id": str(self.owner_id), "region": "us-west", "afk_channel_id": None,
            "afk_timeout": 300, "verification_level": 0, "default_message_notifications": 0,
            "explicit_content_filter": 0, "features": [], "mfa_level": 0,
            "system_channel_id": None, "system_channel_flags": 0, "rules_channel_id": None,
            "vanity_url_code": None, "premium_tier": self.boost_tier,
            "premium_subscription_count": [0, 2, 7, 14][self.boost_tier],
            "preferred_locale": "en-US", "public_updates_channel_id": None, "nsfw_level": 0,
            "premium_progress_bar_enabled": False, "emojis": [], "stickers": [],
            "roles": [r.payload() for r in self.roles.values()],
        }
        if full:
            data.update({
                "joined_at": iso(self.bot_member.joined_at), "large": False,
                "unavailable": False, "member_count": len(self.members),
                "voice_states": [], "presences": [], "stage_instances": [],
                "guild_scheduled_events": [], "soundboard_sounds": [],
                "members": [m.payload() for m in self.members.values()],
                "channels": [c.payload() for c in self.channels.values() if not c.is_thread],
                "threads": [c.payload() for c in self.channels.values() if c.is_thread],
            })
        return data

    def __repr__(self) -> str:
        return f"<Guild {self.name} {self.id}>"


class World:
    """All the state: users, guilds, channels (guild and DM) and the bot's identity."""

    def __init__(self, clock: ManualClock | None = None, *, bot_name: str = "FakeBot") -> None:
        self.clock = clock or ManualClock.realtime()
        self.ids = Snowflakes(self.clock)
        self.users: dict[int, User] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.dm_channels: dict[int, Channel] = {}  # by recipient id
        self.attachments: dict[int, Attachment] = {}
        self.cdn_base = "http://127.0.0.1"
        self.cdn_secret = secrets.token_hex(8)
        self.application_id = self.ids.next()
        self.bot_user = User(self.application_id, bot_name, bot=True)
        self.users[self.bot_user.id] = self.bot_user
        self.emit: Callable[[str, dict[str, Any]], None] = lambda event, data: None
        self._names = itertools.count(1)

    def add_user(self, name: str, *, bot: bool = False) -> User:
        user = User(self.ids.next(), name, bot=bot)
        self.users[user.id] = user
        return user

    def add_guild(self, name: str, *, boost_tier: int = 0, owner_name: str = "owner",
                  shard: tuple[int, int] | None = None) -> Guild:
        """A guild with its owner, the @everyone role (id == guild id) and the bot as a member.

        ``shard=(shard_id, shard_count)`` picks an id that lands on that shard."""
        gid = self.ids.next_on_shard(*shard) if shard else self.ids.next()
        guild = Guild(self, gid, name, boost_tier=boost_tier)
        guild.roles[gid] = Role(gid, guild, "@everyone", EVERYONE_DEFAULT)
        bot_role = Role(self.ids.next(), guild, self.bot_user.name, BOT_DEFAULT, position=1,
                        managed=True, bot_id=self.bot_user.id)
        guild.roles[bot_role.id] = bot_role
        guild.bot_role = bot_role
        owner = self.add_user(owner_name)
        guild.owner_id = owner.id
        now = self.clock.time()
        guild.members[owner.id] = Member(owner, guild, joined_at=now)
        guild.members[self.bot_user.id] = Member(self.bot_user, guild, [bot_role], joined_at=now)
        self.guilds[gid] = guild
        self.emit("GUILD_CREATE", guild.payload())
        return guild

    def dm_channel(self, user: User) -> Channel:
        chan = self.dm_channels.get(user.id)
        if chan is None:
            chan = Channel(self, self.ids.next(), user.name, type=1, recipient=user)
            self.dm_channels[user.id] = chan
            self.channels[chan.id] = chan
        return chan

    def add_attachment(self, filename: str, data: bytes, **kwargs: Any) -> Attachment:
        att = Attachment(self, self.ids.next(), filename, bytes(data), **kwargs)
        self.attachments[att.id] = att
        return att

    def shares_guild_with_bot(self, user: User) -> bool:
        return any(user.id in g.members for g in self.guilds.values())
