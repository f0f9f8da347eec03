"""The server's mod-log channel: where moderation changes and refused prompts are reported."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

if TYPE_CHECKING:
    from bot.app import VideoBot

log = logging.getLogger(__name__)


async def post_to_mod_log(bot: VideoBot, guild_id: int, text: str) -> None:
    """Post ``text`` to the mod-log channel if the server set one. Best effort: a moderator
    may have taken the bot's rights there away. Nobody is ever pinged."""
    settings = await bot.moderation.guild_settings(guild_id)
    if settings.mod_log_channel_id is None:
        return
    channel = bot.get_partial_messageable(settings.mod_log_channel_id, guild_id=guild_id)
    try:
        await channel.send(text[:2000], allowed_mentions=discord.AllowedMentions.none())
    except discord.HTTPException as error:
        log.warning(
            "guild %d: mod-log post to %d failed (%s)", guild_id, settings.mod_log_channel_id, error
        )
