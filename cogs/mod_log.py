"""Each server's mod-log channel: the lines the bot writes there for its moderators."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord

from bot.db.audit import AuditEntry
from bot.tasks import BackgroundTasks
from cogs.shared import NO_MENTIONS, clip
from cogs.videoadmin.render import audit_line

if TYPE_CHECKING:
    from bot.app import VideoBot

log = logging.getLogger(__name__)


class ModLog:
    """Each server's mod-log, posted to in the background and in the order its lines were
    written: nobody's answer waits for the mod-log channel's rate limit, and two changes
    made a moment apart read in the order they were made. Best effort: a moderator may
    have taken the bot's rights there away, and lines still queued at shutdown are
    dropped. Nobody is ever pinged."""

    def __init__(self, bot: VideoBot) -> None:
        self._bot = bot
        self._tasks = BackgroundTasks("mod-log")
        self._last: dict[int, asyncio.Task[None]] = {}  # per server, its newest line

    def post(self, guild_id: int, text: str) -> None:
        """Queue ``text`` for the server's mod-log channel, if it has one."""
        if self._tasks.closed:
            log.info("guild %d: mod-log line dropped, the bot is stopping", guild_id)
            return
        before = self._last.get(guild_id)
        task = self._tasks.spawn(self._post_after(before, guild_id, text), name=f"guild {guild_id}")
        self._last[guild_id] = task
        task.add_done_callback(lambda done: self._forget(guild_id, done))

    async def close(self) -> None:
        await self._tasks.close()

    def _forget(self, guild_id: int, task: asyncio.Task[None]) -> None:
        if self._last.get(guild_id) is task:
            del self._last[guild_id]

    async def _post_after(
        self, before: asyncio.Task[None] | None, guild_id: int, text: str
    ) -> None:
        if before is not None:
            await asyncio.wait([before])  # its failure is logged as its own
        settings = await self._bot.services.servers.get(guild_id)
        if settings.mod_log_channel_id is None:
            return
        channel = self._bot.get_partial_messageable(settings.mod_log_channel_id, guild_id=guild_id)
        try:
            await channel.send(clip(text, 2000), allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as error:
            log.warning(
                "guild %d: mod-log post to %d failed (%s)",
                guild_id,
                settings.mod_log_channel_id,
                error,
            )

    def record(self, entry: AuditEntry) -> None:
        """Queue the line of a change the audit log recorded (`bot.moderation.audit`)."""
        self.post(entry.guild_id, audit_line(entry, self._bot.settings.currency))
