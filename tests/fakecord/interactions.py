"""Interactions as a user causes them: the payloads Discord sends, and what became of them.

A test never answers an interaction itself: it starts one (slash command, autocomplete, button,
modal submit) and then reads what the bot did with it through :class:`Interaction`.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import limits
from .world import Attachment, Channel, Member, Message, Role, User

if TYPE_CHECKING:
    from .emulator import FakeDiscord

PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
# Callback (response) types.
CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9

OPTION_SUB_COMMAND, OPTION_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = range(3, 12)


class ScenarioError(AssertionError):
    """The test asked for something a real user could not do (unknown command, bad option...)."""


class WaitTimeout(AssertionError):
    """A bounded wait ran out."""


class InteractionFailed(AssertionError):
    """The user saw "This interaction failed": the bot did not answer within 3 seconds."""


@dataclass(eq=False)
class Interaction:
    """One interaction and everything the bot did with it.

    ``response_type`` is the callback type the bot answered with (4, 5, 6, 7, 8 or 9),
    ``response`` the callback body's ``data``; ``original_message`` the ``@original`` message
    (for 6/7 the message the component is on); ``followups`` the followup messages;
    ``modal`` the modal the bot opened; ``choices`` the autocomplete answer.
    """

    emu: FakeDiscord
    id: int
    type: int
    member: Member | Any  # Member in a guild, User in a DM
    channel: Channel
    data: dict[str, Any]
    created_at: float  # emulator monotonic clock
    command_name: str | None = None
    source_message: Message | None = None  # the message a component is on
    target_message: Message | None = None  # the message a message command was run on
    opened_by: Interaction | None = None  # the interaction whose modal was submitted
    token: str = field(default_factory=lambda: "fakecord." + secrets.token_urlsafe(48))
    response_type: int | None = None
    response: dict[str, Any] | None = None
    original_message: Message | None = None
    followups: list[Message] = field(default_factory=list)
    modal: dict[str, Any] | None = None
    choices: list[dict[str, Any]] | None = None
    failed: bool = False
    acknowledged_after: float | None = None  # seconds from creation to the callback
    _timer: Any = None
    # Set once it is answered or has failed: waiting on it costs nothing per change in the
    # emulator, where a wait_for re-checks on every one (500 of them in a burst add up).
    _settled: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def user(self) -> User:
        return self.member.user if isinstance(self.member, Member) else self.member

    @property
    def guild(self):
        return self.channel.guild

    @property
    def command_type(self) -> int | None:
        """1 slash command, 2 user command, 3 message command; None for other interactions."""
        return self.data.get("type", 1) if self.type in (APPLICATION_COMMAND, AUTOCOMPLETE) else None

    @property
    def message_type(self) -> int:
        """The type of a message answering this: 20 for a slash command, 23 for a context menu."""
        if self.type != APPLICATION_COMMAND:
            return 0
        return 20 if self.command_type == 1 else 23

    @property
    def acknowledged(self) -> bool:
        return self.response_type is not None

    @property
    def deferred(self) -> bool:
        return self.response_type in (DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE)

    @property
    def token_expired(self) -> bool:
        return self.emu.clock.monotonic() - self.created_at > limits.TOKEN_LIFETIME

    @property
    def messages(self) -> list[Message]:
        """Every message this interaction produced that still exists (original first)."""
        out = [self.original_message] if self.original_message else []
        out += self.followups
        seen: set[int] = set()
        result = []
        for m in out:
            if m is not None and not m.deleted and m.id not in seen:
                seen.add(m.id)
                result.append(m)
        return result

    @property
    def ephemeral_messages(self) -> list[Message]:
        """What only the invoker saw."""
        return [m for m in self.messages if m.ephemeral]

    @property
    def public_messages(self) -> list[Message]:
        return [m for m in self.messages if not m.ephemeral]

    async def wait_acknowledged(self, timeout: float = limits.ACK_DEADLINE + 2) -> Interaction:  # noqa: ASYNC109 (a bounded-wait API, as the spec asks)
        """Wait until the bot answered; raise :class:`InteractionFailed` if the 3 s passed."""
        try:
            async with asyncio.timeout(timeout):
                await self._settled.wait()
        except TimeoutError:
            raise WaitTimeout(f"timed out after {timeout}s waiting for interaction "
                              f"{self.describe()} to be acknowledged") from None
        if self.failed:
            raise InteractionFailed(f"This interaction failed: {self.describe()} was not acknowledged within 3 s")
        return self

    async def wait_for(self, predicate, timeout: float = 5.0, what: str | None = None) -> None:  # noqa: ASYNC109 (a bounded-wait API, as the spec asks)
        """Wait (bounded) for a condition on this interaction, failing early if it failed."""
        def check() -> bool:
            if self.failed:
                raise InteractionFailed(f"This interaction failed: {self.describe()}")
            return bool(predicate(self))
        await self.emu.wait_for(check, timeout=timeout, what=what or f"condition on {self.describe()}")

    async def wait_response_message(self, timeout: float = 5.0) -> Message:  # noqa: ASYNC109 (a bounded-wait API, as the spec asks)
        """Wait until the original response shows a real message (not the "thinking" state)."""
        await self.wait_for(lambda ix: ix.original_message is not None and not ix.original_message.loading,
                            timeout=timeout, what=f"a response message for {self.describe()}")
        assert self.original_message is not None
        return self.original_message

    def describe(self) -> str:
        kind = {2: "/", 3: "component ", 4: "autocomplete /", 5: "modal "}.get(self.type, "")
        if self.command_type in (2, 3):
            kind = "Apps > "
        name = self.command_name or self.data.get("custom_id") or self.id
        return f"{kind}{name} by {self.user.name}"

    def __repr__(self) -> str:
        return f"<Interaction {self.describe()} response_type={self.response_type} failed={self.failed}>"


def find_command(emu: FakeDiscord, channel: Channel, path: str) -> tuple[dict, list[str], dict]:
    """The synced command for ``"video generate"``: (command, [names], leaf option schema)."""
    parts = path.strip().lstrip("/").split()
    if not parts:
        raise ScenarioError("empty command name")
    cmd = None
    if channel.guild is not None:
        cmd = emu.guild_commands.get(channel.guild.id, {}).get((1, parts[0]))
    cmd = cmd or emu.global_commands.get((1, parts[0]))
    if cmd is None:
        synced = sorted({n for (_, n) in emu.global_commands} | {
            n for cmds in emu.guild_commands.values() for (_, n) in cmds})
        raise ScenarioError(f"/{parts[0]} was never synced (synced: {synced or 'nothing'})")
    node = cmd
    for part in parts[1:]:
        sub = next((o for o in node.get("options") or [] if o.get("name") == part
                    and o.get("type") in (OPTION_SUB_COMMAND, OPTION_GROUP)), None)
        if sub is None:
            raise ScenarioError(f"/{' '.join(parts)}: no subcommand {part!r} in the synced schema")
        node = sub
    if any(o.get("type") in (OPTION_SUB_COMMAND, OPTION_GROUP) for o in node.get("options") or []):
        raise ScenarioError(f"/{' '.join(parts)} is a group: name a subcommand")
    return cmd, parts, node


def find_context_menu(emu: FakeDiscord, channel: Channel, name: str, ctype: int) -> dict:
    """The synced user (2) or message (3) command called ``name`` (the guild's, else global)."""
    cmd = None
    if channel.guild is not None:
        cmd = emu.guild_commands.get(channel.guild.id, {}).get((ctype, name))
    cmd = cmd or emu.global_commands.get((ctype, name))
    if cmd is None:
        synced = sorted({n for (t, n) in emu.global_commands if t == ctype} | {
            n for cmds in emu.guild_commands.values() for (t, n) in cmds if t == ctype})
        kind = "message" if ctype == 3 else "user"
        raise ScenarioError(f"no {kind} command {name!r} was synced (synced: {synced or 'none'})")
    return cmd


def check_can_use(emu: FakeDiscord, cmd: dict, member: Member | User, channel: Channel) -> None:
    """The Discord client hides commands a member may not use; a test asking for one is wrong."""
    if channel.guild is None:
        contexts = cmd.get("contexts")
        if contexts is not None and 1 not in contexts:
            raise ScenarioError(f"/{cmd['name']} is not available in DMs")
        return
    if not isinstance(member, Member):
        raise ScenarioError(f"{member!r} is not a member of {channel.guild.name}")
    if cmd.get("contexts") is not None and 0 not in cmd["contexts"]:
        raise ScenarioError(f"/{cmd['name']} is not available in servers")
    perms = cmd.get("default_member_permissions")
    if perms is not None:
        need = int(perms)
        have = channel.guild.permissions_for(member, channel)
        if need == 0 or have & need != need:
            raise ScenarioError(f"{member.name} cannot see /{cmd['name']}: it needs permissions {need}")


def build_options(emu: FakeDiscord, schema: dict, given: dict[str, Any], channel: Channel,
                  resolved: dict[str, dict], *, focused: str | None = None) -> list[dict[str, Any]]:
    """Check values against the synced option schema and render them as Discord sends them."""
    known = {o["name"]: o for o in schema.get("options") or []}
    where = schema.get("name", "?")
    for name in given:
        if name not in known:
            raise ScenarioError(f"/{where} has no option {name!r} (synced options: {sorted(known)})")
    if focused is None:
        for o in known.values():
            if o.get("required") and o["name"] not in given:
                raise ScenarioError(f"/{where}: required option {o['name']!r} missing")
    elif focused not in known:
        raise ScenarioError(f"/{where} has no option {focused!r} to autocomplete")
    elif not known[focused].get("autocomplete"):
        raise ScenarioError(f"/{where} option {focused!r} has no autocomplete")
    out = []
    for o in known.values():
        name = o["name"]
        if name not in given:
            continue
        if name == focused:
            out.append({"name": name, "type": o["type"], "value": given[name], "focused": True})
            continue
        value = _option_value(emu, o, given[name], channel, resolved, partial=focused is not None)
        out.append({"name": name, "type": o["type"], "value": value})
    return out


def _choice_value(o: dict, value: Any) -> Any:
    choices = o.get("choices")
    if not choices:
        return value
    for c in choices:
        if c["value"] == value:
            return value
    for c in choices:
        if c["name"] == value:
            return c["value"]
    raise ScenarioError(f"option {o['name']!r}: {value!r} is not one of the choices "
                        f"{[c['name'] for c in choices]}")


def _option_value(emu: FakeDiscord, o: dict, value: Any, channel: Channel,
                  resolved: dict[str, dict], *, partial: bool) -> Any:
    t, name = o["type"], o["name"]
    bad = ScenarioError(f"option {name!r}: {value!r} is not a valid value for option type {t}")
    guild = channel.guild
    if t == STRING:
        if not isinstance(value, str):
            raise bad
        if not partial and not o.get("autocomplete"):
            value = _choice_value(o, value)
        if len(value) < o.get("min_length", 0) or len(value) > o.get("max_length", 6000):
            raise ScenarioError(f"option {name!r}: length {len(value)} outside "
                                f"{o.get('min_length', 0)}..{o.get('max_length', 6000)}")
        return value
    if t in (INTEGER, NUMBER):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                t == INTEGER and not isinstance(value, int)):
            raise bad
        value = _choice_value(o, value)
        lo = o.get("min_value", -limits.INTEGER_MAX)
        hi = o.get("max_value", limits.INTEGER_MAX)
        if not lo <= value <= hi:
            raise ScenarioError(f"option {name!r}: {value} outside {lo}..{hi}")
        return value
    if t == BOOLEAN:
        if not isinstance(value, bool):
            raise bad
        return value
    if t == ATTACHMENT:
        if not isinstance(value, Attachment):
            raise ScenarioError(f"option {name!r}: pass emu.attachment(...), not {type(value).__name__}")
        value.channel_id = channel.id
        value.ephemeral = True
        resolved.setdefault("attachments", {})[str(value.id)] = value.payload()
        return str(value.id)
    if t in (USER, MENTIONABLE) and isinstance(value, (Member, User)):
        user = value.user if isinstance(value, Member) else value
        resolved.setdefault("users", {})[str(user.id)] = user.payload()
        member = guild.members.get(user.id) if guild else None
        if member is not None:
            data = member.payload(with_user=False)
            data["permissions"] = str(guild.permissions_for(member, channel))
            resolved.setdefault("members", {})[str(user.id)] = data
        return str(user.id)
    if t in (ROLE, MENTIONABLE) and isinstance(value, Role):
        resolved.setdefault("roles", {})[str(value.id)] = value.payload()
        return str(value.id)
    if t == CHANNEL and isinstance(value, Channel):
        types = o.get("channel_types")
        if types and value.type not in types:
            raise ScenarioError(f"option {name!r}: channel type {value.type} not in {types}")
        data = {k: v for k, v in value.payload().items() if k in (
            "id", "name", "type", "parent_id", "thread_metadata", "guild_id")}
        if guild is not None:
            member = guild.bot_member
            data["permissions"] = str(guild.permissions_for(member, value))
        resolved.setdefault("channels", {})[str(value.id)] = data
        return str(value.id)
    raise bad


def context_payload(emu: FakeDiscord, ix: Interaction) -> dict[str, Any]:
    """The parts of an interaction payload that describe who, where and with what rights."""
    world = emu.world
    channel = ix.channel
    guild = channel.guild
    chan = channel.payload()
    data: dict[str, Any] = {
        "id": str(ix.id), "application_id": str(world.application_id), "type": ix.type,
        "token": ix.token, "version": 1, "channel_id": str(channel.id), "locale": "en-US",
        "entitlements": [], "entitlement_sku_ids": [],
    }
    if guild is not None:
        member = ix.member
        perms = guild.permissions_for(member, channel)
        chan["permissions"] = str(perms)
        member_data = member.payload()
        member_data["permissions"] = str(perms)
        data.update({
            "guild_id": str(guild.id), "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
            "guild_locale": "en-US", "member": member_data,
            "app_permissions": str(guild.permissions_for(guild.bot_member, channel)),
            "authorizing_integration_owners": {"0": str(guild.id)}, "context": 0,
            "attachment_size_limit": guild.upload_limit,
        })
    else:
        data.update({
            "user": ix.user.payload(), "context": 1,
            "authorizing_integration_owners": {"1": str(ix.user.id)},
            "app_permissions": str(world_dm_permissions()),
            "attachment_size_limit": limits.upload_limit(0),
        })
    data["channel"] = chan
    return data


def world_dm_permissions() -> int:
    import discord

    return discord.Permissions(
        view_channel=True, send_messages=True, embed_links=True, attach_files=True,
        read_message_history=True, add_reactions=True, use_external_emojis=True,
    ).value


def modal_submit_components(modal: dict[str, Any], values: dict[str, Any], channel: Channel,
                            resolved: dict[str, dict]) -> list[dict[str, Any]]:
    """Fill a modal's inputs from ``values`` (keyed by custom_id or label) as the user would.
    A file upload (type 19) takes ``emu.attachment(...)`` files: its ``values`` are their ids,
    and the files themselves go in ``resolved.attachments``, as Discord sends them."""
    used: set[str] = set()

    def fill(comp: dict[str, Any], label: str | None) -> dict[str, Any]:
        cid = comp.get("custom_id")
        key = cid if cid in values else (label if label in values else comp.get("label"))
        ctype = comp.get("type")
        if ctype == 4:  # text input
            value = values.get(key) if key in values else comp.get("value") or ""
            if key in values:
                used.add(key)
            if comp.get("required", True) and not value:
                raise ScenarioError(f"modal input {label or cid!r} is required")
            lo, hi = comp.get("min_length", 0), comp.get("max_length", limits.TEXT_INPUT_VALUE_MAX)
            if value and not lo <= len(value) <= hi:
                raise ScenarioError(f"modal input {label or cid!r}: length {len(value)} outside {lo}..{hi}")
            return {"type": 4, "id": comp.get("id", 0), "custom_id": cid, "value": value}
        if ctype in (3, 5, 6, 7, 8):
            chosen = values.get(key, [])
            if key in values:
                used.add(key)
            if isinstance(chosen, str):
                chosen = [chosen]
            return {"type": ctype, "id": comp.get("id", 0), "custom_id": cid, "values": list(chosen)}
        if ctype == 19:  # file upload
            files = values.get(key, [])
            if key in values:
                used.add(key)
            if isinstance(files, Attachment):
                files = [files]
            if any(not isinstance(f, Attachment) for f in files):
                raise ScenarioError(f"file upload {label or cid!r}: pass emu.attachment(...) files")
            required = comp.get("required", True)
            lo = comp.get("min_values", 1) if required else 0
            hi = comp.get("max_values", 1)
            if not lo <= len(files) <= hi:
                raise ScenarioError(f"file upload {label or cid!r}: {len(files)} files outside {lo}..{hi}")
            for f in files:
                f.channel_id = channel.id
                f.ephemeral = True
                resolved.setdefault("attachments", {})[str(f.id)] = f.payload()
            return {"type": 19, "id": comp.get("id", 0), "custom_id": cid,
                    "values": [str(f.id) for f in files]}
        return {"type": ctype, "id": comp.get("id", 0)}

    out = []
    for row in modal.get("components") or []:
        if row.get("type") == 1:
            out.append({"type": 1, "id": row.get("id", 0), "components": [
                fill(c, c.get("label")) for c in row.get("components") or []]})
        elif row.get("type") == 18:
            out.append({"type": 18, "id": row.get("id", 0), "component": fill(row["component"], row.get("label"))})
    unknown = set(values) - used
    if unknown:
        raise ScenarioError(f"modal {modal.get('title')!r} has no inputs {sorted(unknown)}")
    return out
