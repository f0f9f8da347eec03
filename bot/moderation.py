"""Who moderates a server, and what moderators control besides numeric limits.

Plain Python, no discord.py: the cog hands in who is asking as a `Requester` made of plain
values, and every moderator operation checks `is_moderator` itself, so a server that opens
`/videoadmin` to everyone still cannot let a non-moderator change anything. Every change
is written to the audit log in the same transaction as the change, and the `AuditEntry`
is returned so the cog can also post it to the mod-log channel.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiosqlite

from bot.store import JobStore

Clock = Callable[[], float]

PROMPT_EXCERPT_CHARS = 500
MAX_PATTERN_CHARS = 200
MAX_PATTERNS_PER_GUILD = 200
MAX_REASON_CHARS = 500
PATTERN_KINDS = ("word", "regex")


class ModerationError(Exception):
    """An operation was refused; the message is meant for the person who asked."""


class PermissionDenied(ModerationError):
    pass


class PatternError(ModerationError):
    """A blocked pattern that cannot be used (too long, invalid or too slow to match)."""


@dataclass(frozen=True)
class Requester:
    """Who is asking, as plain values the cog reads from the interaction (the cogs build it
    with ``cogs.video.cog.requester_of``). ``role_names`` is optional and only makes refusal
    messages name roles in plain text."""

    user_id: int
    guild_id: int | None
    channel_id: int
    parent_channel_id: int | None = None  # the parent channel when in a thread
    role_ids: frozenset[int] | tuple[int, ...] = frozenset()
    can_manage_guild: bool = False
    role_names: tuple[tuple[int, str], ...] = ()  # optional, for messages: ((id, name), ...)


@dataclass(frozen=True)
class GuildSettings:
    guild_id: int
    mod_role_id: int | None = None
    mod_log_channel_id: int | None = None
    timezone: str = "UTC"
    reset_hour: int = 0
    refunds_enabled: bool = True
    monthly_budget: float | None = None  # estimated cost; None means no budget
    allowed_channel_ids: frozenset[int] = frozenset()  # empty: every channel


@dataclass(frozen=True)
class AuditEntry:
    id: int
    guild_id: int
    actor_id: int
    action: str
    target: str
    old_value: str | None
    new_value: str | None
    at: float

    def describe(self) -> str:
        """One line for the mod-log channel or an audit listing."""
        change = ""
        if self.old_value is not None or self.new_value is not None:
            change = f": {self.old_value or '(none)'} → {self.new_value or '(none)'}"
        return (
            f"<t:{int(self.at)}:f> <@{self.actor_id}> {self.action} "
            f"{_render_target(self.target)}{change}"
        )


@dataclass(frozen=True)
class MemberBlock:
    guild_id: int
    user_id: int
    reason: str
    expires_at: float | None
    blocked_by: int
    created_at: float


@dataclass(frozen=True)
class BlockedPattern:
    id: int
    guild_id: int
    kind: str  # "word" (whole word or phrase, any case) or "regex"
    pattern: str
    added_by: int
    created_at: float


@dataclass(frozen=True)
class BlockedPromptEvent:
    id: int
    guild_id: int
    channel_id: int
    user_id: int
    pattern_id: int | None
    pattern: str
    prompt_excerpt: str
    at: float


def is_moderator(
    member_permissions_manage_guild: bool,
    member_role_ids: Iterable[int],
    guild_settings: GuildSettings | None,
) -> bool:
    """Manage Server, or the server's moderator role."""
    if member_permissions_manage_guild:
        return True
    if guild_settings is None or guild_settings.mod_role_id is None:
        return False
    return guild_settings.mod_role_id in set(member_role_ids)


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ModerationError(
            f"`{name}` is not a time zone I know: use an IANA name such as "
            "`Europe/Paris`, `America/New_York` or `UTC`."
        ) from exc
    return name


# -- blocked patterns ------------------------------------------------------------------

# A moderator's regex is matched against every prompt, and Python's `re` cannot be
# interrupted, so only patterns whose matching time is bounded are accepted: no
# backreferences or conditionals, no repeat inside a repeat, no repeated alternation, at
# most one long or unbounded repeat, and short repeats whose combinations stay small.
# A probe against worst-case texts then rejects anything that still matches slowly.
_SHORT_REPEAT = 20
_SHORT_REPEAT_PRODUCT = 1000
_SHORT_REPEAT_PRODUCT_WITH_LONG = 10
_PROBE_CHARS = 5000
_PROBE_SECONDS = 0.05


def compile_blocked_pattern(kind: str, pattern: str) -> re.Pattern[str]:
    """Compile a word or regex for prompt matching; raise `PatternError` with the reason."""
    pattern = pattern.strip()
    if kind not in PATTERN_KINDS:
        raise PatternError(f"The kind must be one of {', '.join(PATTERN_KINDS)}.")
    if not pattern:
        raise PatternError("The pattern is empty.")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternError(f"Patterns may be at most {MAX_PATTERN_CHARS} characters long.")
    if kind == "word":
        words = r"\s+".join(re.escape(w) for w in _normalise(pattern).split())
        return re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE)
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise PatternError(f"That regex does not compile: {exc}.") from exc
    _check_regex_shape(pattern)
    _probe(compiled, pattern)
    return compiled


def _check_regex_shape(pattern: str) -> None:
    from re import _constants as c  # type: ignore[attr-defined]
    from re import _parser  # type: ignore[attr-defined]

    repeats = {c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", c.MAX_REPEAT)}
    long_repeats = 0
    short_product = 1

    def walk(items: Any, inside_repeat: bool) -> None:
        nonlocal long_repeats, short_product
        for op, arg in items:
            if op in (c.GROUPREF, c.GROUPREF_EXISTS):
                raise PatternError("Backreferences and conditionals are not allowed.")
            if op in repeats:
                low, high, body = arg
                if high <= 1:
                    short_product *= 2
                    walk(body, inside_repeat)
                    continue
                if inside_repeat:
                    raise PatternError("A repeat inside a repeat (like `(a+)+`) is not allowed.")
                if any(sub_op is c.BRANCH for sub_op, _ in _flatten(body, c)):
                    raise PatternError(
                        "A repeated alternation (like `(a|b)+`) is not allowed: use a "
                        "character class such as `[ab]+`."
                    )
                if high == c.MAXREPEAT or high > _SHORT_REPEAT:
                    long_repeats += 1
                else:
                    short_product *= high + 1
                walk(body, True)
            elif op is c.SUBPATTERN:
                walk(arg[-1], inside_repeat)
            elif op in (c.ASSERT, c.ASSERT_NOT):
                walk(arg[1], inside_repeat)
            elif op is c.BRANCH:
                for branch in arg[1]:
                    walk(branch, inside_repeat)
            elif hasattr(c, "ATOMIC_GROUP") and op is c.ATOMIC_GROUP:
                walk(arg, inside_repeat)

    walk(_parser.parse(pattern), False)
    if long_repeats > 1:
        raise PatternError(
            "At most one unbounded or long repeat (`*`, `+`, `{n,}`, `{n,m}` with m > "
            f"{_SHORT_REPEAT}) is allowed per pattern."
        )
    cap = _SHORT_REPEAT_PRODUCT_WITH_LONG if long_repeats else _SHORT_REPEAT_PRODUCT
    if short_product > cap:
        raise PatternError("The pattern has too many optional or repeated parts to check quickly.")


def _flatten(items: Any, c: Any) -> list[tuple[Any, Any]]:
    out = []
    for op, arg in items:
        out.append((op, arg))
        if op is c.SUBPATTERN:
            out.extend(_flatten(arg[-1], c))
        elif op is c.BRANCH:
            for branch in arg[1]:
                out.extend(_flatten(branch, c))
    return out


def _probe(compiled: re.Pattern[str], pattern: str) -> None:
    literals = {ch for ch in pattern if ch.isalnum()} or {"a"}
    texts = ["a" * _PROBE_CHARS, " " * _PROBE_CHARS, "ab " * (_PROBE_CHARS // 3)]
    texts += [ch * _PROBE_CHARS for ch in sorted(literals)[:10]]
    started = time.perf_counter()
    for text in texts:
        compiled.search(text)
        if time.perf_counter() - started > _PROBE_SECONDS:
            raise PatternError("That regex is too slow to check on long prompts: simplify it.")


def _normalise(text: str) -> str:
    """Fold look-alike characters (full-width letters, ligatures) before matching."""
    return unicodedata.normalize("NFKC", text)


def find_blocked_pattern(patterns: Sequence[BlockedPattern], prompt: str) -> BlockedPattern | None:
    text = _normalise(prompt)
    for pattern in patterns:
        try:
            compiled = _compiled(pattern.kind, pattern.pattern)
        except PatternError:
            continue  # accepted by an older rule set; listed, but not matched
        if compiled.search(text):
            return pattern
    return None


_COMPILED: dict[tuple[str, str], re.Pattern[str]] = {}


def _compiled(kind: str, pattern: str) -> re.Pattern[str]:
    key = (kind, pattern)
    if key not in _COMPILED:
        if len(_COMPILED) > 4096:
            _COMPILED.clear()
        _COMPILED[key] = compile_blocked_pattern(kind, pattern)
    return _COMPILED[key]


# -- SQL helpers shared with quotas and usage (they run on a caller's connection) -------


async def load_guild_settings(conn: aiosqlite.Connection, guild_id: int) -> GuildSettings:
    async with conn.execute("SELECT * FROM guild_settings WHERE guild_id = ?", (guild_id,)) as cur:
        row = await cur.fetchone()
    async with conn.execute(
        "SELECT channel_id FROM generation_channels WHERE guild_id = ?", (guild_id,)
    ) as cur:
        channels = frozenset(r[0] for r in await cur.fetchall())
    if row is None:
        return GuildSettings(guild_id=guild_id, allowed_channel_ids=channels)
    return GuildSettings(
        guild_id=guild_id,
        mod_role_id=row["mod_role_id"],
        mod_log_channel_id=row["mod_log_channel_id"],
        timezone=row["timezone"],
        reset_hour=row["reset_hour"],
        refunds_enabled=bool(row["refunds_enabled"]),
        monthly_budget=row["monthly_budget"],
        allowed_channel_ids=channels,
    )


async def record_audit(
    conn: aiosqlite.Connection,
    *,
    guild_id: int,
    actor_id: int,
    action: str,
    target: str,
    old_value: Any,
    new_value: Any,
    at: float,
) -> AuditEntry:
    old = None if old_value is None else str(old_value)
    new = None if new_value is None else str(new_value)
    cursor = await conn.execute(
        "INSERT INTO audit_log (guild_id, actor_id, action, target, old_value, new_value, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (guild_id, actor_id, action, target, old, new, at),
    )
    return AuditEntry(cursor.lastrowid, guild_id, actor_id, action, target, old, new, at)


async def active_block(
    conn: aiosqlite.Connection, guild_id: int, user_id: int, now: float
) -> MemberBlock | None:
    async with conn.execute(
        "SELECT * FROM member_blocks WHERE guild_id = ? AND user_id = ? "
        "AND (expires_at IS NULL OR expires_at > ?)",
        (guild_id, user_id, now),
    ) as cur:
        row = await cur.fetchone()
    return _block(row) if row else None


async def load_blocked_patterns(conn: aiosqlite.Connection, guild_id: int) -> list[BlockedPattern]:
    async with conn.execute(
        "SELECT * FROM blocked_patterns WHERE guild_id = ? ORDER BY id", (guild_id,)
    ) as cur:
        rows = await cur.fetchall()
    return [_pattern(r) for r in rows]


def _render_target(target: str) -> str:
    kind, _, ident = target.partition(":")
    return {
        "user": f"<@{ident}>",
        "role": f"role <@&{ident}>",
        "channel": f"<#{ident}>",
        "server": "the server",
        "pattern": f"#{ident}",
    }.get(kind, target)


def _block(row: aiosqlite.Row) -> MemberBlock:
    return MemberBlock(
        guild_id=row["guild_id"],
        user_id=row["user_id"],
        reason=row["reason"],
        expires_at=row["expires_at"],
        blocked_by=row["blocked_by"],
        created_at=row["created_at"],
    )


def _pattern(row: aiosqlite.Row) -> BlockedPattern:
    return BlockedPattern(
        id=row["id"],
        guild_id=row["guild_id"],
        kind=row["kind"],
        pattern=row["pattern"],
        added_by=row["added_by"],
        created_at=row["created_at"],
    )


# Columns of guild_settings a moderator command may change; names never come from input.
_SETTING_COLUMNS = {
    "mod_role_id": "set the moderator role of",
    "mod_log_channel_id": "set the mod-log channel of",
    "timezone": "set the time zone of",
    "reset_hour": "set the reset hour of",
    "refunds_enabled": "set refunds for",
    "monthly_budget": "set the monthly budget of",
}

# How a setting's value reads in the audit log (ids as Discord mentions, which the mod-log
# posts without pinging anyone).
_SETTING_DISPLAY: dict[str, Callable[[Any], Any]] = {
    "mod_role_id": lambda role_id: f"<@&{role_id}>",
    "mod_log_channel_id": lambda channel_id: f"<#{channel_id}>",
    "refunds_enabled": lambda enabled: "on" if enabled else "off",
}


class Moderation:
    """Moderator settings, blocks, blocked prompts and the audit log of one bot."""

    def __init__(self, store: JobStore, clock: Clock | None = None) -> None:
        self.store = store
        self.clock = clock or store.clock

    # -- who may moderate --------------------------------------------------------------

    async def guild_settings(self, guild_id: int) -> GuildSettings:
        return await load_guild_settings(self.store.conn, guild_id)

    async def require_moderator(self, actor: Requester) -> GuildSettings:
        """The guild's settings if ``actor`` moderates it; `PermissionDenied` otherwise."""
        if actor.guild_id is None:
            raise PermissionDenied("Moderator commands work only inside a server.")
        settings = await self.guild_settings(actor.guild_id)
        if not is_moderator(actor.can_manage_guild, actor.role_ids, settings):
            raise PermissionDenied(
                "Only moderators can do this: members with Manage Server"
                + (
                    f" or the <@&{settings.mod_role_id}> role."
                    if settings.mod_role_id
                    else " (an admin can also name a moderator role)."
                )
            )
        return settings

    # -- server settings ---------------------------------------------------------------

    async def set_mod_role(self, actor: Requester, role_id: int | None) -> AuditEntry:
        """Only Manage Server may name the moderator role (a moderator can't pass it on)."""
        await self.require_moderator(actor)
        if not actor.can_manage_guild:
            raise PermissionDenied("Only members with Manage Server can set the moderator role.")
        return await self._set_setting(actor, "mod_role_id", role_id)

    async def set_mod_log_channel(self, actor: Requester, channel_id: int | None) -> AuditEntry:
        return await self._set_setting(actor, "mod_log_channel_id", channel_id)

    async def set_timezone(self, actor: Requester, timezone: str) -> AuditEntry:
        return await self._set_setting(actor, "timezone", check_timezone(timezone.strip()))

    async def set_reset_hour(self, actor: Requester, hour: int) -> AuditEntry:
        if not 0 <= hour <= 23:
            raise ModerationError("The reset hour must be 0 to 23 (local time of the server).")
        return await self._set_setting(actor, "reset_hour", int(hour))

    async def set_refunds(self, actor: Requester, enabled: bool) -> AuditEntry:
        return await self._set_setting(actor, "refunds_enabled", 1 if enabled else 0)

    async def set_monthly_budget(self, actor: Requester, amount: float | None) -> AuditEntry:
        if amount is not None and amount < 0:
            raise ModerationError("The budget can't be negative; use no amount to remove it.")
        return await self._set_setting(actor, "monthly_budget", amount)

    async def _set_setting(self, actor: Requester, column: str, value: Any) -> AuditEntry:
        if column not in _SETTING_COLUMNS:
            raise ValueError(column)
        await self.require_moderator(actor)
        guild_id = actor.guild_id
        assert guild_id is not None
        now = self.clock()
        async with self.store.transaction() as conn:
            old = getattr(await load_guild_settings(conn, guild_id), column)
            await conn.execute(
                "INSERT INTO guild_settings (guild_id, updated_at) VALUES (?, ?) "
                "ON CONFLICT (guild_id) DO NOTHING",
                (guild_id, now),
            )
            await conn.execute(
                f"UPDATE guild_settings SET {column} = ?, updated_at = ? "  # noqa: S608
                "WHERE guild_id = ?",
                (value, now, guild_id),
            )
            shown = _SETTING_DISPLAY.get(column, lambda v: v)
            return await record_audit(
                conn,
                guild_id=guild_id,
                actor_id=actor.user_id,
                action=_SETTING_COLUMNS[column],
                target="server",
                old_value=None if old is None else shown(old),
                new_value=None if value is None else shown(value),
                at=now,
            )

    async def allow_channel(self, actor: Requester, channel_id: int) -> AuditEntry:
        """Add a channel where generation is allowed (with none listed, all are)."""
        return await self._change_channel(actor, channel_id, add=True)

    async def disallow_channel(self, actor: Requester, channel_id: int) -> AuditEntry:
        return await self._change_channel(actor, channel_id, add=False)

    async def _change_channel(self, actor: Requester, channel_id: int, *, add: bool) -> AuditEntry:
        await self.require_moderator(actor)
        guild_id = actor.guild_id
        assert guild_id is not None
        now = self.clock()
        async with self.store.transaction() as conn:
            if add:
                await conn.execute(
                    "INSERT OR IGNORE INTO generation_channels (guild_id, channel_id) "
                    "VALUES (?, ?)",
                    (guild_id, channel_id),
                )
            else:
                cursor = await conn.execute(
                    "DELETE FROM generation_channels WHERE guild_id = ? AND channel_id = ?",
                    (guild_id, channel_id),
                )
                if not cursor.rowcount:
                    raise ModerationError(f"<#{channel_id}> is not in the allowed channels.")
            return await record_audit(
                conn,
                guild_id=guild_id,
                actor_id=actor.user_id,
                action="allowed generation in" if add else "stopped allowing generation in",
                target=f"channel:{channel_id}",
                old_value=None,
                new_value=None,
                at=now,
            )

    # -- member blocks -----------------------------------------------------------------

    async def block_member(
        self, actor: Requester, user_id: int, reason: str, expires_at: float | None = None
    ) -> AuditEntry:
        await self.require_moderator(actor)
        guild_id = actor.guild_id
        assert guild_id is not None
        now = self.clock()
        reason = reason.strip()[:MAX_REASON_CHARS] or "no reason given"
        if expires_at is not None and expires_at <= now:
            raise ModerationError("The block's expiry must be in the future.")
        async with self.store.transaction() as conn:
            old = await active_block(conn, guild_id, user_id, now)
            await conn.execute(
                "INSERT INTO member_blocks (guild_id, user_id, reason, expires_at, blocked_by, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, user_id) DO UPDATE "
                "SET reason = excluded.reason, expires_at = excluded.expires_at, "
                "blocked_by = excluded.blocked_by, created_at = excluded.created_at",
                (guild_id, user_id, reason, expires_at, actor.user_id, now),
            )
            return await record_audit(
                conn,
                guild_id=guild_id,
                actor_id=actor.user_id,
                action="blocked",
                target=f"user:{user_id}",
                old_value=_describe_block(old) if old else None,
                new_value=_describe_block_values(reason, expires_at),
                at=now,
            )

    async def unblock_member(self, actor: Requester, user_id: int) -> AuditEntry:
        await self.require_moderator(actor)
        guild_id = actor.guild_id
        assert guild_id is not None
        now = self.clock()
        async with self.store.transaction() as conn:
            old = await active_block(conn, guild_id, user_id, now)
            if old is None:
                raise ModerationError(f"<@{user_id}> is not blocked.")
            await conn.execute(
                "DELETE FROM member_blocks WHERE guild_id = ? AND user_id = ?",
                (guild_id, user_id),
            )
            return await record_audit(
                conn,
                guild_id=guild_id,
                actor_id=actor.user_id,
                action="unblocked",
                target=f"user:{user_id}",
                old_value=_describe_block(old),
                new_value=None,
                at=now,
            )

    async def list_blocks(self, actor: Requester) -> list[MemberBlock]:
        """Blocks still in force (expired ones are ignored)."""
        await self.require_moderator(actor)
        async with self.store.conn.execute(
            "SELECT * FROM member_blocks WHERE guild_id = ? "
            "AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at",
            (actor.guild_id, self.clock()),
        ) as cur:
            return [_block(r) for r in await cur.fetchall()]

    # -- blocked words and patterns ----------------------------------------------------

    async def add_blocked_pattern(
        self, actor: Requester, pattern: str, kind: str = "word"
    ) -> tuple[BlockedPattern, AuditEntry]:
        """Add a word/phrase (whole words, any case) or a regex; `PatternError` says why not."""
        await self.require_moderator(actor)
        guild_id = actor.guild_id
        assert guild_id is not None
        pattern = pattern.strip()
        compile_blocked_pattern(kind, pattern)
        now = self.clock()
        async with self.store.transaction() as conn:
            async with conn.execute(
                "SELECT COUNT(*) FROM blocked_patterns WHERE guild_id = ?", (guild_id,)
            ) as cur:
                (count,) = await cur.fetchone()
            if count >= MAX_PATTERNS_PER_GUILD:
                raise PatternError(
                    f"This server already has {MAX_PATTERNS_PER_GUILD} blocked patterns."
                )
            try:
                cursor = await conn.execute(
                    "INSERT INTO blocked_patterns (guild_id, kind, pattern, added_by, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (guild_id, kind, pattern, actor.user_id, now),
                )
            except aiosqlite.IntegrityError as exc:
                raise PatternError("That pattern is already blocked.") from exc
            added = BlockedPattern(cursor.lastrowid, guild_id, kind, pattern, actor.user_id, now)
            entry = await record_audit(
                conn,
                guild_id=guild_id,
                actor_id=actor.user_id,
                action=f"blocked the {kind}",
                target=f"pattern:{added.id}",
                old_value=None,
                new_value=pattern,
                at=now,
            )
        return added, entry

    async def remove_blocked_pattern(self, actor: Requester, pattern_id: int) -> AuditEntry:
        await self.require_moderator(actor)
        guild_id = actor.guild_id
        assert guild_id is not None
        now = self.clock()
        async with self.store.transaction() as conn:
            async with conn.execute(
                "SELECT * FROM blocked_patterns WHERE id = ? AND guild_id = ?",
                (pattern_id, guild_id),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                raise ModerationError(f"There is no blocked pattern #{pattern_id} here.")
            await conn.execute("DELETE FROM blocked_patterns WHERE id = ?", (pattern_id,))
            return await record_audit(
                conn,
                guild_id=guild_id,
                actor_id=actor.user_id,
                action=f"unblocked the {row['kind']}",
                target=f"pattern:{pattern_id}",
                old_value=row["pattern"],
                new_value=None,
                at=now,
            )

    async def list_blocked_patterns(self, actor: Requester) -> list[BlockedPattern]:
        await self.require_moderator(actor)
        assert actor.guild_id is not None
        return await load_blocked_patterns(self.store.conn, actor.guild_id)

    async def record_blocked_prompt(
        self, requester: Requester, pattern: BlockedPattern, prompt: str
    ) -> None:
        """What moderators see of a refused prompt (the quota admission finds the match)."""
        async with self.store.transaction() as conn:
            await conn.execute(
                "INSERT INTO blocked_prompt_events (guild_id, channel_id, user_id, "
                "pattern_id, pattern, prompt_excerpt, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    requester.guild_id,
                    requester.channel_id,
                    requester.user_id,
                    pattern.id,
                    pattern.pattern,
                    prompt[:PROMPT_EXCERPT_CHARS],
                    self.clock(),
                ),
            )

    async def list_blocked_prompt_events(
        self, actor: Requester, *, limit: int = 25, offset: int = 0, user_id: int | None = None
    ) -> list[BlockedPromptEvent]:
        await self.require_moderator(actor)
        async with self.store.conn.execute(
            "SELECT * FROM blocked_prompt_events WHERE guild_id = ? "
            "AND (? IS NULL OR user_id = ?) ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            (actor.guild_id, user_id, user_id, limit, offset),
        ) as cur:
            rows = await cur.fetchall()
        return [
            BlockedPromptEvent(
                id=r["id"],
                guild_id=r["guild_id"],
                channel_id=r["channel_id"],
                user_id=r["user_id"],
                pattern_id=r["pattern_id"],
                pattern=r["pattern"],
                prompt_excerpt=r["prompt_excerpt"],
                at=r["created_at"],
            )
            for r in rows
        ]

    # -- audit -------------------------------------------------------------------------

    async def list_audit(
        self,
        actor: Requester,
        *,
        limit: int = 25,
        offset: int = 0,
        target: str | None = None,
        actor_id: int | None = None,
    ) -> list[AuditEntry]:
        """Newest first; ``target`` like ``user:123``, ``role:456``, ``server``, ``job:7``."""
        await self.require_moderator(actor)
        async with self.store.conn.execute(
            "SELECT * FROM audit_log WHERE guild_id = ? AND (? IS NULL OR target = ?) "
            "AND (? IS NULL OR actor_id = ?) ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            (actor.guild_id, target, target, actor_id, actor_id, limit, offset),
        ) as cur:
            rows = await cur.fetchall()
        return [
            AuditEntry(
                id=r["id"],
                guild_id=r["guild_id"],
                actor_id=r["actor_id"],
                action=r["action"],
                target=r["target"],
                old_value=r["old_value"],
                new_value=r["new_value"],
                at=r["created_at"],
            )
            for r in rows
        ]


def _describe_block(block: MemberBlock) -> str:
    return _describe_block_values(block.reason, block.expires_at)


def _describe_block_values(reason: str, expires_at: float | None) -> str:
    until = f"until <t:{int(expires_at)}:f>" if expires_at is not None else "no expiry"
    return f"{reason} ({until})"
