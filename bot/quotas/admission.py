"""The admission check: the ordered rules a request must pass before it becomes a job.

Each rule is a small function that looks at an `AdmissionCheck` and returns a
`QuotaRefusal` or nothing; the first refusal wins. A new rule is one function added to
`RULES`: to `CHECKS` if it only reads settings (blocks, channels, the prompt filter, gates),
to `COUNTED` if it counts what the member or the server already used. The counted rules
run as the `admission` of `JobRepository.accept`, inside the ``BEGIN IMMEDIATE``
transaction that inserts the job, so two requests can never both take the last unit; the
others run before it, on the reader, so the write lock is held only for what must be
atomic (for a server without limits: the insert alone). A counted rule with no limit set
reads nothing. A job the provider never sees (a stitch of finished clips) costs and counts
nothing: only the moderators' say on who and where applies to it (`UNCOUNTED`).

A job that passes every rule may still need a moderator's review (`bot.moderation.reviews`):
it is stored held, its quota reserved like any job's, with its review opened in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from bot.clock import Clock
from bot.db.database import Connection
from bot.db.filters import BlockedPattern
from bot.db.jobs import Claim, JobLedger, JobRepository, Usage
from bot.db.servers import GuildSettings
from bot.errors import Refused
from bot.jobs.model import Job, NewJob, ReviewReason
from bot.moderation.config import ServerConfig, ServerConfigCache
from bot.moderation.prompt_filter import PromptFilter, find_blocked_pattern
from bot.moderation.requester import Requester
from bot.moderation.reviews import Reviews, review_reasons
from bot.params import GenerationRequest
from bot.quotas import wording
from bot.quotas.catalogue import GATES, Metric, Window, window_limit
from bot.quotas.counting import QuotaCounter, usage_of
from bot.quotas.pricing import PriceTable
from bot.quotas.resolution import EffectiveLimits, LimitSource, resolve_limits
from bot.tasks import BackgroundTasks

# The `QuotaRefusal.limit` of a prompt refused by the moderators' blocked words.
BLOCKED_PROMPT = "blocked_prompt"


@dataclass(frozen=True)
class QuotaRefusal:
    """Why a request was refused: which limit, set by whom, and when it frees up."""

    limit: str  # a LIMITS name, or "blocked", "channel", "blocked_prompt", "budget", "dm"
    scope: str  # where the limit was set, as moderators read it: "server", "role Artists",
    # "member override", "server budget", ...
    frees_at: datetime | None
    message: str
    pattern: BlockedPattern | None = None  # the blocked pattern a prompt hit


class AdmissionRefused(Refused):
    """A request refused by a rule; ``refusal`` says which and why."""

    def __init__(self, refusal: QuotaRefusal) -> None:
        super().__init__(refusal.message, limit=refusal.limit)
        self.refusal = refusal


@dataclass(frozen=True)
class AdmissionCheck:
    """Everything a rule may look at: the server's configuration, and the connection to
    count on (the admission's transaction, for the counted rules)."""

    requester: Requester
    new: NewJob
    now: float
    conn: Connection
    config: ServerConfig
    limits: EffectiveLimits
    admission: Admission
    # What the member asked for already that counts once it runs (a precheck's earlier shots).
    ahead: Usage = Usage()

    @property
    def settings(self) -> GuildSettings:
        return self.config.settings

    @property
    def guild_id(self) -> int:
        assert self.requester.guild_id is not None
        return self.requester.guild_id


def refusal(
    limit: str,
    scope: str | LimitSource,
    frees_at: float | None,
    message: str,
    **extra: BlockedPattern,
) -> QuotaRefusal:
    when = datetime.fromtimestamp(frees_at, UTC) if frees_at is not None else None
    return QuotaRefusal(limit, str(scope), when, message, **extra)


Rule = Callable[[AdmissionCheck], Awaitable[QuotaRefusal | None]]


async def not_blocked(check: AdmissionCheck) -> QuotaRefusal | None:
    block = check.config.block_of(check.requester.user_id, check.now)
    if block is None:
        return None
    return refusal("blocked", "moderator block", block.expires_at, wording.blocked(block))


async def in_allowed_channel(check: AdmissionCheck) -> QuotaRefusal | None:
    allowed = check.settings.allowed_channel_ids
    here = {check.requester.channel_id, check.requester.parent_channel_id}
    if not allowed or here & allowed:
        return None
    return refusal("channel", "server", None, wording.wrong_channel(allowed))


async def prompt_not_blocked(check: AdmissionCheck) -> QuotaRefusal | None:
    hit = find_blocked_pattern(list(check.config.patterns), check.new.request.prompt)
    if hit is None:
        return None
    return refusal(BLOCKED_PROMPT, "server moderators", None, wording.BLOCKED_PROMPT, pattern=hit)


async def within_max_duration(check: AdmissionCheck) -> QuotaRefusal | None:
    longest = check.limits["max_duration"]
    most = check.limits.quantity(longest.name)
    asked = check.new.request.duration
    if most is None or asked <= most:
        return None
    return refusal(longest.name, longest.source, None, wording.too_long(most, asked, longest.source))


async def within_max_resolution(check: AdmissionCheck) -> QuotaRefusal | None:
    highest = check.limits["max_resolution"]
    value = check.limits.highest_resolution
    asked = check.new.request.resolution
    if value.resolution is None or value.allows(asked):
        return None
    message = wording.resolution_too_high(value.resolution, asked, highest.source)
    return refusal(highest.name, highest.source, None, message)


async def gates_open(check: AdmissionCheck) -> QuotaRefusal | None:
    request = check.new.request
    uses = {
        "web_search": request.web_search,
        "reference_images": bool(
            request.reference_images
            or request.first_frame
            or request.last_frame
            or check.new.first_frame_from  # a continuation starts from an image too
        ),
        "reference_videos": bool(request.reference_videos),
        "reference_audios": bool(request.reference_audios),
    }
    for gate in GATES:
        if uses[gate] and not check.limits.allows(gate):
            source = check.limits[gate].source
            return refusal(gate, source, None, wording.gate_closed(gate, source))
    return None


async def cooled_down(check: AdmissionCheck) -> QuotaRefusal | None:
    seconds = check.limits.cooldown_seconds
    if not seconds:
        return None
    ledger = check.admission.ledger
    last = await ledger.last_job_at(check.guild_id, check.requester.user_id, conn=check.conn)
    if last is None or check.now >= last + seconds:
        return None
    source = check.limits["cooldown_seconds"].source
    until = last + seconds
    message = wording.cooling_down(seconds, source, until)
    return refusal("cooldown_seconds", source, until, message)


async def not_too_many_running(check: AdmissionCheck) -> QuotaRefusal | None:
    most = check.limits.quantity("concurrent_jobs")
    if most is None:
        return None
    ledger = check.admission.ledger
    active = await ledger.active_jobs(check.guild_id, check.requester.user_id, conn=check.conn)
    if active + 1 <= most:
        return None
    source = check.limits["concurrent_jobs"].source
    return refusal("concurrent_jobs", source, None, wording.too_many_running(active, source))


async def within_budget(check: AdmissionCheck) -> QuotaRefusal | None:
    budget = check.settings.monthly_budget
    if budget is None:
        return None
    standing = await check.admission.counter.budget(check.settings, check.now, conn=check.conn)
    cost = check.new.estimated_cost + check.ahead.cost
    if standing.spent + cost <= budget:
        return None
    message = wording.budget_used_up(
        standing.spent, budget, cost, standing.resets_at, check.admission.currency
    )
    return refusal("budget", "server budget", standing.resets_at, message)


async def within_windows(check: AdmissionCheck) -> QuotaRefusal | None:
    request, ahead = check.new.request, check.ahead
    asked = Usage(
        1 + ahead.generations, request.duration + ahead.seconds, check.new.estimated_cost + ahead.cost
    )
    counter = check.admission.counter
    for window in Window:
        if all(check.limits.quantity(window_limit(m, window)) is None for m in Metric):
            continue  # nothing to count in this window (grants only add to a limit)
        standing = await counter.window(
            check.settings,
            check.limits,
            check.requester.user_id,
            window,
            check.now,
            conn=check.conn,
        )
        for meter in standing.meters:
            wanted = usage_of(asked, meter.metric)
            if meter.limit is None or meter.used + wanted <= meter.limit + 1e-9:
                continue
            message = wording.over_window(
                meter,
                window,
                asked.seconds,
                asked.cost,
                standing.resets_at,
                check.admission.currency,
            )
            limit = window_limit(meter.metric, window)
            return refusal(limit, meter.source, standing.resets_at, message)
    return None


CHECKS: tuple[Rule, ...] = (
    not_blocked,
    in_allowed_channel,
    prompt_not_blocked,
    within_max_duration,
    within_max_resolution,
    gates_open,
)
COUNTED: tuple[Rule, ...] = (
    cooled_down,
    not_too_many_running,
    within_budget,
    within_windows,
)
RULES = CHECKS + COUNTED
# The counted rules that still hold in a while: what was used, not what runs right now.
LASTING: tuple[Rule, ...] = (within_budget, within_windows)
UNCOUNTED: tuple[Rule, ...] = (not_blocked, in_allowed_channel)


class Admission:
    """Prices a request and accepts it as a job if every rule lets it through."""

    def __init__(
        self,
        *,
        jobs: JobRepository,
        config: ServerConfigCache,
        prompt_filter: PromptFilter,
        counter: QuotaCounter,
        ledger: JobLedger,
        price_table: PriceTable | None,
        currency: str,
        clock: Clock,
        tasks: BackgroundTasks,
        reviews: Reviews,
    ) -> None:
        self.jobs = jobs
        self.reviews = reviews
        self.config = config
        self.prompt_filter = prompt_filter
        self.counter = counter
        self.ledger = ledger
        self.price_table = price_table
        self.currency = currency
        self.clock = clock
        self.tasks = tasks

    def estimate(self, request: GenerationRequest) -> float:
        return self.price_table.estimate(request) if self.price_table is not None else 0.0

    async def admit(
        self,
        requester: Requester,
        new: NewJob,
        *,
        deadline_seconds: float,
        claim: Claim | None = None,
    ) -> Job:
        """Price the job, then accept it with every rule checked in the same transaction
        (which takes ``claim`` too, if given). Raises `AdmissionRefused`; nothing is stored
        then."""
        if new.user_id != requester.user_id or new.guild_id != requester.guild_id:
            raise ValueError("the job and the requester disagree on who is asking")
        check = await self._past_settings_rules(requester, new)
        new = check.new
        if not new.calls_provider:
            return await self.jobs.accept(new, deadline_seconds=deadline_seconds, claim=claim)

        reasons = review_reasons(check.settings, requester, new)

        async def counted(conn: Connection, job: NewJob, now: float) -> None:
            await self._apply(COUNTED, replace(check, conn=conn, new=job, now=now))

        async def held(conn: Connection, job: Job) -> None:
            await self.reviews.open(conn, job, reasons)

        return await self.jobs.accept(
            replace(new, review_reasons=reasons),
            deadline_seconds=deadline_seconds,
            admission=counted,
            claim=claim,
            inserted=held if reasons else None,
        )

    async def precheck(self, requester: Requester, new: NewJob) -> tuple[ReviewReason, ...]:
        """The rules that read only settings (who, where, what), without counting: a job
        they refuse is refused before a member is asked to confirm it. Returns why it
        would wait for a moderator's review once stored (none: it wouldn't)."""
        check = await self._past_settings_rules(requester, new)
        if not check.new.calls_provider:
            return ()
        return review_reasons(check.settings, requester, check.new)

    async def _past_settings_rules(self, requester: Requester, new: NewJob) -> AdmissionCheck:
        """`_prepare`d, then through the rules that need no transaction: the check the
        counted rules start from."""
        check = await self._prepare(requester, new)
        await self._apply(CHECKS if check.new.calls_provider else UNCOUNTED, check)
        return check

    async def forecast(
        self, requester: Requester, new: NewJob, *, ahead: Sequence[GenerationRequest] = ()
    ) -> None:
        """Whether ``new`` would be admitted, as far as can be told before its time: every
        rule but the cooldown and the jobs running now, which will have moved on by then,
        counting what ``requester`` asked for ``ahead`` of it that has not run yet.
        Raises `AdmissionRefused`; stores and reserves nothing."""
        check = await self._prepare(requester, new)
        queued = Usage(
            len(ahead),
            sum(request.duration for request in ahead),
            sum(self.estimate(request) for request in ahead),
        )
        await self._apply(CHECKS + LASTING, replace(check, ahead=queued))

    async def _prepare(self, requester: Requester, new: NewJob) -> AdmissionCheck:
        """What the rules look at: the job priced, the server's configuration, the
        member's limits, the reader to count on."""
        if self.price_table is not None and new.calls_provider:
            new = replace(new, estimated_cost=self.estimate(new.request))
        if requester.guild_id is None:
            raise AdmissionRefused(
                refusal("dm", "bot", None, "Videos can only be generated inside a server.")
            )
        config = await self.config.get(requester.guild_id)
        limits = resolve_limits(config.limits_for(requester.user_id), requester, config.settings)
        return AdmissionCheck(requester, new, self.clock(), self.jobs.db.reader, config, limits, self)

    async def _apply(self, rules: tuple[Rule, ...], check: AdmissionCheck) -> None:
        for rule in rules:
            refused = await rule(check)
            if refused is None:
                continue
            if refused.pattern is not None:
                # Nothing is stored for a refusal: record the event for moderators apart.
                self.tasks.spawn(
                    self.prompt_filter.record_refusal(
                        check.requester, refused.pattern, check.new.request.prompt
                    ),
                    name=f"record refused prompt of {check.requester.user_id}",
                )
            raise AdmissionRefused(refused)
