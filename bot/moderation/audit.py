"""What the audit log records: one entry per moderation change, written in the change's
own transaction, with raw values only (ids, Unix times, JSON); the moderators' view
(``cogs.videoadmin.render``) turns them into sentences and mentions.

====================  ===============  ==============  ================================
action                target           subject         old / new value
====================  ===============  ==============  ================================
limit.set / .clear    server, role:ID  the limit name  the limit as moderators write it
                      or user:ID
settings.mod_role     server                           a role id
settings.mod_log      server                           a channel id
settings.timezone     server                           an IANA zone name
settings.reset_hour   server                           an hour, 0-23
settings.refunds      server                           "1" on, "0" off
settings.budget       server                           an amount
settings.results_in   server                           "channel" or "thread"
settings.gallery      server                           a channel id
settings.confirm      server                           an amount (jobs above it are confirmed)
settings.review_*     server                           channel: a channel id; cost: an
                                                       amount; videos: "1"/"0"; role: a role id
channel.allow / ...   channel:ID
member.block          user:ID                          {"reason", "expires_at"}
member.unblock        user:ID                          {"reason", "expires_at"} / none
filter.add / .remove  pattern:ID       word or regex   the pattern
quota.grant           user:ID          the window      {"generations", "seconds", "cost"}
quota.reset           user:ID          day/week/month  {window: usage before} / "0"
job.cancel            user:ID (owner)  the job id      the job's state before / after
job.delete            user:ID (owner)  the job id      {"outcome", "prompt"} / none
asset.add / .remove   server           the asset name  {"kind", "filename", "channel_id",
                                                       "message_id"} or {"kind", "asset_id"}
review.approve        user:ID (owner)  the job id      none / none
review.deny           user:ID (owner)  the job id      none / the moderator's reason
challenge.start       channel:ID       challenge id    {"theme", "ends_at", ...the terms}
challenge.end         channel:ID       challenge id    {"winners": [[place, user id]...]}
challenge.cancel      channel:ID       challenge id    the theme
====================  ===============  ==============  ================================
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

from bot.db.audit import AuditEntry, AuditRepository
from bot.db.database import Connection
from bot.moderation.requester import Moderators, Requester, guild_of


class AuditAction(enum.StrEnum):
    LIMIT_SET = "limit.set"
    LIMIT_CLEAR = "limit.clear"
    MOD_ROLE = "settings.mod_role"
    MOD_LOG = "settings.mod_log"
    TIMEZONE = "settings.timezone"
    RESET_HOUR = "settings.reset_hour"
    REFUNDS = "settings.refunds"
    BUDGET = "settings.budget"
    MODERATORS_EXEMPT = "settings.moderators_exempt"
    RESULTS_IN = "settings.results_in"
    GALLERY = "settings.gallery"
    CONFIRM_ABOVE = "settings.confirm"
    REVIEW_CHANNEL = "settings.review_channel"
    REVIEW_COST = "settings.review_cost"
    REVIEW_VIDEOS = "settings.review_videos"
    REVIEW_ROLE = "settings.review_role"
    CHANNEL_ALLOW = "channel.allow"
    CHANNEL_DISALLOW = "channel.disallow"
    BLOCK = "member.block"
    UNBLOCK = "member.unblock"
    FILTER_ADD = "filter.add"
    FILTER_REMOVE = "filter.remove"
    QUOTA_GRANT = "quota.grant"
    QUOTA_RESET = "quota.reset"
    JOB_CANCEL = "job.cancel"
    JOB_DELETE = "job.delete"
    ASSET_ADD = "asset.add"
    ASSET_REMOVE = "asset.remove"
    REVIEW_APPROVE = "review.approve"
    REVIEW_DENY = "review.deny"
    CHALLENGE_START = "challenge.start"
    CHALLENGE_END = "challenge.end"
    CHALLENGE_CANCEL = "challenge.cancel"
    IN_FLIGHT_CAP = "settings.max_in_flight"
    QUEUE_MOVE = "queue.move"
    QUEUE_DROP = "queue.drop"
    STORYBOARD_FILM = "storyboard.film"  # a moderator pressed Film it on someone's storyboard


def user_target(user_id: int) -> str:
    return f"user:{user_id}"


class AuditLog:
    """``on_change`` hears of the server of every change, once it committed (the admission's
    cache of each server's configuration drops it then)."""

    def __init__(
        self,
        entries: AuditRepository,
        moderators: Moderators,
        on_change: Callable[[int], None] = lambda guild_id: None,
    ) -> None:
        self.entries = entries
        self.moderators = moderators
        self.on_change = on_change

    async def record(
        self,
        conn: Connection,
        *,
        guild_id: int,
        actor_id: int,
        action: AuditAction,
        target: str,
        at: float,
        subject: str | None = None,
        old: Any = None,
        new: Any = None,
    ) -> AuditEntry:
        """Write one entry inside the caller's transaction (so it exists iff the change does)."""
        conn.after_commit(lambda: self.on_change(guild_id))
        return await self.entries.add(
            guild_id=guild_id,
            actor_id=actor_id,
            action=action.value,
            target=target,
            subject=subject,
            old_value=None if old is None else str(old),
            new_value=None if new is None else str(new),
            at=at,
            conn=conn,
        )

    async def listed(
        self,
        actor: Requester,
        *,
        limit: int = 25,
        offset: int = 0,
        target: str | None = None,
        actor_id: int | None = None,
    ) -> list[AuditEntry]:
        """Newest first; moderators only."""
        await self.moderators.require(actor)
        return await self.entries.listed(
            guild_of(actor), limit=limit, offset=offset, target=target, actor_id=actor_id
        )
