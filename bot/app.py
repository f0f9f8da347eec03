"""The bot object: it owns the HTTP session, the job store and the API client.

Resources open in `setup_hook` and close in `close`, so a test can build a `VideoBot`
with its own settings and clock, run it against the emulator, and tear it down cleanly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.gmi import GMIClient
from bot.job_actions import JobActions
from bot.moderation import Moderation, ModerationError
from bot.quotas import Quotas
from bot.service import Refused, VideoService
from bot.settings import Settings
from bot.store import JobStore
from bot.usage import UsageReports

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.video", "cogs.videoadmin")


def explain_error(interaction: discord.Interaction, error: Exception) -> str:
    """What to tell the member about an error: expected ones in their own words, anything
    else logged with its context and answered with a plain apology."""
    original = getattr(error, "original", error)
    if isinstance(original, Refused):
        return original.message
    if isinstance(original, ModerationError):
        return str(original)
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command works only inside a server."
    if isinstance(error, app_commands.CheckFailure):
        return str(error) or "You can't use this command here."
    if isinstance(error, app_commands.TransformerError):
        return f"I couldn't understand `{error.value}`: {error}"
    where = interaction.command.qualified_name if interaction.command else interaction.data
    log.error("interaction %s failed", where, exc_info=original)
    return "Something went wrong on my side; it has been logged. Please try again."


async def report_error(interaction: discord.Interaction, error: Exception) -> None:
    """Tell the member privately, whether or not the interaction was answered yet."""
    text = explain_error(interaction, error)
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell the member about an error", exc_info=True)


class VideoCommandTree(app_commands.CommandTree):
    """One place for command errors (buttons and forms use `report_error` too)."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await report_error(interaction, error)


class VideoBot(commands.Bot):
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        **options,
    ) -> None:
        # A video bot never joins voice: don't warn operators about voice libraries.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=VideoCommandTree,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            **options,
        )
        self.settings = settings
        self.clock = clock
        self.session: aiohttp.ClientSession
        self.store: JobStore
        self.gmi: GMIClient
        self.quotas: Quotas
        self.moderation: Moderation
        self.usage: UsageReports
        self.service: VideoService

    async def setup_hook(self) -> None:
        settings = self.settings
        self.session = aiohttp.ClientSession()
        self.store = await JobStore.open(settings.database_path, clock=self.clock)
        self.gmi = GMIClient(
            self.session,
            settings.gmi_api_base_url,
            settings.gmi_api_key,
            organization_id=settings.gmi_organization_id,
            timeout=settings.gmi_timeout_seconds,
        )
        self.quotas = Quotas(
            self.store,
            price_table=settings.price_table,
            currency=settings.currency,
            clock=self.clock,
        )
        self.moderation = self.quotas.moderation
        self.usage = UsageReports(self.store, self.quotas)
        self.service = VideoService(
            self.store,
            settings,
            self.quotas,
            JobActions(self.store, self.clock),
            on_due=lambda: self.dispatch("video_job_due"),
        )
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await self.sync_commands()

    async def sync_commands(self) -> None:
        """Guild sync shows commands at once (handy while testing); global takes a while."""
        if self.settings.command_guild_ids:
            for guild_id in self.settings.command_guild_ids:
                guild = discord.Object(guild_id)
                self.tree.copy_global_to(guild=guild)
                await self.tree.sync(guild=guild)
            log.info("commands synced to %d server(s)", len(self.settings.command_guild_ids))
        else:
            await self.tree.sync()
            log.info("commands synced globally (they may take a while to appear)")

    async def on_ready(self) -> None:
        log.info("connected as %s to %d server(s)", self.user, len(self.guilds))

    async def close(self) -> None:
        for extension in list(self.extensions):
            await self.unload_extension(extension)
        await super().close()
        if hasattr(self, "quotas"):
            await self.quotas.flush()
        if hasattr(self, "store"):
            await self.store.close()
        if hasattr(self, "session"):
            await self.session.close()
