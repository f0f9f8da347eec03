"""The Discord side of the shared asset library (`bot.asset_library`): keeping a
moderator's file in a message the bot posts, taking a fresh link to it from Discord each
time it is used, and the choices members pick assets from.

A fresh link is read before the job is accepted, inside Discord's 3 s, with a short
timeout for all the assets of one command together (a message read from Discord takes
tens of milliseconds). A message that is gone makes its asset unusable: the member is
told which one and why, and the moderators hear of it once in the mod-log.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

import discord
from discord import app_commands

from bot.asset_library import CheckedFile, KeptFile, kept_media, with_assets
from bot.db.assets import LibraryAsset
from bot.errors import PermissionDenied, Refused
from bot.media.sniff import HEAD_BYTES
from bot.params import MB, GenerationRequest, MediaInput, quoted
from cogs.shared import NO_MENTIONS, clip, video_bot

from .messages import ASSET_KIND_WORDS, asset_label, message_link
from .poster import missing_post_permissions
from .uploads import upload_media

if TYPE_CHECKING:
    from bot.app import VideoBot

log = logging.getLogger(__name__)

ASSET_CHOICES = 25
# For the messages of every asset of one command together. The member's own files are
# read first (`HEAD_READ_TIMEOUT`), so both together stay within Discord's 3 s.
ASSET_READ_TIMEOUT = 1.0


async def asset_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """The server's assets whose names contain what was typed, with their kinds."""
    if interaction.guild_id is None:
        return []
    assets = await video_bot(interaction).services.library.listed(interaction.guild_id)
    needle = " ".join(str(current).casefold().split())
    return [
        app_commands.Choice(name=clip(asset_label(asset), 100), value=asset.name)
        for asset in assets
        if needle in asset.name_key
    ][:ASSET_CHOICES]


async def with_library_assets(
    interaction: discord.Interaction, request: GenerationRequest, names: Sequence[str | None]
) -> GenerationRequest:
    """``request`` with the library assets called ``names`` among its references, each
    file at the link Discord gives for it now. `NotFound` for a name the library doesn't
    have; `Refused` for an asset whose file is gone or that Discord didn't give in time."""
    wanted = [name for name in names if name]
    if not wanted or interaction.guild_id is None:
        return request
    bot = video_bot(interaction)
    assets = await bot.services.library.named(interaction.guild_id, wanted)
    try:
        async with asyncio.timeout(ASSET_READ_TIMEOUT):
            media = await asyncio.gather(*(_fresh(bot, asset) for asset in assets))
    except TimeoutError:
        raise _try_again("the library's files") from None
    return with_assets(request, list(zip(assets, media, strict=True)))


def _try_again(what: str) -> Refused:
    """Discord failed the bot just now: nothing wrong with what the member asked."""
    return Refused(f"Discord didn't give me {what} just now. Try again in a moment.")


async def _fresh(bot: VideoBot, asset: LibraryAsset) -> MediaInput | None:
    """The asset's file at a link Discord signed just now (None for a provider asset)."""
    if asset.kind == "asset":
        return None
    assert asset.channel_id is not None and asset.message_id is not None
    channel = bot.get_partial_messageable(asset.channel_id, guild_id=asset.guild_id)
    try:
        message = await channel.fetch_message(asset.message_id)
    except (discord.NotFound, discord.Forbidden) as error:
        log.info("asset %d: its message %d can't be read (%s)", asset.id, asset.message_id, error)
        message = None
    except discord.HTTPException as error:
        log.warning("asset %d: Discord failed to give its message (%s)", asset.id, error)
        raise _try_again(f"the file of the asset {quoted(asset.name)}") from None
    files = message.attachments if message is not None else []
    attachment = next((a for a in files if a.id == asset.attachment_id), None)
    if attachment is None:
        await _lost(bot, asset)
    await bot.services.library.found(asset)
    return kept_media(asset, attachment.url)


async def _lost(bot: VideoBot, asset: LibraryAsset) -> NoReturn:
    """Refuse the asset whose file is gone; the moderators hear of it the first time."""
    assert asset.channel_id is not None and asset.message_id is not None
    link = message_link(asset.guild_id, asset.channel_id, asset.message_id)
    if await bot.services.library.lost(asset):
        bot.mod_log.post(
            asset.guild_id,
            f"⚠️ The library asset {quoted(asset.name)} can't be used any more: the message "
            f"I kept its file in ({link}) was deleted, or I can't read <#{asset.channel_id}> "
            "any more. Add the file again with `/videoadmin asset add`, or take the asset "
            "out with `/videoadmin asset remove`.",
        )
    raise Refused(
        f"The asset {quoted(asset.name)} can't be used any more: its file is gone from "
        "Discord. The moderators have been told; pick another asset for now."
    )


# -- keeping a moderator's file ----------------------------------------------------------


def check_can_keep(interaction: discord.Interaction, attachment: discord.Attachment) -> None:
    """The bot can post ``attachment`` again in this channel and read it back later."""
    channel, guild = interaction.channel, interaction.guild
    if guild is None or not isinstance(channel, discord.TextChannel | discord.Thread):
        raise PermissionDenied("Run this in a text channel of the server: I keep the file there.")
    if attachment.size > guild.filesize_limit:
        raise Refused(
            f"{quoted(attachment.filename)} is {attachment.size / MB:.1f} MB, more than the "
            f"{guild.filesize_limit / MB:.0f} MB I may upload in this server, so I can't keep "
            "it. Use a smaller file, or upload it to the provider and add its `asset_id`."
        )
    perms = channel.permissions_for(guild.me)
    missing = missing_post_permissions(perms, is_thread=isinstance(channel, discord.Thread))
    if not perms.read_message_history:
        missing.append("read_message_history")
    if missing:
        raise PermissionDenied(
            "I keep the library's files as my own messages in the channel you add them in, "
            f"and I'm missing {', '.join(missing)} here. Run it in another channel, or give "
            "me those permissions."
        )


async def read_upload(attachment: discord.Attachment) -> tuple[MediaInput, bytes]:
    """The whole file and what its first bytes say it is."""
    try:
        data = await attachment.read()
    except discord.HTTPException as error:
        log.warning("could not read attachment %d from the CDN: %r", attachment.id, error)
        raise _try_again(quoted(attachment.filename)) from None
    return upload_media(attachment, data[:HEAD_BYTES]), data


async def keep_file(
    interaction: discord.Interaction, name: str, checked: CheckedFile, data: bytes
) -> KeptFile:
    """Post the file in the channel as the bot's own message, and say where it is."""
    channel = interaction.channel
    assert isinstance(channel, discord.TextChannel | discord.Thread)
    media = checked.media
    message = await channel.send(
        f"📚 Library asset {quoted(name)} ({ASSET_KIND_WORDS[checked.kind]}), added by "
        f"{interaction.user.mention}. Members use it with `/video generate references`.",
        file=discord.File(io.BytesIO(data), filename=media.filename or "asset"),
        allowed_mentions=NO_MENTIONS,
    )
    return KeptFile(channel.id, message.id, message.attachments[0].id)


async def forget_file(bot: VideoBot, guild_id: int, channel_id: int, message_id: int) -> None:
    """Delete the message an asset's file was kept in (best effort: it may be gone)."""
    channel = bot.get_partial_messageable(channel_id, guild_id=guild_id)
    try:
        await channel.get_partial_message(message_id).delete()
    except discord.HTTPException as error:
        log.info("message %d of a library file was not deleted (%s)", message_id, error)
