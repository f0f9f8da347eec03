"""The bot object: it owns the HTTP session, the database, the API client and the services.

Resources open in `setup_hook` and close in `close`, so a test can build a `VideoBot` with
its own settings and clock, run it against the emulator, and tear it down cleanly. This is
the composition root: everything is built here once and handed to whoever needs it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import aiohttp
import discord
from discord.ext import commands

from bot.clock import Clock
from bot.db.database import Database
from bot.db.filters import BlockedPromptEvent
from bot.gmi import GMIClient
from bot.services import JobPolicy, Services, build_services
from bot.settings import Settings
from cogs.shared import VideoCommandTree

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.video", "cogs.videoadmin")


class VideoBot(commands.Bot):
    def __init__(self, settings: Settings, *, clock: Clock = time.time, **options: Any) -> None:
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
        self.gmi: GMIClient
        self.services: Services

    async def setup_hook(self) -> None:
        settings = self.settings
        self.session = aiohttp.ClientSession()
        db = await Database.open(settings.database)
        self.services = build_services(
            db,
            JobPolicy(
                model=settings.seedance_model,
                prompt_max_chars=settings.prompt_max_chars,
                deadline_seconds=settings.job_deadline_seconds,
                price_table=settings.price_table,
                currency=settings.currency,
            ),
            self.clock,
            on_due=lambda: self.dispatch("video_job_due"),
            on_prompt_refused=self._prompt_refused,
        )
        self.gmi = GMIClient(
            self.session,
            settings.gmi_api_base_url,
            settings.gmi_api_key,
            organization_id=settings.gmi_organization_id,
            timeout=settings.gmi_timeout_seconds,
        )
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await self.sync_commands()

    async def _prompt_refused(self, event: BlockedPromptEvent) -> None:
        self.dispatch("video_prompt_refused", event)

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
        if hasattr(self, "services"):
            await self.services.close()
        if hasattr(self, "session"):
            await self.session.close()
