"""The prompt filter: words, phrases and patterns a server's moderators refuse in prompts.

Patterns are matched with RE2 (``google-re2``), whose matching time is linear in the
prompt's length whatever the pattern, so a moderator's regex can never stall the bot; RE2
refuses what it can't do in linear time (backreferences, lookarounds) when the pattern is
added. Words match whole words in any case, after folding look-alike characters (NFKC).
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Protocol

import re2

from bot.clock import Clock
from bot.db.audit import AuditEntry
from bot.db.database import Database
from bot.db.filters import BlockedPattern, BlockedPromptEvent, DuplicatePattern, FilterRepository
from bot.errors import InvalidInput
from bot.moderation.audit import AuditAction, AuditLog
from bot.moderation.requester import Moderators, Requester, guild_of

PROMPT_EXCERPT_CHARS = 500
MAX_PATTERN_CHARS = 200
MAX_PATTERNS_PER_GUILD = 200
PATTERN_KINDS = ("word", "regex")
# Letters, digits and underscore in any script: what a "whole word" is bounded by.
_WORD_EDGE_BEFORE = r"(?:^|[^\pL\pN_])"
_WORD_EDGE_AFTER = r"(?:$|[^\pL\pN_])"


class Matcher(Protocol):
    def search(self, text: str) -> object | None: ...


class PatternError(InvalidInput):
    """A blocked pattern that cannot be used (too long, or not valid for RE2)."""


def _options() -> re2.Options:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # a bad pattern is the moderator's to fix, not a log line
    return options


def compile_blocked_pattern(kind: str, pattern: str) -> Matcher:
    """Compile a word or regex for prompt matching; raise `PatternError` with the reason."""
    pattern = pattern.strip()
    if kind not in PATTERN_KINDS:
        raise PatternError(f"The kind must be one of {', '.join(PATTERN_KINDS)}.")
    if not pattern:
        raise PatternError("The pattern is empty.")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternError(f"Patterns may be at most {MAX_PATTERN_CHARS} characters long.")
    if kind == "word":
        words = r"\s+".join(re2.escape(w) for w in _normalise(pattern).split())
        matcher: Matcher = re2.compile(f"{_WORD_EDGE_BEFORE}{words}{_WORD_EDGE_AFTER}", _options())
        return matcher
    try:
        matcher = re2.compile(pattern, _options())
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise PatternError(
            f"That regex can't be used: {reason}. Backreferences and lookarounds are not "
            "supported; everything else that regular expressions usually offer is."
        ) from exc
    return matcher


@functools.lru_cache(maxsize=4096)
def _compiled(kind: str, pattern: str) -> Matcher | None:
    try:
        return compile_blocked_pattern(kind, pattern)
    except PatternError:
        return None  # accepted by an older rule set; listed, but never matched


def _normalise(text: str) -> str:
    """Fold look-alike characters (full-width letters, ligatures) before matching."""
    return unicodedata.normalize("NFKC", text)


def find_blocked_pattern(
    patterns: list[BlockedPattern], prompt: str
) -> BlockedPattern | None:
    text = _normalise(prompt)
    for pattern in patterns:
        compiled = _compiled(pattern.kind, pattern.pattern)
        if compiled is not None and compiled.search(text):
            return pattern
    return None


class PromptFilter:
    def __init__(
        self,
        db: Database,
        filters: FilterRepository,
        moderators: Moderators,
        audit: AuditLog,
        clock: Clock,
        *,
        on_refused: Callable[[BlockedPromptEvent], Awaitable[None]] | None = None,
    ) -> None:
        self.db = db
        self.filters = filters
        self.moderators = moderators
        self.audit = audit
        self.clock = clock
        self.on_refused = on_refused

    async def add(
        self, actor: Requester, pattern: str, kind: str = "word"
    ) -> tuple[BlockedPattern, AuditEntry]:
        """Add a word/phrase (whole words, any case) or a regex; `PatternError` says why not."""
        await self.moderators.require(actor)
        guild_id = guild_of(actor)
        pattern = pattern.strip()
        compile_blocked_pattern(kind, pattern)
        now = self.clock()
        async with self.db.transaction() as conn:
            if await self.filters.count(guild_id, conn=conn) >= MAX_PATTERNS_PER_GUILD:
                raise PatternError(
                    f"This server already has {MAX_PATTERNS_PER_GUILD} blocked patterns."
                )
            try:
                added = await self.filters.add(
                    guild_id, kind, pattern, by=actor.user_id, at=now, conn=conn
                )
            except DuplicatePattern:
                raise PatternError("That pattern is already blocked.") from None
            entry = await self.audit.record(
                conn,
                guild_id=guild_id,
                actor_id=actor.user_id,
                action=AuditAction.FILTER_ADD,
                subject=kind,
                target=f"pattern:{added.id}",
                new=pattern,
                at=now,
            )
        return added, entry

    async def remove(self, actor: Requester, pattern_id: int) -> AuditEntry:
        await self.moderators.require(actor)
        guild_id = guild_of(actor)
        now = self.clock()
        async with self.db.transaction() as conn:
            found = await self.filters.pattern(guild_id, pattern_id, conn=conn)
            if found is None:
                raise InvalidInput(f"There is no blocked pattern #{pattern_id} here.")
            await self.filters.remove(pattern_id, conn=conn)
            return await self.audit.record(
                conn,
                guild_id=guild_id,
                actor_id=actor.user_id,
                action=AuditAction.FILTER_REMOVE,
                subject=found.kind,
                target=f"pattern:{pattern_id}",
                old=found.pattern,
                at=now,
            )

    async def listed(self, actor: Requester) -> list[BlockedPattern]:
        await self.moderators.require(actor)
        return await self.filters.patterns(guild_of(actor))

    async def record_refusal(
        self, requester: Requester, pattern: BlockedPattern, prompt: str
    ) -> None:
        """What moderators see of a refused prompt (the admission finds the match): a
        record in the database, then whoever listens (the mod-log channel)."""
        assert requester.guild_id is not None
        event = await self.filters.record_event(
            guild_id=requester.guild_id,
            channel_id=requester.channel_id,
            user_id=requester.user_id,
            pattern=pattern,
            prompt_excerpt=prompt[:PROMPT_EXCERPT_CHARS],
            at=self.clock(),
        )
        if self.on_refused is not None:
            await self.on_refused(event)

    async def refusals(
        self, actor: Requester, *, limit: int = 25, offset: int = 0, user_id: int | None = None
    ) -> list[BlockedPromptEvent]:
        await self.moderators.require(actor)
        return await self.filters.events(
            guild_of(actor), limit=limit, offset=offset, user_id=user_id
        )
