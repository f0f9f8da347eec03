"""The composition root of the domain: every repository built once, every service handed
the repositories it needs. `VideoBot.setup_hook` builds one `Services`; domain tests build
their own on a temporary database, so both run the same wiring."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.asset_library import AssetLibrary
from bot.challenges import Challenges
from bot.clock import Clock
from bot.db.adjustments import AdjustmentRepository
from bot.db.assets import AssetRepository
from bot.db.audit import AuditRepository
from bot.db.blocks import BlockRepository
from bot.db.challenges import ChallengeRepository
from bot.db.database import Database
from bot.db.filters import BlockedPromptEvent, FilterRepository
from bot.db.jobs import JobLedger, JobRepository
from bot.db.limits import LimitRepository
from bot.db.previews import PreviewRepository
from bot.db.provider_budget import ProviderBudgetRepository
from bot.db.reviews import ReviewRepository
from bot.db.servers import ServerSettingsRepository
from bot.db.storyboards import StoryboardRepository
from bot.db.timings import TimingRepository
from bot.jobs.destinations import Destinations
from bot.jobs.estimates import FinishEstimator
from bot.jobs.lineage import Lineages
from bot.jobs.model import ShardScope
from bot.jobs.previews import JobPreviews
from bot.jobs.service import JobService
from bot.jobs.turns import Turns
from bot.media import FFmpeg
from bot.model_offer import DOCUMENTED, ModelOffer
from bot.moderation.audit import AuditLog
from bot.moderation.blocks import MemberBlocks
from bot.moderation.config import ServerConfigCache
from bot.moderation.prompt_filter import PromptFilter
from bot.moderation.requester import Moderators
from bot.moderation.reviews import Reviews
from bot.moderation.server_settings import ServerSettings
from bot.quotas.administration import LimitAdministration
from bot.quotas.admission import Admission
from bot.quotas.counting import QuotaCounter
from bot.quotas.pricing import PriceTable
from bot.quotas.resolution import LimitResolver
from bot.quotas.standing import Standings
from bot.storyboards.service import Storyboards
from bot.tasks import BackgroundTasks
from bot.usage import UsageReports

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobPolicy:
    """The settings the job services need (from `bot.settings.Settings` in production)."""

    model: str = "seedance-2-0-fast-260128"
    prompt_max_chars: int = 2000
    deadline_seconds: float = 3600.0
    price_table: PriceTable | None = None
    currency: str = "USD"
    max_jobs_in_flight: int | None = None  # the bot-wide cap (bot.jobs.turns)


@dataclass
class Services:
    db: Database
    clock: Clock
    tasks: BackgroundTasks
    # repositories
    jobs: JobRepository
    ledger: JobLedger
    servers: ServerSettingsRepository
    limits: LimitRepository
    adjustments: AdjustmentRepository
    blocks: BlockRepository
    filters: FilterRepository
    audit_entries: AuditRepository
    timings: TimingRepository
    provider_budget: ProviderBudgetRepository
    previews: PreviewRepository
    assets: AssetRepository
    job_reviews: ReviewRepository
    challenge_records: ChallengeRepository
    storyboards: StoryboardRepository
    # services
    moderators: Moderators
    audit: AuditLog
    server_settings: ServerSettings
    member_blocks: MemberBlocks
    prompt_filter: PromptFilter
    admission: Admission
    standings: Standings
    limit_admin: LimitAdministration
    usage: UsageReports
    job_service: JobService
    job_previews: JobPreviews
    reviews: Reviews
    storyboard_service: Storyboards
    estimator: FinishEstimator
    lineages: Lineages
    destinations: Destinations
    library: AssetLibrary
    challenges: Challenges
    turns: Turns
    ffmpeg: FFmpeg  # the one per process: it bounds how many ffmpeg runs at once

    async def close(self) -> None:
        """Finish background writes (records made after a refusal), then close the
        database (a SQLite file is checkpointed first)."""
        await self.turns.close()
        await self.tasks.drain()
        await self.tasks.close()
        log.info("database %s", await self.db.close())


def build_services(
    db: Database,
    policy: JobPolicy,
    clock: Clock,
    *,
    on_due: Callable[[], None] = lambda: None,
    on_challenge_due: Callable[[], None] = lambda: None,
    on_filming: Callable[[], None] = lambda: None,
    on_prompt_refused: Callable[[BlockedPromptEvent], Awaitable[None]] | None = None,
    offer: Callable[[], ModelOffer] = lambda: DOCUMENTED,
    shards: ShardScope | None = None,
) -> Services:
    """``on_due`` is called whenever a job became due at once (the scheduler's wake);
    ``on_challenge_due``: a challenge has work for its runner (an entry, a deadline);
    ``on_filming``: whenever a storyboard is to be filmed now (the director's wake);
    ``on_prompt_refused`` hears of every prompt the filter refused (the mod-log posts it);
    ``offer`` says what the model offers now (`bot.provider_health.ProviderHealth.offer`);
    ``shards``: the jobs this process serves (by default all: the whole bot)."""
    tasks = BackgroundTasks("services")
    jobs = JobRepository(db, clock, shards)
    ledger = JobLedger(db)
    servers = ServerSettingsRepository(db)
    limits = LimitRepository(db)
    adjustments = AdjustmentRepository(db)
    blocks = BlockRepository(db)
    filters = FilterRepository(db)
    audit_entries = AuditRepository(db)
    timings = TimingRepository(db)
    lineages = Lineages(jobs)
    assets = AssetRepository(db)
    ffmpeg = FFmpeg()
    challenge_repo = ChallengeRepository(db)

    moderators = Moderators(servers)
    config = ServerConfigCache(servers, limits, filters, blocks, clock)
    audit = AuditLog(audit_entries, moderators, on_change=config.invalidate)
    prompt_filter = PromptFilter(
        db, filters, moderators, audit, clock, on_refused=on_prompt_refused
    )
    job_reviews = ReviewRepository(db)
    reviews = Reviews(
        db=db,
        jobs=jobs,
        reviews=job_reviews,
        moderators=moderators,
        audit=audit,
        deadline_seconds=policy.deadline_seconds,
        clock=clock,
        on_due=on_due,
    )
    resolver = LimitResolver(servers, limits)
    turns = Turns(db, jobs, servers, moderators, audit, clock, bot_cap=policy.max_jobs_in_flight)
    turns.on_due = on_due
    counter = QuotaCounter(ledger, adjustments)
    standings = Standings(
        resolver=resolver,
        servers=servers,
        counter=counter,
        ledger=ledger,
        blocks=blocks,
        clock=clock,
    )
    admission = Admission(
        jobs=jobs,
        config=config,
        prompt_filter=prompt_filter,
        counter=counter,
        ledger=ledger,
        price_table=policy.price_table,
        currency=policy.currency,
        clock=clock,
        tasks=tasks,
        reviews=reviews,
    )
    previews = PreviewRepository(db)
    limit_admin = LimitAdministration(
        db=db,
        limits=limits,
        adjustments=adjustments,
        resolver=resolver,
        counter=counter,
        moderators=moderators,
        audit=audit,
        clock=clock,
    )
    job_service = JobService(
        db=db,
        jobs=jobs,
        admission=admission,
        moderators=moderators,
        audit=audit,
        model=policy.model,
        prompt_max_chars=policy.prompt_max_chars,
        deadline_seconds=policy.deadline_seconds,
        clock=clock,
        lineages=lineages,
        on_due=on_due,
        offer=offer,
    )
    storyboards = StoryboardRepository(db, clock)
    return Services(
        db=db,
        clock=clock,
        tasks=tasks,
        jobs=jobs,
        ledger=ledger,
        servers=servers,
        limits=limits,
        adjustments=adjustments,
        blocks=blocks,
        filters=filters,
        audit_entries=audit_entries,
        timings=timings,
        provider_budget=ProviderBudgetRepository(db),
        previews=previews,
        assets=assets,
        job_reviews=job_reviews,
        challenge_records=challenge_repo,
        storyboards=storyboards,
        moderators=moderators,
        audit=audit,
        server_settings=ServerSettings(db, servers, moderators, audit, clock),
        member_blocks=MemberBlocks(db, blocks, moderators, audit, clock),
        prompt_filter=prompt_filter,
        admission=admission,
        standings=standings,
        limit_admin=limit_admin,
        usage=UsageReports(
            ledger=ledger,
            servers=servers,
            standings=standings,
            moderators=moderators,
            clock=clock,
        ),
        job_service=job_service,
        job_previews=JobPreviews(
            previews=previews,
            job_service=job_service,
            admission=admission,
            config=config,
            standings=standings,
            clock=clock,
        ),
        storyboard_service=Storyboards(
            db=db,
            boards=storyboards,
            job_service=job_service,
            moderators=moderators,
            audit=audit,
            clock=clock,
            offer=offer,
            on_filming=on_filming,
        ),
        reviews=reviews,
        estimator=FinishEstimator(timings),
        lineages=lineages,
        destinations=Destinations(servers),
        library=AssetLibrary(db, assets, moderators, audit, clock, ffmpeg),
        ffmpeg=ffmpeg,
        challenges=Challenges(
            db=db,
            challenges=challenge_repo,
            jobs=jobs,
            moderators=moderators,
            audit=audit,
            limit_admin=limit_admin,
            clock=clock,
            on_due=on_challenge_due,
        ),
        turns=turns,
    )
