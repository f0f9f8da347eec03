"""The job pipeline as the video cog runs it: the scheduler and its steps, wired to Discord;
the review desk of the jobs held for a moderator's review; and the director that films
storyboards.

Built once when the cog loads, started in `cog_load` and stopped in `cog_unload`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import discord

from bot.gmi.budget import ProviderBudget
from bot.jobs.continuation import FirstFrames
from bot.jobs.delivery import RESULT_URL_LIFETIME, Delivery
from bot.jobs.lifecycle import JobState
from bot.jobs.model import Job
from bot.jobs.polling import PollPlan
from bot.jobs.scheduler import Scheduler
from bot.jobs.steps import JobSteps, StepTiming
from bot.jobs.videos import JobVideos
from bot.storyboards.director import Director
from bot.tasks import BackgroundTasks

from .components import result_view, status_view
from .messages import status_embed, status_pointer
from .poster import DiscordResultChannel
from .reviews import ReviewDesk
from .status_edits import StatusEditor, StatusLook
from .together import DiscordFilmSet, StoryboardDrawer

if TYPE_CHECKING:
    from bot.app import VideoBot

PLACES_EVERY = 1.0  # seconds between two reads of a server's queue for its places


@dataclass
class Pipeline:
    editor: StatusEditor
    poster: DiscordResultChannel
    budget: ProviderBudget
    steps: JobSteps
    scheduler: Scheduler
    desk: ReviewDesk
    refreshing: BackgroundTasks  # refreshes of the places in a server's queue
    director: Director
    storyboards: StoryboardDrawer
    tasks: BackgroundTasks = field(default_factory=lambda: BackgroundTasks("pipeline"))

    def start(self) -> None:
        self.scheduler.start()
        for key, worker in (("review-desk", self.desk), ("storyboard-director", self.director)):
            if self.tasks.running(key) is None:
                self.tasks.spawn(worker.run(), name=key, key=key)

    def wake(self) -> None:
        """A job became due now: a step to run, or a review to post or close."""
        self.scheduler.wake()
        self.desk.wake()

    async def stop(self) -> None:
        await self.tasks.close()
        await self.scheduler.stop()
        await self.budget.close()
        await self.refreshing.close()
        await self.storyboards.close()
        await self.editor.close()


def build_pipeline(bot: VideoBot) -> Pipeline:
    settings, services = bot.settings, bot.services
    jobs = services.jobs

    async def render(job: Job) -> StatusLook:
        pointer = status_pointer(job)
        if pointer is not None:
            return StatusLook(content=pointer)
        place = None
        if job.state is JobState.ACCEPTED and job.status_message_id is not None and not job.held:
            place = await services.turns.place_of(job)
        embed = status_embed(
            job,
            currency=settings.currency,
            now=bot.clock(),
            lineage=await services.lineages.of(job),
            # The next one shows its place too once a cap holds it: it goes next.
            queue_position=place if place and (place > 1 or job.awaits_turn) else None,
        )
        return StatusLook(embed=embed, view=None if job.has_ended else status_view(job.id))

    async def tell_moderators(job: Job) -> None:
        if job.guild_id is not None:
            bot.mod_log.post(
                job.guild_id,
                f"📭 Job #{job.id} of <@{job.user_id}> finished, but I could post it neither "
                f"in <#{job.channel_id}> nor by DM; its quota was given back.",
            )

    told_about_gallery: set[tuple[int, str]] = set()

    async def gallery_refused(job: Job, gallery_id: int, why: str) -> None:
        """Once per gallery and reason while the bot runs: the moderators can fix it."""
        if job.guild_id is None or (gallery_id, why) in told_about_gallery:
            return
        told_about_gallery.add((gallery_id, why))
        bot.mod_log.post(
            job.guild_id,
            f"🖼️ I couldn't copy job #{job.id} to the gallery <#{gallery_id}>: {why}. "
            "Fix it, or change the gallery with `/videoadmin settings results`.",
        )

    async def result_buttons(job: Job) -> discord.ui.View:
        """With Enter challenge while the server has a challenge open (not in its thread:
        a video made there enters by itself)."""
        challenge = await services.challenges.open_in(job.guild_id) if job.succeeded else None
        enters = challenge is not None and job.channel_id != challenge.thread_id
        return result_view(job, challenge_open=enters)

    editor = StatusEditor(bot, jobs, render, bot.clock)
    refreshing = BackgroundTasks("queue-places")
    moved: set[int | None] = set()  # servers whose places changed since they were read

    async def refresh_places(guild_id: int | None) -> None:
        while guild_id in moved:
            moved.discard(guild_id)
            read_at = time.monotonic()
            for place in await jobs.places(guild_id=guild_id):
                editor.request(place)  # an edit only where the place shown changed
            await asyncio.sleep(read_at + PLACES_EVERY - time.monotonic())
        refreshing.release(guild_id)

    def queue_changed(guild_id: int | None) -> None:
        """Places in this server's queue moved: refresh them, never waited for (one read
        of the queue at a time per server, at most one per `PLACES_EVERY`: a burst of
        commands moves it hundreds of times a second; the editor coalesces and paces the
        edits)."""
        moved.add(guild_id)
        if not refreshing.closed and refreshing.running(guild_id) is None:
            refreshing.spawn(refresh_places(guild_id), name=f"places-{guild_id}", key=guild_id)

    services.turns.on_queue_changed = queue_changed
    poster = DiscordResultChannel(
        bot,
        jobs,
        editor=editor,
        view_for_result=result_buttons,
        on_undeliverable=tell_moderators,
        on_gallery_refused=gallery_refused,
        clock=bot.clock,
    )
    # Processes that serve some shards spend one hourly budget, kept in the database.
    shared = None if bot.shard_scope.every_shard else services.provider_budget
    budget = ProviderBudget(settings.gmi_requests_per_hour, bot.clock, shared)
    services.turns.provider_holding = budget.holds_submits
    timing = StepTiming(
        plan=PollPlan(min_interval=settings.poll_min_interval, max_interval=settings.poll_max_interval),
        lease_seconds=settings.job_lease_seconds,
        retry_base=2 * settings.poll_min_interval,  # retries pace themselves like the checks
        reconcile_window=settings.reconcile_window_seconds,
    )
    steps: JobSteps
    storyboards = StoryboardDrawer(bot, editor, timing.retry_delay)
    director = Director(
        boards=services.storyboards,
        jobs=jobs,
        job_service=services.job_service,
        film_set=DiscordFilmSet(bot, storyboards),
        clock=bot.clock,
        shards=bot.shard_scope,
    )
    videos = JobVideos(
        jobs, bot.session, services.ffmpeg, poster, fresh_link=lambda job: steps.fresh_result_link(job)
    )
    delivery = Delivery(
        jobs,
        poster,
        videos,
        bot.clock,
        ffmpeg=services.ffmpeg,
        destinations=services.destinations,
        lineages=services.lineages,
        on_settled=lambda job: director.wake(),
    )
    steps = JobSteps(
        jobs,
        bot.gmi,
        delivery,
        budget=budget,
        turns=services.turns,
        estimator=services.estimator,
        first_frames=FirstFrames(jobs, videos, services.ffmpeg, poster),
        timing=timing,
        clock=bot.clock,
    )

    async def on_start() -> None:
        await services.estimator.load()
        await poster.repair_status_messages(since=bot.clock() - RESULT_URL_LIFETIME)
        await storyboards.repair(since=bot.clock() - RESULT_URL_LIFETIME)
        await services.turns.release()  # slots freed while no process ran

    scheduler = Scheduler(
        jobs,
        steps,
        budget=budget,
        lease_seconds=timing.lease_seconds,
        idle_retry=timing.plan.min_interval,
        clock=bot.clock,
        on_start=on_start,
    )
    return Pipeline(
        editor, poster, budget, steps, scheduler, ReviewDesk(bot), refreshing, director, storyboards
    )
