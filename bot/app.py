"""The bot object: it owns the HTTP session, the database, the API client and the services.

Resources open in `setup_hook` and close in `close`, so a test can build a `VideoBot` with
its own settings and clock, run it against the emulator, and tear it down cleanly. This is
the composition root: everything is built here once and handed to whoever needs it.

For the operator it also: checks the video provider at start and watches it while it is
down (`bot.provider_health`), logs one start-up block and every step of a shutdown, stops
gracefully (`shutdown`), beats a heartbeat for container health checks (`bot.heartbeat`)
and serves metrics when asked to (`bot.metrics`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any, Protocol, runtime_checkable

import aiohttp
import discord
from discord.ext import commands

from bot import VERSION, heartbeat
from bot.clock import Clock
from bot.db.database import Database
from bot.db.dialect import describe_location
from bot.db.filters import BlockedPromptEvent
from bot.db.jobs import JobCounts
from bot.errors import Unavailable
from bot.gmi import GMIClient
from bot.gmi.budget import MAX_CONCURRENCY
from bot.markup import plural
from bot.metrics import Metrics, MetricsServer, discord_trace, provider_trace
from bot.provider_health import (
    HealthChange,
    ProviderCheck,
    ProviderHealth,
    ProviderWatch,
    check_provider,
    provider_host,
)
from bot.services import JobPolicy, Services, build_services
from bot.settings import Settings
from bot.tasks import BackgroundTasks
from cogs.mod_log import ModLog
from cogs.shared import VideoCommandTree

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.video", "cogs.videoadmin")
RESTARTING_MESSAGE = "The bot is restarting; try again in a minute."
# How long the start-up block waits for the provider's first answer before it is logged.
FIRST_CHECK_WAIT = 10.0
SERVERS_LISTED = 10


# discord.py runs each command, button press and form in a task it names so.
INTERACTION_TASKS = (
    "CommandTree-invoker",
    "discord-ui-view-dispatch-",
    "discord-ui-dynamic-item-",
    "discord-ui-modal-dispatch-",
)


async def _finish_interactions_in_flight(grace: float) -> None:
    """Let the members' commands and clicks being handled end (within ``grace``) before
    anything closes: a job stored just now still gets its status message and has it
    recorded, rather than failing on a closed session or database. Those that arrive
    meanwhile are refused at once (`VideoBot.ensure_taking_jobs`)."""
    deadline = time.monotonic() + grace
    while pending := {
        task
        for task in asyncio.all_tasks()
        if task.get_name().startswith(INTERACTION_TASKS)
        and not task.done()
        and task is not asyncio.current_task()
    }:
        left = deadline - time.monotonic()
        if left <= 0:
            log.warning(
                "stopping with %s still being answered", plural(len(pending), "interaction")
            )
            return
        await asyncio.wait(pending, timeout=left)


@runtime_checkable
class DrainsWork(Protocol):
    """A cog with work in flight (the video cog's job steps) that a graceful stop waits for."""

    async def drain(self, grace: float) -> None:
        """Take no new work; give what is under way ``grace`` seconds to finish."""


class VideoBot(commands.AutoShardedBot):
    """Connects the shards the settings name (all of ``SHARD_COUNT`` unless ``SHARD_IDS``
    picks some) and serves their servers' jobs (`bot.jobs.model.ShardScope`)."""

    def __init__(self, settings: Settings, *, clock: Clock = time.time, **options: Any) -> None:
        # A video bot never joins voice: don't warn operators about voice libraries.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        intents = discord.Intents.none()
        intents.guilds = True
        self.settings = settings
        self.shard_scope = settings.shards
        self.clock = clock
        if settings.shard_ids:  # else every shard of SHARD_COUNT
            options = {"shard_ids": list(settings.shard_ids), **options}
        self.health = ProviderHealth(clock, recheck_cap=settings.provider_recheck_max_seconds)
        self.metrics = Metrics(clock, provider_taking_jobs=lambda: self.health.taking_jobs)
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=VideoCommandTree,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            http_trace=discord_trace(self.metrics),
            shard_count=settings.shard_count,
            **options,
        )
        self.session: aiohttp.ClientSession
        self.provider_session: aiohttp.ClientSession
        self.gmi: GMIClient
        self.services: Services
        self.provider_watch: ProviderWatch
        self.metrics_server: MetricsServer | None = None
        self.set_up = False  # setup_hook has finished
        self.stopping = False
        self.command_sync = "not synced"
        self._background = BackgroundTasks("bot")
        self.mod_log = ModLog(self)
        self._started = False
        self._closing: asyncio.Task[None] | None = None

    async def setup_hook(self) -> None:
        settings = self.settings
        self.provider_watch = ProviderWatch(
            self.health, self._check_provider, on_change=self._provider_changed
        )
        # The provider's calls get connections of their own, as many as the budget lets be
        # in flight (aiohttp's default of 100 would cap them, at 1,000 a second with a
        # 100 ms round trip), never queued behind a media download.
        self.provider_session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=MAX_CONCURRENCY),
            trace_configs=[
                provider_trace(
                    self.metrics,
                    settings.gmi_api_base_url,
                    on_key_refused=self.provider_watch.key_rejected,
                )
            ],
        )
        self.session = aiohttp.ClientSession()  # media: members' uploads, results to post
        db = await Database.open(settings.database)
        self.services = build_services(
            db,
            JobPolicy(
                model=settings.seedance_model,
                prompt_max_chars=settings.prompt_max_chars,
                deadline_seconds=settings.job_deadline_seconds,
                price_table=settings.price_table,
                currency=settings.currency,
                max_jobs_in_flight=settings.max_jobs_in_flight,
            ),
            self.clock,
            on_due=lambda: self.dispatch("video_job_due"),
            on_challenge_due=lambda: self.dispatch("video_challenge_due"),
            on_filming=lambda: self.dispatch("video_storyboard_due"),
            on_prompt_refused=self._prompt_refused,
            offer=lambda: self.health.offer,
            shards=self.shard_scope,
        )
        self.gmi = GMIClient(
            self.provider_session,
            settings.gmi_api_base_url,
            settings.gmi_api_key,
            organization_id=settings.gmi_organization_id,
            timeout=settings.gmi_timeout_seconds,
        )
        self._background.spawn(self.provider_watch.run(), name="provider-watch")
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await self.sync_commands()
        if settings.metrics_port is not None:
            self.metrics_server = MetricsServer(
                self.metrics, JobCounts(db), settings.metrics_host, settings.metrics_port
            )
            log.info("metrics served at %s", await self.metrics_server.start())
        self._background.spawn(self._keep_heartbeat(), name="heartbeat")
        self.set_up = True

    async def _prompt_refused(self, event: BlockedPromptEvent) -> None:
        self.dispatch("video_prompt_refused", event)

    async def sync_commands(self) -> None:
        """Guild sync shows commands at once (handy while testing); global takes a while.
        A server that refuses (the bot isn't in it, or lacks applications.commands) is
        logged and skipped: the bot still runs everywhere else."""
        guild_ids = self.settings.command_guild_ids
        if not guild_ids:
            synced = await self.tree.sync()
            self.command_sync = (
                f"{plural(len(synced), 'command')} synced globally (they may take a while to "
                "appear)"
            )
            return
        commands_synced, refused = 0, []
        for guild_id in guild_ids:
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            try:
                commands_synced = len(await self.tree.sync(guild=guild))
            except discord.HTTPException as error:
                log.error("commands not synced to server %d: %s", guild_id, error)
                refused.append(f"{guild_id} ({error.status} {error.text})")
        self.command_sync = (
            f"{plural(commands_synced, 'command')} synced to {len(guild_ids) - len(refused)} "
            f"of {plural(len(guild_ids), 'server')}"
        )
        if refused:
            self.command_sync += f"; refused by {', '.join(refused)}"

    # -- taking jobs -----------------------------------------------------------------------

    def ensure_taking_jobs(self) -> None:
        """Refuse a new job, before anything is stored, while the bot stops or the provider
        is unavailable (`bot.errors.Unavailable`, told to the member as it is)."""
        if self.stopping:
            raise Unavailable(RESTARTING_MESSAGE)
        self.health.require_available()

    async def _check_provider(self) -> ProviderCheck:
        return await check_provider(self.gmi, self.settings.seedance_model)

    async def _provider_changed(self, change: HealthChange) -> None:
        """Once per change: a line in each server's mod-log (once connected)."""
        self._background.spawn(self._post_to_mod_logs(change.announcement()), name="mod-logs")

    async def _post_to_mod_logs(self, text: str) -> None:
        await self.wait_until_ready()
        for guild in self.guilds:
            self.mod_log.post(guild.id, text)

    # -- start -----------------------------------------------------------------------------

    async def on_ready(self) -> None:
        if self._started:
            log.info("reconnected to Discord as %s (%d server(s))", self.user, len(self.guilds))
            return
        self._started = True
        self._background.spawn(self._log_start(), name="start-report")

    async def _log_start(self) -> None:
        """One block with what an operator checks first."""
        try:
            await asyncio.wait_for(self.provider_watch.first_check.wait(), FIRST_CHECK_WAIT)
        except TimeoutError:
            pass
        settings = self.settings
        names = [f"{g.name} ({g.id})" for g in self.guilds[:SERVERS_LISTED]]
        if len(self.guilds) > SERVERS_LISTED:
            names.append(f"and {len(self.guilds) - SERVERS_LISTED} more")
        metrics = self.metrics_server.url if self.metrics_server else "off (METRICS_PORT)"
        lines = [
            f"Seedance video bot {VERSION} started (pid {os.getpid()})",
            f"  discord:   connected as {self.user} to {plural(len(self.guilds), 'server')}"
            + (f": {', '.join(names)}" if names else ": invite it (see the README)"),
            f"  shards:    {self.shard_scope.describe()} (its servers' jobs are this "
            f"process's; others' after {settings.shard_takeover_seconds:.0f}s unclaimed)"
            if not self.shard_scope.every_shard
            else f"  shards:    {self.shard_scope.describe()}, all in this process",
            f"  model:     {settings.seedance_model}",
            f"  provider:  {provider_host(settings.gmi_api_base_url)}: {self._provider_line()}",
            f"  dry run:   {self._dry_run_line()}",
            f"  database:  {describe_location(settings.database)} "
            f"(schema version {await self.services.db.schema_version()})",
            f"  commands:  {self.command_sync}",
            f"  metrics:   {metrics}",
            f"  stopping:  SIGTERM or SIGINT stops gracefully, giving steps in flight "
            f"{settings.shutdown_grace_seconds:.0f}s",
        ]
        log.info("\n".join(lines))

    def _provider_line(self) -> str:
        check = self.health.last_check
        if check is None:
            return "not answered yet (still checking; the outcome is logged when it comes)"
        if check.ok:
            return "available"
        return f"UNAVAILABLE, {self.health.reason}; new jobs are refused"

    def _dry_run_line(self) -> str:
        check = self.health.last_check
        if check is None or check.found is None:
            return "unknown until the provider answers"
        if check.simulated:
            return "yes: the provider is the GMI simulator (its model detail is tagged 'simulated')"
        return "no: a live provider, generations are billed"

    # -- heartbeat -------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Every shard's gateway connection is open."""
        shards = self.shards.values()
        return bool(shards) and not any(shard.is_closed() for shard in shards)

    async def _keep_heartbeat(self) -> None:
        await self.wait_until_ready()
        while True:
            if self.connected:
                self._beat(heartbeat.STOPPING if self.stopping else heartbeat.RUNNING)
            await asyncio.sleep(heartbeat.INTERVAL)

    def _beat(self, state: str) -> None:
        beat = heartbeat.Beat(
            at=self.clock(),
            pid=os.getpid(),
            state=state,
            provider=self.health.state.value,
            servers=len(self.guilds),
        )
        try:
            path = heartbeat.heartbeat_path(self.settings.database_path, self.settings.shard_ids)
            heartbeat.write(path, beat)
        except OSError as error:
            log.warning("could not write the heartbeat file: %s", error)

    # -- stop ------------------------------------------------------------------------------

    async def shutdown(self, grace: float) -> None:
        """Stop gracefully: new jobs are refused, steps in flight get ``grace`` seconds to
        finish, then everything closes in order (see `close`)."""
        if not self.stopping:
            self.stopping = True
            self._beat(heartbeat.STOPPING)
            log.info(
                "stopping: new jobs are refused; steps in flight get up to %.0fs to finish", grace
            )
            started = time.monotonic()
            await _finish_interactions_in_flight(grace)
            left = max(0.0, grace - (time.monotonic() - started))
            for cog in list(self.cogs.values()):  # before the cogs (and their commands) go
                if isinstance(cog, DrainsWork):
                    await cog.drain(left)
            log.info("job scheduler stopped after %.1fs", time.monotonic() - started)
        await self.close()

    async def close(self) -> None:
        """Idempotent: a second caller waits for the first close to end."""
        if self._closing is None:
            self._closing = asyncio.create_task(self._close_everything())
        await asyncio.shield(self._closing)

    async def _close_everything(self) -> None:
        started = time.monotonic()
        for extension in list(self.extensions):
            await self.unload_extension(extension)
        await self.mod_log.close()  # while Discord can still be reached
        await super().close()
        log.info("disconnected from Discord")
        await self._background.close()
        if self.metrics_server is not None:
            await self.metrics_server.close()
        if hasattr(self, "services"):
            await self.services.close()
        if hasattr(self, "session"):
            await asyncio.gather(self.session.close(), self.provider_session.close())
            log.info("HTTP sessions closed")
        self._beat(heartbeat.STOPPED)
        log.info("stopped in %.1fs", time.monotonic() - started)
