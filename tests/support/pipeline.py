"""The job pipeline without Discord: the scheduler, its steps and delivery against the GMI
simulator, posting into `MemoryChat`, for domain tests (``tests/bot/jobs``).

- `MemoryChat`: the chat side (a `ResultChannel`, `PostedVideos` and `FramePublisher`)
  keeping posts, gallery copies and published frames in lists; it can fail on demand.
- `scheduler_for(store, gmi_client, chat, session)`: a scheduler with fast timings;
  `running_poller(...)`: the same, started, as an async context manager.
- `accept(store, prompt, **request_fields)` / `delivered(store, job_id)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from bot.db.audit import AuditRepository
from bot.db.database import Database
from bot.db.jobs import JobRepository
from bot.db.servers import ServerSettingsRepository
from bot.db.timings import TimingRepository
from bot.gmi import GMIClient
from bot.gmi.budget import ProviderBudget
from bot.jobs.continuation import FirstFrames
from bot.jobs.delivery import Delivery, DeliveryRetry, Outcome, Posted
from bot.jobs.destinations import Destinations, ResultsIn
from bot.jobs.estimates import FinishEstimator
from bot.jobs.lifecycle import JobOutcome, JobState
from bot.jobs.lineage import Lineages
from bot.jobs.model import Job, NewJob
from bot.jobs.polling import PollPlan
from bot.jobs.scheduler import Scheduler
from bot.jobs.steps import JobSteps, StepTiming
from bot.jobs.turns import Turns
from bot.jobs.videos import JobVideos
from bot.media import FFmpeg
from bot.moderation.audit import AuditLog
from bot.moderation.requester import Moderators
from bot.params import GenerationRequest
from tests.support.jobwait import wait_for_job

FAST = StepTiming(
    plan=PollPlan(min_interval=0.01, max_interval=0.05),
    lease_seconds=0.5,
    retry_base=0.01,
    reconcile_window=0.2,
)
MODEL = "seedance-2-0-fast-260128"


class MemoryChat:
    """The chat side of the pipeline, in lists."""

    def __init__(self, limit: int = 10 * 2**20) -> None:
        self.limit = limit
        self.posts: list[tuple[Job, Outcome]] = []
        self.where: list[ResultsIn] = []  # where each post was asked to go
        self.gallery: list[tuple[int, Job, Outcome]] = []  # (gallery id, job, outcome)
        self.frames: dict[str, bytes] = {}  # published URL -> image
        self.states: list[JobState | JobOutcome] = []
        self.fail_posts = 0
        self.lose_after_post = 0  # post, then raise as if the answer was lost
        self.fail_gallery = 0
        self.changed = asyncio.Event()
        self.undelivered: list[Job] = []
        self.shown: list[Job] = []  # every job whose status message was to be refreshed

    async def upload_limit(self, job: Job) -> int:
        return self.limit

    async def find_posted(self, job: Job) -> Posted | None:
        for index, (posted, _) in enumerate(self.posts):
            if posted.id == job.id:
                return Posted(index, "channel", job.channel_id)
        return None

    async def post(self, job: Job, outcome: Outcome, results_in: ResultsIn) -> Posted:
        if self.fail_posts:
            self.fail_posts -= 1
            raise DeliveryRetry("Discord had a hiccup")
        self.posts.append((job, outcome))
        self.where.append(results_in)
        self.changed.set()
        if self.lose_after_post:
            self.lose_after_post -= 1
            raise DeliveryRetry("connection reset after the post")
        return Posted(len(self.posts) - 1, "channel", job.channel_id)

    async def find_gallery_copy(self, job: Job, gallery_id: int) -> int | None:
        for index, (gallery, copied, _) in enumerate(self.gallery):
            if (gallery, copied.id) == (gallery_id, job.id):
                return index
        return None

    async def post_gallery_copy(self, job: Job, outcome: Outcome, gallery_id: int) -> int | None:
        self.gallery.append((gallery_id, job, outcome))
        if self.fail_gallery:
            self.fail_gallery -= 1
            raise DeliveryRetry("the gallery's answer was lost")
        return len(self.gallery) - 1

    async def posted_video(self, job: Job) -> bytes | None:
        for posted, outcome in self.posts:
            if posted.id == job.id:
                return outcome.video
        return None

    async def publish_frame(self, job: Job, image: bytes, filename: str) -> str:
        url = f"https://cdn.example/{job.id}/{filename}"
        self.frames[url] = image
        return url

    def show_state(self, job: Job) -> None:
        self.states.append(job.phase)
        self.shown.append(job)

    async def find_status_message(self, job: Job) -> int:
        return 1  # these jobs have no Discord message; say it was shown

    async def undeliverable(self, job: Job) -> None:
        self.undelivered.append(job)
        self.changed.set()

    def outcome_of(self, job_id: int) -> Outcome:
        (outcome,) = [outcome for posted, outcome in self.posts if posted.id == job_id]
        return outcome


@contextlib.asynccontextmanager
async def open_store(path: Any) -> AsyncIterator[JobRepository]:
    """The job repository on a real clock, over a database at ``path``."""
    db = await Database.open(path)
    try:
        yield JobRepository(db, time.time)
    finally:
        await db.close()


def scheduler_for(
    store: JobRepository,
    gmi_client: GMIClient,
    chat: MemoryChat,
    session: aiohttp.ClientSession,
    *,
    delivery_store: JobRepository | None = None,
    timing: StepTiming = FAST,
) -> Scheduler:
    """A scheduler whose steps deliver into ``chat``, with fast timings."""
    steps: JobSteps
    ffmpeg = FFmpeg()
    jobs = delivery_store or store
    videos = JobVideos(
        jobs, session, ffmpeg, chat, fresh_link=lambda job: steps.fresh_result_link(job)
    )
    delivery = Delivery(
        jobs, chat, videos, time.time, ffmpeg=ffmpeg,
        destinations=Destinations(ServerSettingsRepository(jobs.db)), lineages=Lineages(jobs),
    )  # fmt: skip
    budget = ProviderBudget(36000, time.time)
    servers = ServerSettingsRepository(store.db)
    moderators = Moderators(servers)
    turns = Turns(
        store.db, store, servers, moderators, AuditLog(AuditRepository(store.db), moderators),
        time.time,
    )
    steps = JobSteps(
        store, gmi_client, delivery, budget=budget, turns=turns,
        estimator=FinishEstimator(TimingRepository(store.db)),
        first_frames=FirstFrames(store, videos, ffmpeg, chat), timing=timing, clock=time.time,
    )  # fmt: skip
    return Scheduler(
        store, steps, budget=budget, lease_seconds=timing.lease_seconds,
        idle_retry=timing.plan.min_interval, clock=time.time,
    )  # fmt: skip


@contextlib.asynccontextmanager
async def running_poller(
    store: JobRepository, gmi_client: GMIClient, chat: MemoryChat, **options: Any
) -> AsyncIterator[Scheduler]:
    """A started scheduler that delivers into ``chat``; stopped on exit."""
    async with aiohttp.ClientSession() as session:
        poller = scheduler_for(store, gmi_client, chat, session, **options)
        poller.start()
        try:
            yield poller
        finally:
            await poller.stop()


async def accept(
    store: JobRepository, prompt: str = "a red fox", deadline: float = 60.0, **fields: Any
) -> Job:
    request = GenerationRequest(prompt=prompt, **fields)
    return await store.accept(
        NewJob(guild_id=1, channel_id=2, user_id=3, request=request, model=MODEL),
        deadline_seconds=deadline,
    )


async def delivered(store: JobRepository, job_id: int, within: float = 10.0) -> Job:
    return await wait_for_job(store, job_id, lambda job: job.is_delivered, within)
