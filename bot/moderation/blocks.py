"""Blocking members from generating, with a reason and an optional expiry."""

from __future__ import annotations

import json

from bot.clock import Clock
from bot.db.audit import AuditEntry
from bot.db.blocks import BlockRepository, MemberBlock
from bot.db.database import Database
from bot.errors import InvalidInput
from bot.moderation.audit import AuditAction, AuditLog, user_target
from bot.moderation.requester import Moderators, Requester, guild_of

MAX_REASON_CHARS = 500


def block_value(block: MemberBlock | None) -> str | None:
    """How a block is recorded in the audit log."""
    if block is None:
        return None
    return json.dumps({"reason": block.reason, "expires_at": block.expires_at})


class MemberBlocks:
    def __init__(
        self,
        db: Database,
        blocks: BlockRepository,
        moderators: Moderators,
        audit: AuditLog,
        clock: Clock,
    ) -> None:
        self.db = db
        self.blocks = blocks
        self.moderators = moderators
        self.audit = audit
        self.clock = clock

    async def block(
        self, actor: Requester, user_id: int, reason: str, expires_at: float | None = None
    ) -> AuditEntry:
        await self.moderators.require(actor)
        guild_id = guild_of(actor)
        now = self.clock()
        reason = reason.strip()[:MAX_REASON_CHARS] or "no reason given"
        if expires_at is not None and expires_at <= now:
            raise InvalidInput("The block's expiry must be in the future.")
        block = MemberBlock(guild_id, user_id, reason, expires_at, actor.user_id, now)
        async with self.db.transaction() as conn:
            old = await self.blocks.active(guild_id, user_id, now, conn=conn)
            await self.blocks.put(block, conn=conn)
            return await self.audit.record(
                conn,
                guild_id=guild_id,
                actor_id=actor.user_id,
                action=AuditAction.BLOCK,
                target=user_target(user_id),
                old=block_value(old),
                new=block_value(block),
                at=now,
            )

    async def unblock(self, actor: Requester, user_id: int) -> AuditEntry:
        await self.moderators.require(actor)
        guild_id = guild_of(actor)
        now = self.clock()
        async with self.db.transaction() as conn:
            old = await self.blocks.active(guild_id, user_id, now, conn=conn)
            if old is None:
                raise InvalidInput(f"<@{user_id}> is not blocked.")
            await self.blocks.remove(guild_id, user_id, conn=conn)
            return await self.audit.record(
                conn,
                guild_id=guild_id,
                actor_id=actor.user_id,
                action=AuditAction.UNBLOCK,
                target=user_target(user_id),
                old=block_value(old),
                at=now,
            )

    async def listed(self, actor: Requester) -> list[MemberBlock]:
        """Blocks still in force (expired ones are ignored)."""
        await self.moderators.require(actor)
        return await self.blocks.active_in_guild(guild_of(actor), self.clock())
