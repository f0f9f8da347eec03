"""Usage limits of a server, its roles and its members, and the admission check that holds them.

Accounting reads the jobs table itself: a job row *is* its reservation. A member's usage in
a window is their jobs in that server created in the window, except failed, cancelled and
timed-out ones (those are refunds) unless the server turned refunds off. The server's budget
counts money actually spent instead: every job that reached the provider, cancelled and
timed-out ones included (the provider has no cancel call), except those it reported failed.
`LEDGER` is the one place that says what counts. The check runs as
the `admission` of `JobStore.accept`, inside the ``BEGIN IMMEDIATE`` transaction that inserts
the job, so two requests can never both take the last unit.

Limits are set per server (the default), per role (a member gets the most generous of their
roles' values; "unlimited" beats any number) and per member (an override that wins). For
each limit the most specific level that sets it decides: member, else roles, else server.

Grants add to a member's limits for the current window only. A reset is a timestamp per
member and window: usage counts only jobs created after it. A timestamp (rather than a grant
equal to the usage so far) stays right when a job from before the reset is refunded later,
and it does not touch the server budget, because the money was spent all the same.
"""

from __future__ import annotations

import asyncio
import enum
import functools
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiosqlite

from bot.durations import parse_duration
from bot.jobs import ACTIVE_STATES, Job, JobState, NewJob
from bot.moderation import (
    AuditEntry,
    GuildSettings,
    MemberBlock,
    Moderation,
    ModerationError,
    Requester,
    active_block,
    find_blocked_pattern,
    load_blocked_patterns,
    load_guild_settings,
    record_audit,
)
from bot.params import RESOLUTIONS, GenerationRequest
from bot.settings import PriceTable
from bot.store import Admission, JobStore

Clock = Callable[[], float]
LimitValue = int | float | str | bool | None

# The `QuotaRefusal.limit` of a prompt refused by the moderators' blocked words.
BLOCKED_PROMPT = "blocked_prompt"
# A member's quota is given back for these (unless the server turned refunds off).
REFUNDED_STATES = frozenset({JobState.FAILED, JobState.CANCELLED, JobState.TIMED_OUT})
# The bot stopped following these; once sent, the provider still generates and bills them.
ABANDONED_STATES = frozenset({JobState.CANCELLED, JobState.TIMED_OUT})


class Window(enum.StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    @property
    def this(self) -> str:
        return {"day": "today", "week": "this week", "month": "this month"}[self.value]

    @property
    def last(self) -> str:
        return {"day": "yesterday", "week": "last week", "month": "last month"}[self.value]


class Metric(enum.StrEnum):
    GENERATIONS = "generations"
    SECONDS = "seconds"
    COST = "cost"


class LimitKind(enum.StrEnum):
    COUNT = "count"  # whole number, larger is more generous, "unlimited" allowed
    AMOUNT = "amount"  # estimated cost, larger is more generous, "unlimited" allowed
    COOLDOWN = "cooldown"  # seconds between requests, smaller is more generous
    RESOLUTION = "resolution"  # highest resolution, "unlimited" allowed
    ALLOW = "allow"  # allow/deny


@dataclass(frozen=True)
class LimitSpec:
    name: str
    label: str
    kind: LimitKind
    window: Window | None = None
    metric: Metric | None = None

    @property
    def default(self) -> LimitValue:
        return {LimitKind.ALLOW: True, LimitKind.COOLDOWN: 0}.get(self.kind)


def _catalogue() -> dict[str, LimitSpec]:
    specs = []
    labels = {
        Metric.GENERATIONS: "generations",
        Metric.SECONDS: "seconds of video",
        Metric.COST: "estimated cost",
    }
    for metric in Metric:
        for window in Window:
            kind = LimitKind.AMOUNT if metric is Metric.COST else LimitKind.COUNT
            specs.append(
                LimitSpec(
                    f"{metric}_per_{window}",
                    f"{labels[metric]} per {window}",
                    kind,
                    window,
                    metric,
                )
            )
    specs += [
        LimitSpec("concurrent_jobs", "videos in progress at once", LimitKind.COUNT),
        LimitSpec("cooldown_seconds", "cooldown between requests", LimitKind.COOLDOWN),
        LimitSpec("max_duration", "longest video (seconds)", LimitKind.COUNT),
        LimitSpec("max_resolution", "highest resolution", LimitKind.RESOLUTION),
        LimitSpec("web_search", "web search", LimitKind.ALLOW),
        LimitSpec("reference_images", "image inputs (reference images, frames)", LimitKind.ALLOW),
        LimitSpec("reference_videos", "reference videos", LimitKind.ALLOW),
        LimitSpec("reference_audios", "reference audio", LimitKind.ALLOW),
    ]
    return {s.name: s for s in specs}


LIMITS: dict[str, LimitSpec] = _catalogue()
SCOPES = ("server", "role", "member")

_UNLIMITED = {"unlimited", "none", "no limit", "any", "∞", "inf"}
_ALLOW = {"allow", "allowed", "yes", "on", "true", "1"}
_DENY = {"deny", "denied", "no", "off", "false", "0", "block", "blocked"}


def parse_limit_value(name: str, text: str) -> LimitValue:
    """Turn a moderator's text into a limit value; `ModerationError` says what is expected."""
    spec = _spec(name)
    raw = text.strip().lower()
    if spec.kind is LimitKind.ALLOW:
        if raw in _ALLOW:
            return True
        if raw in _DENY:
            return False
        raise ModerationError(f"{spec.label}: say `allow` or `deny`.")
    if spec.kind is LimitKind.RESOLUTION:
        if raw in _UNLIMITED:
            return None
        if raw in RESOLUTIONS:
            return raw
        raise ModerationError(f"{spec.label}: one of {', '.join(RESOLUTIONS)}, or `unlimited`.")
    if spec.kind is LimitKind.COOLDOWN:
        if raw in _UNLIMITED or raw in _DENY:
            return 0
        try:
            return parse_duration(raw)
        except ValueError:
            raise ModerationError(
                f"{spec.label}: a time such as `30s`, `5m` or `1h30m`, or `none`."
            ) from None
    if raw in _UNLIMITED:
        return None
    try:
        number = float(raw) if spec.kind is LimitKind.AMOUNT else int(raw)
    except ValueError:
        whole = "a whole number" if spec.kind is LimitKind.COUNT else "a number"
        raise ModerationError(f"{spec.label}: {whole} (0 or more), or `unlimited`.") from None
    if number < 0:
        raise ModerationError(f"{spec.label}: the value can't be negative.")
    return number


def format_limit_value(name: str, value: LimitValue) -> str:
    spec = _spec(name)
    if spec.kind is LimitKind.ALLOW:
        return "allow" if value else "deny"
    if spec.kind is LimitKind.COOLDOWN:
        return "none" if not value else f"{value}s"
    if value is None:
        return "unlimited"
    if spec.kind is LimitKind.AMOUNT:
        return f"{float(value):g}"
    return str(value)


def _decode(name: str, stored: str) -> LimitValue:
    return parse_limit_value(name, stored)


def generosity(name: str, value: LimitValue) -> float:
    """A number that grows with how much the value lets a member do."""
    spec = _spec(name)
    if spec.kind is LimitKind.ALLOW:
        return 1.0 if value else 0.0
    if spec.kind is LimitKind.COOLDOWN:
        return -float(value or 0)
    if value is None:
        return float("inf")
    if spec.kind is LimitKind.RESOLUTION:
        return float(RESOLUTIONS.index(str(value)))
    return float(value)


def _spec(name: str) -> LimitSpec:
    try:
        return LIMITS[name]
    except KeyError:
        raise ModerationError(f"`{name}` is not a limit. Limits: {', '.join(LIMITS)}.") from None


# -- windows -----------------------------------------------------------------------------


def window_bounds(
    window: Window | str, now: float, timezone: str = "UTC", reset_hour: int = 0
) -> tuple[float, float]:
    """The window holding ``now``: days start at ``reset_hour`` local time, weeks on Monday
    at that hour, months on the 1st at that hour. Returns (start, end) as Unix times."""
    window = Window(window)
    try:
        zone: Any = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    local = datetime.fromtimestamp(now, zone)

    def at(day: date) -> float:
        return datetime.combine(day, dtime(reset_hour), tzinfo=zone).timestamp()

    if window is Window.DAY:
        start = local.date()

        def step(d: date, n: int) -> date:
            return d + timedelta(days=n)
    elif window is Window.WEEK:
        start = local.date() - timedelta(days=local.weekday())

        def step(d: date, n: int) -> date:
            return d + timedelta(weeks=n)
    else:
        start = local.date().replace(day=1)

        def step(d: date, n: int) -> date:
            month = d.year * 12 + d.month - 1 + n
            return date(month // 12, month % 12 + 1, 1)

    if at(start) > now:
        start = step(start, -1)
    return at(start), at(step(start, 1))


def discord_time(ts: float, style: str = "R") -> str:
    """A Discord timestamp: each reader sees it in their own time zone (``R``: "in 2 hours",
    ``f``: the date and time)."""
    return f"<t:{int(ts)}:{style}>"


def format_money(amount: float, currency: str) -> str:
    """An estimated cost or budget as members and moderators read it: ``0.80 USD``."""
    return f"{amount:.2f} {currency}"


def _when(ts: float) -> str:
    return f"{discord_time(ts, 'R')} ({discord_time(ts, 'f')})"


# -- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class QuotaRefusal:
    """Why a request was refused: which limit, set by whom, and when it frees up."""

    limit: str  # a LIMITS name, or "blocked", "channel", "blocked_prompt", "budget", "dm"
    scope: str  # "server", "role <name>", "your member override", "server budget", ...
    frees_at: datetime | None
    message: str


class AdmissionRefused(Exception):
    def __init__(self, refusal: QuotaRefusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


@dataclass(frozen=True)
class EffectiveLimit:
    name: str
    value: LimitValue
    scope: str  # "default", "server", "role <name>", "your member override"

    @property
    def display(self) -> str:
        return format_limit_value(self.name, self.value)


@dataclass(frozen=True)
class LimitSetting:
    """One stored limit, as moderators list them."""

    scope: str  # server, role or member
    scope_id: int  # 0 for the server, else the role or member id
    name: str
    value: LimitValue
    updated_by: int
    updated_at: float

    @property
    def display(self) -> str:
        return format_limit_value(self.name, self.value)


@dataclass(frozen=True)
class Usage:
    generations: int = 0
    seconds: int = 0
    cost: float = 0.0

    def of(self, metric: Metric) -> float:
        return getattr(self, metric.value)


@dataclass(frozen=True)
class Meter:
    """One metric in one window: how much is used, allowed (incl. grants) and left."""

    name: str
    used: float
    limit: float | None  # None: unlimited; includes `granted`
    granted: float
    scope: str

    @property
    def remaining(self) -> float | None:
        return None if self.limit is None else max(0.0, self.limit - self.used)


@dataclass(frozen=True)
class WindowStanding:
    window: Window
    starts_at: float
    resets_at: float
    generations: Meter
    seconds: Meter
    cost: Meter

    @property
    def meters(self) -> tuple[Meter, Meter, Meter]:
        return (self.generations, self.seconds, self.cost)


@dataclass(frozen=True)
class BudgetStanding:
    budget: float | None
    spent: float
    month_start: float
    resets_at: float

    @property
    def remaining(self) -> float | None:
        return None if self.budget is None else max(0.0, self.budget - self.spent)


@dataclass(frozen=True)
class Standing:
    """What `/video quota` shows a member."""

    guild_id: int
    user_id: int
    windows: tuple[WindowStanding, ...]
    active_jobs: int
    limits: dict[str, EffectiveLimit]
    cooldown_until: float | None
    block: MemberBlock | None
    budget: BudgetStanding

    def lines(self, currency: str = "USD") -> list[str]:
        """Plain lines for an embed or message; times as Discord timestamps."""
        out = []
        if self.block is not None:
            until = _when(self.block.expires_at) if self.block.expires_at else "until lifted"
            out.append(f"⛔ Blocked from generating: {self.block.reason} ({until}).")
        for ws in self.windows:
            parts = []
            for meter in ws.meters:
                if meter.limit is None:
                    continue
                used, limit = _fmt_metric(meter, currency)
                parts.append(f"{used} of {limit} {_METRIC_WORDS[meter.name]} ({meter.scope})")
            if parts:
                out.append(
                    f"**{ws.window.this.capitalize()}:** "
                    + ", ".join(parts)
                    + f"; resets {_when(ws.resets_at)}"
                )
        concurrent = self.limits["concurrent_jobs"]
        if concurrent.value is not None:
            out.append(f"In progress: {self.active_jobs} of {concurrent.value} at once.")
        if self.cooldown_until is not None:
            out.append(f"Next request allowed {discord_time(self.cooldown_until)}.")
        if self.budget.budget is not None:
            out.append(
                f"Server budget: {self.budget.spent:.2f} of "
                f"{format_money(self.budget.budget, currency)} "
                f"spent this month; resets {_when(self.budget.resets_at)}."
            )
        if not out:
            out.append("No limits apply to you here.")
        return out


_METRIC_WORDS = {
    Metric.GENERATIONS.value: "videos",
    Metric.SECONDS.value: "seconds",
    Metric.COST.value: "estimated cost",
}


def _fmt_metric(meter: Meter, currency: str) -> tuple[str, str]:
    if meter.name == Metric.COST.value:
        return f"{meter.used:.2f}", format_money(meter.limit or 0.0, currency)
    return f"{meter.used:g}", f"{meter.limit:g}"


# -- reading limits and usage (on the caller's connection, inside its transaction) --------


def role_label(requester: Requester, role_id: int) -> str:
    """The role's name when the cog passed names, else a mention (renders as the name)."""
    for rid, name in requester.role_names:
        if rid == role_id:
            return name
    return f"<@&{role_id}>"


def resolve_limits(
    rows: Iterable[tuple[str, int, str, LimitValue]], requester: Requester
) -> dict[str, EffectiveLimit]:
    """Member override, else the most generous of the member's roles, else the server."""
    server: dict[str, LimitValue] = {}
    member: dict[str, LimitValue] = {}
    roles: dict[str, list[tuple[int, LimitValue]]] = {}
    for scope, scope_id, name, value in rows:
        if scope == "server":
            server[name] = value
        elif scope == "member" and scope_id == requester.user_id:
            member[name] = value
        elif scope == "role" and scope_id in requester.role_ids:
            roles.setdefault(name, []).append((scope_id, value))
    resolved = {}
    for name, spec in LIMITS.items():
        if name in member:
            resolved[name] = EffectiveLimit(name, member[name], "your member override")
        elif name in roles:
            role_id, value = max(roles[name], key=lambda rv: (generosity(name, rv[1]), -rv[0]))
            resolved[name] = EffectiveLimit(name, value, f"role {role_label(requester, role_id)}")
        elif name in server:
            resolved[name] = EffectiveLimit(name, server[name], "server")
        else:
            resolved[name] = EffectiveLimit(name, spec.default, "default")
    return resolved


async def load_limit_rows(
    conn: aiosqlite.Connection, guild_id: int, user_id: int
) -> list[tuple[str, int, str, LimitValue]]:
    async with conn.execute(
        "SELECT scope, scope_id, name, value FROM quota_limits "
        "WHERE guild_id = ? AND (scope != 'member' OR scope_id = ?)",
        (guild_id, user_id),
    ) as cur:
        rows = await cur.fetchall()
    return [(r[0], r[1], r[2], _decode(r[2], r[3])) for r in rows if r[2] in LIMITS]


# -- what counts: the one ledger behind member quotas, the server budget and usage reports --


def _states(states: Iterable[JobState]) -> str:
    return ", ".join(f"'{s.value}'" for s in sorted(states))


# Every job ever accepted in a server (``:guild``), deleted ones included: deleted_jobs keeps
# what they counted, so deleting never gives back quota or budget. Two flags per job:
#
# * ``is_counted``: it uses the member's quota (generations, seconds, cost). Failed,
#   cancelled and timed-out jobs are refunded while ``:refunds`` is 1.
# * ``is_billed``: its estimated cost is money spent, for the server's monthly budget and the
#   reports' estimated spend. The provider has no cancel call, so a cancelled or timed-out
#   job that reached it (``request_id`` set) is still generated and billed; only jobs the
#   provider reported failed are free. Active jobs count as reserved.
#
# A cancelled or timed-out job that never reached the provider (``request_id`` NULL) counts
# nowhere, whatever the refund setting: nothing was generated or spent.
LEDGER = f"""
    WITH ledger_jobs AS (
        SELECT id AS job_id, user_id, channel_id, state, origin, created_at, request_id,
               CAST(json_extract(params_json, '$.duration') AS INTEGER) AS seconds,
               json_extract(params_json, '$.resolution') AS resolution,
               estimated_cost, 0 AS deleted
        FROM jobs WHERE guild_id = :guild
        UNION ALL
        SELECT job_id, user_id, channel_id, state, 'deleted', created_at, request_id, seconds,
               resolution, estimated_cost, 1
        FROM deleted_jobs WHERE guild_id = :guild
    ),
    ledger AS (
        SELECT *,
               CASE WHEN request_id IS NULL AND state IN ({_states(ABANDONED_STATES)}) THEN 0
                    WHEN :refunds = 1 AND state IN ({_states(REFUNDED_STATES)}) THEN 0
                    ELSE 1 END AS is_counted,
               CASE WHEN request_id IS NULL AND state IN ({_states(ABANDONED_STATES)}) THEN 0
                    WHEN state = '{JobState.FAILED.value}' THEN 0
                    ELSE 1 END AS is_billed
        FROM ledger_jobs
    )
"""  # noqa: S608 - state names come from JobState; values are parameters
_USAGE_SQL = (
    LEDGER  # noqa: S608
    + "SELECT COALESCE(SUM(is_counted), 0), COALESCE(SUM(seconds * is_counted), 0), "
    "COALESCE(SUM(estimated_cost * is_counted), 0) FROM ledger "
    "WHERE user_id = :user AND created_at >= :since AND created_at < :until"
)
_SPENT_SQL = (
    LEDGER  # noqa: S608
    + "SELECT COALESCE(SUM(estimated_cost * is_billed), 0) FROM ledger "
    "WHERE created_at >= :since AND created_at < :until"
)
_LAST_JOB_SQL = LEDGER + "SELECT MAX(created_at) FROM ledger WHERE user_id = :user"  # noqa: S608
_ACTIVE_JOBS_SQL = (
    "SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND user_id = ? "  # noqa: S608
    f"AND state IN ({_states(ACTIVE_STATES)})"
)


async def count_usage(
    conn: aiosqlite.Connection,
    guild_id: int,
    user_id: int,
    since: float,
    until: float,
    *,
    refunds_enabled: bool,
) -> Usage:
    """What counts against one member's quota among their jobs created in [since, until)."""
    params = {
        "guild": guild_id,
        "refunds": int(refunds_enabled),
        "user": user_id,
        "since": since,
        "until": until,
    }
    async with conn.execute(_USAGE_SQL, params) as cur:
        count, seconds, cost = await cur.fetchone()
    return Usage(int(count), int(seconds), float(cost))


async def spent(conn: aiosqlite.Connection, guild_id: int, since: float, until: float) -> float:
    """Estimated money spent by the server on jobs created in [since, until)."""
    params = {"guild": guild_id, "refunds": 1, "since": since, "until": until}
    async with conn.execute(_SPENT_SQL, params) as cur:
        (cost,) = await cur.fetchone()
    return float(cost)


async def _adjustments(
    conn: aiosqlite.Connection, guild_id: int, user_id: int, window: Window, start: float
) -> tuple[Usage, float | None]:
    """(extra granted, last reset time) for this member's current window."""
    async with conn.execute(
        "SELECT COALESCE(SUM(CASE WHEN kind = 'grant' THEN generations END), 0), "
        "COALESCE(SUM(CASE WHEN kind = 'grant' THEN seconds END), 0), "
        "COALESCE(SUM(CASE WHEN kind = 'grant' THEN cost END), 0), "
        "MAX(CASE WHEN kind = 'reset' THEN created_at END) "
        "FROM quota_adjustments WHERE guild_id = ? AND user_id = ? AND window = ? "
        "AND window_start = ?",
        (guild_id, user_id, window.value, int(start)),
    ) as cur:
        generations, seconds, cost, reset_at = await cur.fetchone()
    return Usage(int(generations), int(seconds), float(cost)), reset_at


async def _active_jobs(conn: aiosqlite.Connection, guild_id: int, user_id: int) -> int:
    """The member's jobs in progress, for ``concurrent_jobs``: active states only. A cancelled
    or timed-out job the provider may still be generating no longer counts here (it still
    counts in the budget, see `LEDGER`): simple, and the member can't see it any more."""
    async with conn.execute(_ACTIVE_JOBS_SQL, (guild_id, user_id)) as cur:
        (count,) = await cur.fetchone()
    return count


async def _last_job_at(conn: aiosqlite.Connection, guild_id: int, user_id: int) -> float | None:
    params = {"guild": guild_id, "refunds": 1, "user": user_id}
    async with conn.execute(_LAST_JOB_SQL, params) as cur:
        (last,) = await cur.fetchone()
    return last


@dataclass(frozen=True)
class _Context:
    settings: GuildSettings
    limits: dict[str, EffectiveLimit]


async def _window_meters(
    conn: aiosqlite.Connection, ctx: _Context, user_id: int, window: Window, now: float
) -> WindowStanding:
    s = ctx.settings
    start, end = window_bounds(window, now, s.timezone, s.reset_hour)
    extra, reset_at = await _adjustments(conn, s.guild_id, user_id, window, start)
    since = max(start, reset_at) if reset_at is not None else start
    used = await count_usage(
        conn, s.guild_id, user_id, since, end, refunds_enabled=s.refunds_enabled
    )
    meters = []
    for metric in Metric:
        limit = ctx.limits[f"{metric}_per_{window}"]
        value = None if limit.value is None else float(limit.value) + extra.of(metric)
        meters.append(Meter(metric.value, used.of(metric), value, extra.of(metric), limit.scope))
    return WindowStanding(window, start, end, *meters)


# -- the admission check -------------------------------------------------------------------


def _by(scope: str) -> str:
    if scope == "server":
        return "the server's default"
    if scope.startswith("role "):
        return f"the {scope[5:]} role"
    if scope == "your member override":
        return "a moderator, for you (your member override)"
    return scope


def _refuse(limit: str, scope: str, frees_at: float | None, message: str) -> AdmissionRefused:
    when = datetime.fromtimestamp(frees_at, UTC) if frees_at is not None else None
    return AdmissionRefused(QuotaRefusal(limit, scope, when, message))


def estimate_cost(price_table: PriceTable, request: GenerationRequest) -> float:
    return price_table.estimate(
        request.resolution, request.duration, bool(request.reference_videos)
    )


class Quotas:
    """Limits, grants and resets for moderators; admission and standing for members."""

    def __init__(
        self,
        store: JobStore,
        *,
        price_table: PriceTable | None = None,
        currency: str = "USD",
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.clock = clock or store.clock
        self.price_table = price_table
        self.currency = currency
        self.moderation = Moderation(store, self.clock)
        self._pending: set[asyncio.Task[Any]] = set()

    def _later(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def flush(self) -> None:
        """Wait for records written after a refusal (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    def estimate(self, request: GenerationRequest) -> float:
        return estimate_cost(self.price_table, request) if self.price_table else 0.0

    # -- members -----------------------------------------------------------------------

    async def admit(self, requester: Requester, new: NewJob, *, deadline_seconds: float) -> Job:
        """Price the job, then accept it with the prompt and every limit checked in the same
        transaction. Raises `AdmissionRefused`."""
        if self.price_table is not None:
            new = replace(new, estimated_cost=self.estimate(new.request))
        return await self.store.accept(
            new, deadline_seconds=deadline_seconds, admission=self.admission(requester)
        )

    def admission(self, requester: Requester) -> Admission:
        """An ``admission`` for `JobStore.accept`: raises `AdmissionRefused` to refuse. A
        blocked prompt is recorded for moderators just after the transaction rolls back."""

        async def admit(conn: aiosqlite.Connection, new: NewJob, now: float) -> None:
            if new.user_id != requester.user_id or new.guild_id != requester.guild_id:
                raise ValueError("the job and the requester disagree on who is asking")
            await self._check(conn, requester, new, now)

        return admit

    async def standing(self, requester: Requester) -> Standing:
        if requester.guild_id is None:
            raise ModerationError("Quotas apply inside a server.")
        conn, now = self.store.conn, self.clock()
        ctx = await self._context(conn, requester)
        windows = tuple(
            [await _window_meters(conn, ctx, requester.user_id, w, now) for w in Window]
        )
        cooldown = ctx.limits["cooldown_seconds"].value or 0
        last = await _last_job_at(conn, requester.guild_id, requester.user_id)
        cooldown_until = last + cooldown if cooldown and last and last + cooldown > now else None
        return Standing(
            guild_id=requester.guild_id,
            user_id=requester.user_id,
            windows=windows,
            active_jobs=await _active_jobs(conn, requester.guild_id, requester.user_id),
            limits=ctx.limits,
            cooldown_until=cooldown_until,
            block=await active_block(conn, requester.guild_id, requester.user_id, now),
            budget=await self._budget(conn, ctx.settings, now),
        )

    async def budget(self, guild_id: int) -> BudgetStanding:
        settings = await load_guild_settings(self.store.conn, guild_id)
        return await self._budget(self.store.conn, settings, self.clock())

    async def _budget(
        self, conn: aiosqlite.Connection, settings: GuildSettings, now: float
    ) -> BudgetStanding:
        start, end = window_bounds(Window.MONTH, now, settings.timezone, settings.reset_hour)
        cost = await spent(conn, settings.guild_id, start, end)
        return BudgetStanding(settings.monthly_budget, cost, start, end)

    async def _context(self, conn: aiosqlite.Connection, requester: Requester) -> _Context:
        assert requester.guild_id is not None
        settings = await load_guild_settings(conn, requester.guild_id)
        rows = await load_limit_rows(conn, requester.guild_id, requester.user_id)
        return _Context(settings, resolve_limits(rows, requester))

    async def _check(
        self,
        conn: aiosqlite.Connection,
        requester: Requester,
        new: NewJob,
        now: float,
    ) -> None:
        if requester.guild_id is None:
            raise _refuse("dm", "bot", None, "Videos can only be generated inside a server.")
        guild_id, user_id = requester.guild_id, requester.user_id
        ctx = await self._context(conn, requester)
        settings, limits = ctx.settings, ctx.limits

        block = await active_block(conn, guild_id, user_id, now)
        if block is not None:
            until = (
                f"The block ends {_when(block.expires_at)}."
                if block.expires_at
                else "It lasts until a moderator lifts it."
            )
            raise _refuse(
                "blocked",
                "moderator block",
                block.expires_at,
                f"A moderator has blocked you from generating videos here: {block.reason}. "
                + until,
            )

        allowed = settings.allowed_channel_ids
        if allowed and not ({requester.channel_id, requester.parent_channel_id} & allowed):
            channels = ", ".join(f"<#{c}>" for c in sorted(allowed))
            raise _refuse(
                "channel",
                "server",
                None,
                f"Videos can't be generated in this channel. Use {channels}.",
            )

        patterns = await load_blocked_patterns(conn, guild_id)
        hit = find_blocked_pattern(patterns, new.request.prompt)
        if hit is not None:
            # This transaction is about to roll back: record the event just after it.
            self._later(self.moderation.record_blocked_prompt(requester, hit, new.request.prompt))
            raise _refuse(
                BLOCKED_PROMPT,
                "server moderators",
                None,
                "Your prompt contains a word or phrase this server's moderators have blocked, "
                "so it was not sent. Rephrase it and try again.",
            )

        self._check_gates(new.request, limits)

        cooldown = limits["cooldown_seconds"]
        if cooldown.value:
            last = await _last_job_at(conn, guild_id, user_id)
            if last is not None and now < last + cooldown.value:
                raise _refuse(
                    cooldown.name,
                    cooldown.scope,
                    last + cooldown.value,
                    f"Slow down: there's a cooldown of {cooldown.value} seconds between "
                    f"requests (set by {_by(cooldown.scope)}). You can generate again "
                    f"{_when(last + cooldown.value)}.",
                )

        concurrent = limits["concurrent_jobs"]
        if concurrent.value is not None:
            active = await _active_jobs(conn, guild_id, user_id)
            if active + 1 > concurrent.value:
                raise _refuse(
                    concurrent.name,
                    concurrent.scope,
                    None,
                    f"You already have {active} video(s) in progress, the most you may run at "
                    f"once (set by {_by(concurrent.scope)}). Try again when one finishes.",
                )

        cost = new.estimated_cost
        if settings.monthly_budget is not None:
            budget = await self._budget(conn, settings, now)
            if budget.spent + cost > settings.monthly_budget:
                money = functools.partial(format_money, currency=self.currency)
                raise _refuse(
                    "budget",
                    "server budget",
                    budget.resets_at,
                    f"This server's monthly video budget is used up: {money(budget.spent)} of "
                    f"{money(settings.monthly_budget)} spent, and this video would cost about "
                    f"{money(cost)}. The budget resets {_when(budget.resets_at)}.",
                )

        asked = Usage(1, new.request.duration, cost)
        for window in Window:
            ws = await _window_meters(conn, ctx, user_id, window, now)
            for meter in ws.meters:
                metric = Metric(meter.name)
                if meter.limit is None or meter.used + asked.of(metric) <= meter.limit + 1e-9:
                    continue
                raise _refuse(
                    f"{metric}_per_{window}",
                    meter.scope,
                    ws.resets_at,
                    self._window_message(metric, window, meter, asked, ws.resets_at),
                )

    def _window_message(
        self, metric: Metric, window: Window, meter: Meter, asked: Usage, resets_at: float
    ) -> str:
        by = f"set by {_by(meter.scope)}"
        if meter.granted:
            by += f", including {meter.granted:g} extra granted"
        resets = f"It resets {_when(resets_at)}."
        if metric is Metric.GENERATIONS:
            return (
                f"You've used {meter.used:g} of your {meter.limit:g} videos {window.this} "
                f"({by}). {resets}"
            )
        if metric is Metric.SECONDS:
            return (
                f"This {asked.seconds}-second video would go past your {meter.limit:g} seconds "
                f"of video {window.this} ({by}): {meter.remaining:g} seconds left. Ask for a "
                f"shorter video, or wait: {resets}"
            )
        money = functools.partial(format_money, currency=self.currency)
        return (
            f"This video (about {money(asked.cost)}) would go past your estimated-cost limit "
            f"of {money(meter.limit or 0)} {window.this} ({by}): {money(meter.remaining or 0)} "
            f"left. {resets}"
        )

    def _check_gates(self, request: GenerationRequest, limits: dict[str, EffectiveLimit]) -> None:
        longest = limits["max_duration"]
        if longest.value is not None and request.duration > longest.value:
            raise _refuse(
                longest.name,
                longest.scope,
                None,
                f"Videos can be at most {longest.value} seconds long for you (set by "
                f"{_by(longest.scope)}); you asked for {request.duration}. Choose "
                f"{longest.value} seconds or less.",
            )
        highest = limits["max_resolution"]
        if highest.value is not None and generosity(highest.name, request.resolution) > generosity(
            highest.name, highest.value
        ):
            raise _refuse(
                highest.name,
                highest.scope,
                None,
                f"The highest resolution you may use is {highest.value} (set by "
                f"{_by(highest.scope)}); you asked for {request.resolution}.",
            )
        uses = {
            "web_search": request.web_search,
            "reference_images": bool(
                request.reference_images or request.first_frame or request.last_frame
            ),
            "reference_videos": bool(request.reference_videos),
            "reference_audios": bool(request.reference_audios),
        }
        for name, used in uses.items():
            gate = limits[name]
            if used and not gate.value:
                label = LIMITS[name].label
                raise _refuse(
                    name,
                    gate.scope,
                    None,
                    f"{label[0].upper()}{label[1:]} are not allowed for you here (set by "
                    f"{_by(gate.scope)}). Remove them and try again."
                    if name != "web_search"
                    else f"Web search is turned off for you here (set by {_by(gate.scope)}). "
                    "Try again without `web_search`.",
                )

    # -- moderators --------------------------------------------------------------------

    async def set_limit(
        self, actor: Requester, scope: str, scope_id: int | None, name: str, value: str
    ) -> AuditEntry:
        """Set one limit for the server (scope_id ignored), a role or a member."""
        await self.moderation.require_moderator(actor)
        parsed = parse_limit_value(name, value)
        return await self._write_limit(actor, scope, scope_id, name, parsed, clear=False)

    async def clear_limit(
        self, actor: Requester, scope: str, scope_id: int | None, name: str
    ) -> AuditEntry:
        """Remove a limit at this level, so the next level decides again."""
        await self.moderation.require_moderator(actor)
        _spec(name)
        return await self._write_limit(actor, scope, scope_id, name, None, clear=True)

    async def _write_limit(
        self,
        actor: Requester,
        scope: str,
        scope_id: int | None,
        name: str,
        value: LimitValue,
        *,
        clear: bool,
    ) -> AuditEntry:
        if scope not in SCOPES:
            raise ModerationError(f"The scope must be one of {', '.join(SCOPES)}.")
        if scope != "server" and scope_id is None:
            raise ModerationError(f"Name the {scope} this limit is for.")
        sid = 0 if scope == "server" else int(scope_id or 0)
        guild_id = actor.guild_id
        assert guild_id is not None
        now = self.clock()
        async with self.store.transaction() as conn:
            async with conn.execute(
                "SELECT value FROM quota_limits WHERE guild_id = ? AND scope = ? "
                "AND scope_id = ? AND name = ?",
                (guild_id, scope, sid, name),
            ) as cur:
                row = await cur.fetchone()
            old = row[0] if row else None
            if clear:
                if row is None:
                    raise ModerationError(f"`{name}` is not set for this {scope}.")
                await conn.execute(
                    "DELETE FROM quota_limits WHERE guild_id = ? AND scope = ? "
                    "AND scope_id = ? AND name = ?",
                    (guild_id, scope, sid, name),
                )
                new = None
            else:
                new = format_limit_value(name, value)
                await conn.execute(
                    "INSERT INTO quota_limits (guild_id, scope, scope_id, name, value, "
                    "updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (guild_id, scope, scope_id, name) DO UPDATE SET "
                    "value = excluded.value, updated_by = excluded.updated_by, "
                    "updated_at = excluded.updated_at",
                    (guild_id, scope, sid, name, new, actor.user_id, now),
                )
            target = (
                "server"
                if scope == "server"
                else f"{'user' if scope == 'member' else 'role'}:{sid}"
            )
            return await record_audit(
                conn,
                guild_id=guild_id,
                actor_id=actor.user_id,
                action=f"{'cleared' if clear else 'set'} the limit {name} for",
                target=target,
                old_value=old,
                new_value=new,
                at=now,
            )

    async def list_limits(
        self, actor: Requester, scope: str | None = None, scope_id: int | None = None
    ) -> list[LimitSetting]:
        await self.moderation.require_moderator(actor)
        async with self.store.conn.execute(
            "SELECT * FROM quota_limits WHERE guild_id = ? AND (? IS NULL OR scope = ?) "
            "AND (? IS NULL OR scope_id = ?) ORDER BY scope, scope_id, name",
            (actor.guild_id, scope, scope, scope_id, scope_id),
        ) as cur:
            rows = await cur.fetchall()
        return [
            LimitSetting(
                r["scope"],
                r["scope_id"],
                r["name"],
                _decode(r["name"], r["value"]),
                r["updated_by"],
                r["updated_at"],
            )
            for r in rows
            if r["name"] in LIMITS
        ]

    async def effective_limits(self, requester: Requester) -> dict[str, EffectiveLimit]:
        """What applies to one member (build ``requester`` from that member's roles)."""
        ctx = await self._context(self.store.conn, requester)
        return ctx.limits

    async def grant(
        self,
        actor: Requester,
        user_id: int,
        window: Window | str,
        *,
        generations: int = 0,
        seconds: int = 0,
        cost: float = 0.0,
    ) -> AuditEntry:
        """Extra allowance for the member in the current ``window`` only."""
        await self.moderation.require_moderator(actor)
        window = _window(window)
        if min(generations, seconds, cost) < 0 or not (generations or seconds or cost):
            raise ModerationError("Grant a positive number of generations, seconds or cost.")
        return await self._adjust(
            actor, user_id, [window], "grant", Usage(generations, seconds, cost)
        )

    async def reset(
        self, actor: Requester, user_id: int, window: Window | str | None = None
    ) -> AuditEntry:
        """Start the member's count afresh in ``window`` (all windows when None)."""
        await self.moderation.require_moderator(actor)
        windows = list(Window) if window is None else [_window(window)]
        return await self._adjust(actor, user_id, windows, "reset", Usage())

    async def _adjust(
        self, actor: Requester, user_id: int, windows: list[Window], kind: str, extra: Usage
    ) -> AuditEntry:
        guild_id = actor.guild_id
        assert guild_id is not None
        now = self.clock()
        async with self.store.transaction() as conn:
            settings = await load_guild_settings(conn, guild_id)
            used_before = []
            for window in windows:
                start, _ = window_bounds(window, now, settings.timezone, settings.reset_hour)
                if kind == "reset":
                    ctx = _Context(settings, resolve_limits([], Requester(user_id, guild_id, 0)))
                    ws = await _window_meters(conn, ctx, user_id, window, now)
                    used_before.append(
                        f"{window}: {ws.generations.used:g} videos, {ws.seconds.used:g}s, "
                        f"{ws.cost.used:.2f}"
                    )
                await conn.execute(
                    "INSERT INTO quota_adjustments (guild_id, user_id, kind, window, "
                    "window_start, generations, seconds, cost, actor_id, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        guild_id,
                        user_id,
                        kind,
                        window.value,
                        int(start),
                        extra.generations,
                        extra.seconds,
                        extra.cost,
                        actor.user_id,
                        now,
                    ),
                )
            if kind == "grant":
                action = f"granted extra {windows[0].value} quota to"
                old = None
                new = f"+{extra.generations} videos, +{extra.seconds}s, +{extra.cost:g} cost"
            else:
                action = f"reset the {'/'.join(w.value for w in windows)} quota of"
                old = "; ".join(used_before)
                new = "0"
            return await record_audit(
                conn,
                guild_id=guild_id,
                actor_id=actor.user_id,
                action=action,
                target=f"user:{user_id}",
                old_value=old,
                new_value=new,
                at=now,
            )


def _window(window: Window | str) -> Window:
    try:
        return Window(window)
    except ValueError:
        raise ModerationError("The window must be day, week or month.") from None
