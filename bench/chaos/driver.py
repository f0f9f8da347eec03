"""Driving a chaos run: members ask for videos while the bot, a real ``python -m bot``, is
SIGKILLed again and again, and restarted on the same database until every job has ended.

The run is a series of *lives*. Each life starts the bot and ends with a SIGKILL: at a
named instant (the bot kills itself there, `bot.chaos`), or from outside at a random
instant after the start (start-up included); a life armed at a named instant the bot does
not reach within ``life_seconds`` is killed from outside too. The first lives go through
every named instant. While the bot lives, members send commands (some land as it dies:
those are never answered, and owed nothing), now and then cancel a job, and both sides
misbehave: the GMI simulator answers 5xx, 429 with Retry-After, drops connections after
creating a request, answers slowly or with broken JSON, drops result downloads, fails,
finishes at once or holds a request until it times out, and its result links expire
within seconds; the Discord emulator answers 5xx and 429 to posts, edits, history reads
and interaction answers (now and then for a long while), drops the gateway, and takes the
bot's right to post in a channel away for a life. When enough kills have been made and
enough jobs answered, a last life (faults, but no kill, so no restart repairs anything)
runs until every job has ended; the members then ask ``/video quota`` and the audit
(`bench.chaos.audit`) counts.

Everything random is drawn from one seeded generator (the plan, the commands, the faults),
so a seed names a run; when things happen still depends on the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import signal
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.chaos import POINTS, KillAt
from bot.db.database import Database
from bot.db.jobs import JobRepository
from bot.jobs.lifecycle import SETTLED_STATES
from bot.simulator import GMISimulator, Timings, VideoSpec
from tests.fakecord import FakeDiscord, InteractionFailed, ScenarioError, WaitTimeout
from tests.fakecord.seed import seed_default_world
from tests.support.botprocess import BotProcess
from tests.support.gmi import GMI_TEST_KEY

from .audit import (
    CANCEL,
    FAILURES,
    RESULT_FOOTER,
    STATUS_FOOTER,
    Asked,
    Audit,
    Charge,
    Observed,
    audit,
    charge_shown,
    group,
)

DURATIONS = (4, 5, 6, 8, 10)
RESOLUTIONS = ("480p", "720p")
# Generous, so nobody is refused, but set, so that /video quota shows what is counted.
LIMITS = {"generations_per_month": "100000", "seconds_per_month": "900000"}
# Fast enough to run hundreds of job steps in a few minutes; the rest are the defaults.
BOT_SETTINGS = {
    "LOG_LEVEL": "INFO",
    "POLL_MIN_INTERVAL": "0.2",
    "POLL_MAX_INTERVAL": "1",
    "GMI_TIMEOUT_SECONDS": "1",
    "RECONCILE_WINDOW_SECONDS": "4",
    "GMI_REQUESTS_PER_HOUR": "360000",
    "SHUTDOWN_GRACE_SECONDS": "5",
    "JOB_DEADLINE_SECONDS": "90",  # a request the provider holds times out within the run
}
RESULT_LINK_SECONDS = 2.0  # the simulator's result links expire this soon
NAMED_TRIES = 3  # lives armed at a planned named point before it is given up
NEEDS_A_COMMAND = ("after_storing", "after_status_message")  # only a new job gets there
SETTLED = ", ".join(f"'{state.value}'" for state in SETTLED_STATES)

# What can go wrong on each side; a life draws a few of these.
PROVIDER_FAULTS: tuple[dict[str, Any], ...] = (
    {"call": "submit", "status": 500},  # ambiguous: reconciled through the list
    {"call": "submit", "status": 503, "retry_after": 0.5},
    {"call": "submit", "status": 429, "retry_after": 0.5},
    {"call": "submit", "drop_connection": True, "after_create": True},
    {"call": "submit", "status": 502, "after_create": True},
    {"call": "get", "status": 500},
    {"call": "get", "status": 429, "retry_after": 1},
    {"call": "get", "delay": 2.5},  # slower than GMI_TIMEOUT_SECONDS
    {"call": "get", "malformed_json": True},
    {"call": "list", "status": 503},
    {"call": "media", "drop_connection": True},  # half the video, then the connection drops
)
PROVIDER_OUTCOMES: tuple[dict[str, Any], ...] = (
    {"fail_reason": "chaos: the model refused this one"},
    {"terminal_on_submit": True},
    {"submit_status": "processing"},
    {"hold": True},  # never leaves the queue: the job times out
)
MESSAGES = "/channels/{channel_id}/messages"
EDIT = MESSAGES + "/{message_id}"
DISCORD_FAULTS: tuple[dict[str, Any], ...] = (
    {"method": "POST", "route": MESSAGES, "status": 503},
    {"method": "POST", "route": MESSAGES, "status": 429},
    {"method": "PATCH", "route": EDIT, "status": 503},
    {"method": "PATCH", "route": EDIT, "status": 429},
    {"method": "PATCH", "route": EDIT, "status": 503, "times": 8},  # an outage of edits
    {"method": "POST", "route": MESSAGES, "status": 503, "times": 8},  # and of posts
    {"method": "GET", "route": MESSAGES, "status": 503},
    {"method": "POST", "route": "/interactions/{webhook_id}/{webhook_token}/callback", "status": 503},
    {"method": "GET", "route": "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
     "status": 503},
)


@dataclass(frozen=True)
class ChaosConfig:
    jobs: int = 40  # commands answered (owed a result) before the last life
    kills: int = 50  # at least this many SIGKILLs
    members: int = 6
    seed: int = 1
    # The named kills to make first, in order (each retried until it happened, at most
    # `NAMED_TRIES` lives); then lives are armed at a named point drawn at random
    # (``named_share`` of them) or killed at a random instant. Empty: every point once.
    named: tuple[KillAt, ...] = ()
    named_share: float = 0.6
    faults: bool = True
    life_seconds: float = 12.0
    settle_seconds: float = 300.0
    workdir: Path | None = None


@dataclass(frozen=True)
class Life:
    kill_at: KillAt | None  # the bot kills itself here, or
    kill_after: float | None  # is killed from outside this long after its start
    commands: int
    cancel: bool  # a member cancels one of their running jobs
    drop_gateway: bool


@dataclass
class Report:
    audit: Audit
    kills: int = 0
    named: Counter[str] = field(default_factory=Counter)  # kills at each named instant
    at_random: int = 0
    missed: int = 0  # lives whose named instant never came (killed from outside instead)
    lives: int = 0
    asked: int = 0
    seconds: float = 0.0
    workdir: Path = Path()

    def figures(self) -> dict[str, int]:
        """The columns of the table, by name."""
        failures = {name: getattr(self.audit, name) for name in FAILURES}
        return {"jobs": self.audit.jobs, "kills": self.kills, **failures}

    @property
    def clean(self) -> bool:
        """0 in every column of failures, and nothing else went wrong."""
        return not self.audit.problems and not any(getattr(self.audit, n) for n in FAILURES)


class Harness:
    """The emulator, the simulator and the bot's process, and what members asked."""

    def __init__(self, config: ChaosConfig, workdir: Path) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.emu = FakeDiscord()
        self.world = seed_default_world(self.emu)
        self.emu.default = self.world  # type: ignore[attr-defined]  # BotProcess reads it
        guild = self.world.guild
        extra = [guild.add_member(f"member{i}") for i in range(max(0, config.members - 2))]
        self.members = [self.world.alice, self.world.bob, *extra][: config.members]
        self.channels = [self.world.channel, guild.add_text_channel("videos"), self.world.thread]
        self.sim = GMISimulator(
            api_key=GMI_TEST_KEY,
            timings=Timings(),
            timing_profile=self._timings,
            video=VideoSpec(width=160, height=90, duration=1.0, fps=12),
            url_ttl=RESULT_LINK_SECONDS,
            max_queued=100_000,
        )
        self.workdir = workdir
        self.database = workdir / "bot.sqlite3"
        self.asked: dict[str, Asked] = {}
        self.named = list(config.named or (KillAt(point) for point in POINTS))
        self.named_tries = 0
        self.report = Report(Audit(), workdir=workdir)
        self.bot: BotProcess
        self.db: Database

    async def __aenter__(self) -> Harness:
        await self.emu.start()
        await self.sim.start()
        # BotProcess reads the jobs through its own connection (the audit opens another).
        self.db = await Database.open(self.database)
        jobs = JobRepository(self.db, time.time)
        self.bot = BotProcess(self.emu, self.sim, jobs, self.database, self.workdir)  # bot.log
        self.bot.env.update(BOT_SETTINGS)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.bot.stop()
        await self.db.close()
        await self.sim.close()
        await self.emu.close()

    def _timings(self, payload: dict[str, Any]) -> Timings:
        """Each request's own queue and generation times, the same for the same prompt."""
        rng = random.Random(f"{self.config.seed}:{payload.get('prompt')}")
        return Timings(queued=rng.uniform(0, 1.5), processing=rng.uniform(0.5, 3.0))

    # -- what the chat shows --------------------------------------------------------------

    def _bot_messages(self) -> list[Any]:
        me = self.emu.bot_user.id
        channels = list(self.emu.world.channels.values())
        return [m for chan in channels for m in chan.messages if m.author.id == me]

    def answered(self) -> int:
        return len(group(self._bot_messages(), STATUS_FOOTER))

    def _unsettled(self) -> int:
        """Jobs still to end, and settled jobs whose status message isn't known to show it
        (the database's word, used only to know when to stop waiting)."""
        if not self.database.exists():
            return 0
        with contextlib.closing(sqlite3.connect(f"file:{self.database}?mode=ro", uri=True)) as db:
            return int(
                db.execute(
                    f"SELECT COUNT(*) FROM jobs WHERE state NOT IN ({SETTLED}) "  # noqa: S608
                    "OR (status_message_id IS NOT NULL AND status_shown IS NOT state)"
                ).fetchone()[0]
            )

    # -- the plan -----------------------------------------------------------------------

    def draw_life(self) -> Life:
        """The next life: how it ends, and what members and both sides do meanwhile."""
        rng, config, report = self.rng, self.config, self.report
        kill_at = None
        if self.named:
            kill_at = self.named[0]
        elif rng.random() < config.named_share:
            kill_at = KillAt(rng.choice(POINTS), rng.choice((1, 1, 1, 2)))
        # Enough commands per life to have the jobs answered when the kills are made.
        owed = max(0, config.jobs - self.answered())
        rate = owed / max(1, config.kills - report.kills)
        commands = int(rate) + (rng.random() < rate - int(rate))
        if kill_at is not None:
            if kill_at.point in NEEDS_A_COMMAND:
                commands = max(commands, kill_at.nth)
            elif owed or not self._unsettled():
                commands = max(commands, 1)  # something to get there
        elif owed and not self._unsettled():
            commands = 1  # nothing else would move
        return Life(
            kill_at=kill_at,
            kill_after=None if kill_at else rng.uniform(0.3, 6.0),
            commands=commands,
            cancel=rng.random() < 0.15,
            drop_gateway=self.config.faults and rng.random() < 0.15,
        )

    def _inject_faults(self) -> None:
        """This life's faults; those of the life before that nothing met are forgotten
        (else they pile up, and a lone job meets them all at the end)."""
        self.sim.clear_faults()
        self.emu.clear_failures()
        posting = self.channels[:2]  # the thread follows its channel
        for channel in posting:
            channel.set_bot_permissions(send_messages=None)
        if not self.config.faults:
            return
        rng = self.rng
        if rng.random() < 0.1:  # for this life, results from there go by DM
            rng.choice(posting).set_bot_permissions(send_messages=False)
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            self.sim.fault(**rng.choice(PROVIDER_FAULTS))
        for _ in range(rng.choice((0, 1, 1, 2))):
            self.emu.fail_next(**rng.choice(DISCORD_FAULTS), retry_after=0.3)
        if rng.random() < 0.3:
            self.sim.script_next(**rng.choice(PROVIDER_OUTCOMES))

    # -- one life -----------------------------------------------------------------------

    async def set_up(self) -> None:
        """A first, undisturbed life: a moderator sets the limits, then the bot stops."""
        await self.bot.start()
        for name, value in LIMITS.items():
            ix = await self.emu.run_command(
                self.world.mod, self.world.channel, "videoadmin limit set", name=name, value=value
            )
            await ix.wait_response_message(10)
        await self.bot.stop_with(signal.SIGTERM, 30)

    async def life(self, plan: Life) -> None:
        self.report.lives += 1
        if plan.kill_at is None:
            self.bot.env.pop("CHAOS_KILL_AT", None)
        else:
            self.bot.env["CHAOS_KILL_AT"] = str(plan.kill_at)
        self._inject_faults()
        killed_by_us = asyncio.Event()

        async def kill_later(delay: float) -> None:
            await asyncio.sleep(delay)
            killed_by_us.set()
            await self.bot.kill()

        started = time.monotonic()
        lifetime = plan.kill_after if plan.kill_after is not None else self.config.life_seconds
        killer = asyncio.create_task(kill_later(lifetime))
        activity: asyncio.Task[None] | None = None
        try:
            if await self.bot.start(may_die=True):
                activity = asyncio.create_task(self._activity(plan, lifetime))
            process = self.bot.process
            assert process is not None
            remaining = lifetime - (time.monotonic() - started) + 10
            await asyncio.wait_for(process.wait(), max(remaining, 10))
        finally:
            killer.cancel()
            for task in (killer, activity):
                if task is not None:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        self._count_death(plan, killed_by_us.is_set())

    def _count_death(self, plan: Life, killed_by_us: bool) -> None:
        process = self.bot.process
        assert process is not None
        report = self.report
        if process.returncode != -signal.SIGKILL:
            report.audit.problems.append(
                f"life {report.lives}: the bot exited with {process.returncode} (see bot.log)"
            )
            return
        report.kills += 1
        if not killed_by_us:
            assert plan.kill_at is not None, "killed by nobody"
            report.named[plan.kill_at.point] += 1
        elif plan.kill_at is not None:
            report.missed += 1
        else:
            report.at_random += 1
        if self.named and plan.kill_at == self.named[0]:
            self.named_tries += 1
            if not killed_by_us or self.named_tries == NAMED_TRIES:
                self.named.pop(0)
                self.named_tries = 0

    async def _activity(self, plan: Life, lifetime: float) -> None:
        """What members (and Discord's gateway) do while the bot lives."""
        rng = self.rng
        span = min(lifetime, 4.0)
        actions: list[tuple[float, Callable[[], Awaitable[None]]]] = [
            (rng.uniform(0, span), self._ask) for _ in range(plan.commands)
        ]
        if plan.cancel:
            actions.append((rng.uniform(0, span), self._cancel_one))
        if plan.drop_gateway:
            actions.append((rng.uniform(0, span), self.emu.drop_connections))
        started = time.monotonic()
        for at, action in sorted(actions, key=lambda a: a[0]):
            await asyncio.sleep(max(0.0, started + at - time.monotonic()))
            with contextlib.suppress(ScenarioError):  # the bot is gone, or the button
                await action()

    async def _ask(self) -> None:
        rng = self.rng
        number = len(self.asked) + 1
        member = rng.choice(self.members)
        channel = rng.choice(self.channels)
        duration = rng.choice(DURATIONS)
        prompt = f"chaos clip {number}"
        ix = await self.emu.run_command(
            member, channel, "video generate text",
            prompt=prompt, duration=duration, resolution=rng.choice(RESOLUTIONS),
        )  # fmt: skip
        self.asked[prompt] = Asked(prompt, member.id, duration, ix.id)

    async def _cancel_one(self) -> None:
        """The requester of a running job (its status message offers Cancel) clicks it."""
        me = self.emu.bot_user.id
        running = [
            (m, button)
            for chan in self.channels
            for m in chan.messages
            if m.author.id == me and m.interaction is not None
            for button in [b.get("custom_id", "") for b in m.buttons()]
            if re.fullmatch(CANCEL, button)
        ]
        if not running:
            return
        message, button = self.rng.choice(running)
        asked = next((a for a in self.asked.values() if a.interaction == message.interaction.id), None)
        member = next((m for m in self.members if asked and m.id == asked.member_id), None)
        if member is not None:
            await self.emu.click(member, message, custom_id=button)

    # -- the end ------------------------------------------------------------------------

    async def settle(self) -> None:
        """A last life, never killed, until every job has ended (bounded): faults still
        come, and now no restart repairs what they leave."""
        self.bot.env.pop("CHAOS_KILL_AT", None)
        self._inject_faults()
        await self.bot.start()
        try:
            await self.emu.wait_for(
                lambda: self._unsettled() == 0, self.config.settle_seconds, "every job to end"
            )
        except WaitTimeout:
            # Owed jobs left so are counted lost; this also names any nobody was shown.
            self.report.audit.problems.append(
                f"after {self.config.settle_seconds:g} s of the last life, {self._unsettled()} "
                "jobs still unsettled or their status message not known to show it"
            )

    async def usage(self) -> dict[int, Charge]:
        """Each member's usage as ``/video quota`` shows it."""
        shown: dict[int, Charge] = {}
        for member in self.members:
            for _ in range(3):  # a Discord fault may still be waiting for an answer
                ix = await self.emu.run_command(member, self.world.channel, "video quota")
                try:
                    message = await ix.wait_response_message(10)
                except InteractionFailed:
                    continue
                shown[member.id] = charge_shown(message.embeds[0].get("description", ""))
                break
        return shown

    def whereabouts(self, observed: Observed) -> list[str]:
        """For each job recorded as posted whose result the audit did not see: what became
        of the message the database names (a lead for whoever reads the run)."""
        notes = []
        for job_id, job in sorted(observed.jobs.items()):
            if job.result_message_id is None or job_id in observed.results:
                continue
            found = [
                (chan, m)
                for chan in self.emu.world.channels.values()
                for m in chan.all_messages
                if m.id == job.result_message_id
            ]
            if not found:
                notes.append(f"job #{job_id}: message {job.result_message_id} never existed")
                continue
            chan, m = found[0]
            touched = [f"{r.method} {r.status}" for r in self.emu.requests if str(m.id) in r.path]
            footer = (m.embeds[0].get("footer") or {}).get("text") if m.embeds else None
            notes.append(
                f"job #{job_id}: message {m.id} in {chan.name} (thread {chan.is_thread}), "
                f"deleted {m.deleted}, edits {m.edits}, content {m.content[:80]!r}, "
                f"footer {footer!r}, reply_to {m.reply_to}, requests on it: {touched}"
            )
        return notes

    async def observe(self) -> Observed:
        messages = self._bot_messages()
        db = await Database.open_read_only(self.database)
        try:
            stored = await JobRepository(db, time.time).recent_in_guild(
                self.world.guild.id, limit=1_000_000
            )
        finally:
            await db.close()
        return Observed(
            asked=self.asked,
            status=group(messages, STATUS_FOOTER),
            results=group(messages, RESULT_FOOTER),
            submits=Counter(str(r.payload.get("prompt")) for r in self.sim.requests.values()),
            jobs={job.id: job for job in stored},
            usage=await self.usage(),
        )


async def run_chaos(config: ChaosConfig) -> Report:
    """One chaos run; the report's figures are what the audit counted."""
    workdir = config.workdir or Path(tempfile.mkdtemp(prefix="seedance-chaos-"))
    started = time.monotonic()
    async with Harness(config, workdir) as harness:
        await harness.set_up()
        report = harness.report
        most_lives = 4 * (config.kills + config.jobs)
        while (
            report.kills < config.kills or harness.answered() < config.jobs or harness.named
        ) and report.lives < most_lives:
            await harness.life(harness.draw_life())
        if report.lives == most_lives:
            report.audit.problems.append(f"stopped after {most_lives} lives, short of the plan")
        await harness.settle()
        observed = await harness.observe()
        problems = report.audit.problems + [
            f"emulator: {e}" for e in harness.emu.internal_errors + harness.emu.unknown_routes
        ]
        report.audit = audit(observed)
        report.audit.problems[:0] = problems
        report.audit.problems += harness.whereabouts(observed)
        report.asked = len(harness.asked)
        await harness.bot.stop_with(signal.SIGTERM, 30)
    report.seconds = time.monotonic() - started
    return report
