"""``python -m bot doctor``: check a setup and print one verdict per line; exit 0 only if
nothing failed.

What it checks, in order: every setting (valid? set or default?), ffmpeg (the bundled one
runs), the database (which engine; a SQLite file: writable, migrations, WAL; PostgreSQL:
the server answers, the bot's user may write, migrations), the video provider (the model-detail call
`bot.provider_health.check_provider`, the same one the bot makes at start: the key works,
the model exists, which parameters and values the provider lists), the Discord token
(``GET /users/@me``: who the bot is) and, in each server the bot is in, its permissions in
every channel where members may generate and in the mod-log channel.

The permissions come from discord.py's own objects after a short gateway connection, not
from REST: ``channel.permissions_for(guild.me)`` is the very computation the bot makes
before it posts (`cogs.video.poster`), so the doctor can't disagree with the bot; the
connection sees active threads too and proves the gateway address works. It costs a few
seconds and one of the day's IDENTIFYs. Nothing is written anywhere, and no secret is
printed (the output is redacted like the logs).
"""

from __future__ import annotations

import asyncio
import enum
import os
import sqlite3
import textwrap
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import discord

from bot import VERSION
from bot.db.database import Database, DatabaseUnavailable
from bot.db.dialect import postgres_access
from bot.db.migrations import MIGRATIONS
from bot.db.servers import GuildSettings, ServerSettingsRepository
from bot.discord_endpoints import DISCORD_API_BASE, point_discord_at
from bot.gmi import GMIClient, ModelDetail, ModelParameter
from bot.jobs.destinations import ResultsIn
from bot.logs import SecretFilter
from bot.markup import plural
from bot.media.ffmpeg import ffmpeg_exe
from bot.model_offer import (
    DURATION_RANGE,
    INPUTS,
    RATIOS,
    RESOLUTIONS,
    ModelOffer,
    bounds,
    choices,
)
from bot.params import GenerationRequest
from bot.provider_health import ProviderProblem, check_provider, provider_host
from bot.settings import Settings, SettingsError, environment_secrets
from cogs.video.poster import (
    NEEDED_TO_POST,
    missing_post_permissions,
    missing_thread_permissions,
)

LOGIN_TIMEOUT = 20.0
READY_TIMEOUT = 30.0
FFMPEG_TIMEOUT = 15.0
DETAIL_WIDTH = 80  # the detail column wraps here
# Environment variables that look like settings: one of these prefixes and not a setting.
SETTING_PREFIXES = ("DISCORD_", "GMI_", "SEEDANCE_", "POLL_", "PRICE_", "METRICS_", "JOB_")
PROVIDER_HINTS = {
    ProviderProblem.KEY_REJECTED: "check GMI_API_KEY (GMI Cloud console > API keys)",
    ProviderProblem.MODEL_UNKNOWN: "check SEEDANCE_MODEL (ids are case-sensitive)",
    ProviderProblem.WRONG_ADDRESS: "check GMI_API_BASE_URL (see .env.example)",
    ProviderProblem.UNREACHABLE: "check GMI_API_BASE_URL and this machine's network",
}


class Verdict(enum.StrEnum):
    OK = "ok"
    WARN = "warn"  # works, but worth a look; does not fail the doctor
    FAIL = "FAIL"
    SKIP = "skip"  # not checked: something it needs failed first


@dataclass(frozen=True)
class Finding:
    area: str
    subject: str
    verdict: Verdict
    detail: str


@dataclass
class Report:
    secrets: tuple[str, ...] = ()
    findings: list[Finding] = field(default_factory=list)

    def add(self, area: str, subject: str, verdict: Verdict, detail: str) -> None:
        self.findings.append(Finding(area, subject, verdict, detail))

    @property
    def failed(self) -> bool:
        return any(f.verdict is Verdict.FAIL for f in self.findings)

    def render(self) -> str:
        """The table, then one line of verdict; secrets redacted."""
        header = Finding("check", "what", Verdict.OK, "detail")
        rows = [header, *self.findings]
        area_width = min(max(len(f.area) for f in rows), 24)
        subject_width = min(max(len(f.subject) for f in rows), 34)
        lines = [f"Seedance video bot {VERSION}: doctor", ""]
        indent = " " * (area_width + subject_width + 13)
        for row in rows:
            verdict = "verdict" if row is header else row.verdict.value
            detail = textwrap.wrap(row.detail, DETAIL_WIDTH, break_on_hyphens=False) or [""]
            lines.append(
                f"{row.area:<{area_width}}  {row.subject:<{subject_width}}  {verdict:<7}  "
                f"{detail[0]}".rstrip()
            )
            lines += [indent + more for more in detail[1:]]
        counts = {v: sum(1 for f in self.findings if f.verdict is v) for v in Verdict}
        lines.append("")
        if self.failed:
            lines.append(
                f"{plural(counts[Verdict.FAIL], 'check')} FAILED "
                f"({plural(counts[Verdict.WARN], 'warning')}, "
                f"{counts[Verdict.SKIP]} skipped): fix the FAIL lines, then run the doctor again."
            )
        else:
            lines.append(
                f"All {counts[Verdict.OK]} checks passed "
                f"({plural(counts[Verdict.WARN], 'warning')})."
            )
        return SecretFilter(self.secrets).redact("\n".join(lines))


async def doctor(
    environ: Mapping[str, str] | None = None, *, guild_ready_timeout: float = 2.0
) -> int:
    """Run every check, print the table; 0 if nothing failed, else 1."""
    report = await examine(environ, guild_ready_timeout=guild_ready_timeout)
    print(report.render())
    return 1 if report.failed else 0


async def examine(
    environ: Mapping[str, str] | None = None, *, guild_ready_timeout: float = 2.0
) -> Report:
    env = dict(os.environ if environ is None else environ)
    report = Report(secrets=environment_secrets(env))
    settings = check_settings(env, report)
    await check_ffmpeg(report)
    if settings is None:
        for area in ("database", "provider", "discord"):
            report.add(area, "", Verdict.SKIP, "fix the settings first")
        return report
    db = await check_database(settings, report)
    try:
        await check_provider_setup(settings, report)
        await check_discord(settings, report, db, guild_ready_timeout=guild_ready_timeout)
    finally:
        if db is not None:
            await db.close()
    return report


# -- settings --------------------------------------------------------------------------------


def check_settings(env: Mapping[str, str], report: Report) -> Settings | None:
    try:
        settings: Settings | None = Settings.from_env(env)
        problems: list[str] = []
    except SettingsError as error:
        settings, problems = None, list(error.problems)
    names = set()
    for name, info in Settings.model_fields.items():
        variable = name.upper()
        names.add(variable)
        raw = env.get(variable, "").strip()
        own = [p for p in problems if p.startswith((f"{variable} ", f"{variable}:"))]
        problems = [p for p in problems if p not in own]
        if own:
            report.add("setting", variable, Verdict.FAIL, "; ".join(own))
        elif raw:
            shown = "(hidden)" if info.repr is False else _clip(raw, 70)
            report.add("setting", variable, Verdict.OK, f"set: {shown}")
        else:
            report.add("setting", variable, Verdict.OK, f"default: {_shown(info.default)}")
    for problem in problems:  # rules about several settings together
        report.add("setting", "", Verdict.FAIL, problem)
    for variable in sorted(env):
        if variable.startswith(SETTING_PREFIXES) and variable not in names:
            report.add("setting", variable, Verdict.WARN, "not a setting of this bot: a typo?")
    return settings


def _shown(value: Any) -> str:
    if value is None or value == ():
        return "(empty)"
    return str(value)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- ffmpeg ----------------------------------------------------------------------------------


async def check_ffmpeg(report: Report) -> None:
    """The bundled ffmpeg (imageio-ffmpeg) renders the simulator's videos for dry runs."""
    try:
        exe = ffmpeg_exe()
        process = await asyncio.create_subprocess_exec(
            exe, "-version", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
        )
    except (RuntimeError, OSError) as error:
        report.add("ffmpeg", "bundled", Verdict.FAIL, f"cannot run ffmpeg: {error}")
        return
    try:
        async with asyncio.timeout(FFMPEG_TIMEOUT):
            output, _ = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        report.add("ffmpeg", "bundled", Verdict.FAIL, f"{exe} -version did not answer")
        return
    first_line = output.decode(errors="replace").partition("\n")[0].split(" Copyright")[0]
    if process.returncode != 0 or not first_line.startswith("ffmpeg"):
        report.add("ffmpeg", "bundled", Verdict.FAIL, f"{exe} -version exited {process.returncode}")
    else:
        report.add("ffmpeg", "bundled", Verdict.OK, _clip(first_line, 60))


# -- database --------------------------------------------------------------------------------


def database_file_problem(path: Path) -> tuple[Verdict, str] | None:
    """What stands in the way of the database file, if anything (``None``: it exists and
    is writable)."""
    if path.is_dir():
        return Verdict.FAIL, "DATABASE_PATH is a directory, not a file"
    if not path.exists():
        parent = next(p for p in (path.absolute(), *path.absolute().parents) if p.exists())
        if os.access(parent, os.W_OK):
            return Verdict.OK, "not created yet: the bot creates it at start"
        return Verdict.FAIL, f"cannot be created: {parent} is not writable"
    if not os.access(path, os.R_OK | os.W_OK) or not os.access(path.parent, os.W_OK):
        return Verdict.FAIL, "not writable (the file and its directory must be, for the WAL)"
    return None


async def check_database(settings: Settings, report: Report) -> Database | None:
    """The engine DATABASE_URL or DATABASE_PATH selects, then its schema version; returns
    the database opened read-only, if it exists."""
    if settings.database_url is not None:
        return await check_postgres(settings.database_url, report)
    return await check_sqlite(settings.database_path, report)


async def check_sqlite(path: Path, report: Report) -> Database | None:
    """Writable, migrations, journal."""
    subject = str(path)
    problem = database_file_problem(path)
    if problem is not None:
        report.add("database", subject, *problem)
        return None
    try:
        db = await Database.open_read_only(path)
        version, journal = await db.schema_version(), await db.journal_mode()
    except (sqlite3.Error, OSError) as error:
        report.add("database", subject, Verdict.FAIL, f"not a readable SQLite database: {error}")
        return None
    report.add("database", subject, Verdict.OK, "SQLite file, writable")
    check_migrations(version, report)
    if journal == "wal":
        report.add("database", "journal", Verdict.OK, "WAL")
    else:
        report.add("database", "journal", Verdict.OK, f"{journal}; the bot switches it to WAL")
    return db


async def check_postgres(url: str, report: Report) -> Database | None:
    """The server answers and takes the password, the bot's user may create and write its
    tables, and the schema version (read on a read-only connection)."""
    parts = urlsplit(url)
    subject = f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"
    try:
        db = await Database.open_read_only(url)
    except DatabaseUnavailable as error:
        report.add("database", subject, Verdict.FAIL, f"{error}; check DATABASE_URL")
        return None
    try:
        access = await postgres_access(db.reader)
        version = await db.schema_version()
    except (asyncpg.PostgresError, OSError) as error:
        await db.close()
        report.add("database", subject, Verdict.FAIL, f"{type(error).__name__}: {error}")
        return None
    who = f"{access.server} as user {access.user}"
    if access.refusal is None:
        report.add("database", subject, Verdict.OK, f"connected: {who}")
    else:
        report.add("database", subject, Verdict.FAIL, f"{who}: {access.refusal}")
    check_migrations(version, report)
    report.add(
        "database", "journal", Verdict.OK, "n/a: the PostgreSQL server keeps its own write-ahead log"
    )
    if version == 0:  # no tables yet: like a SQLite file not created yet
        await db.close()
        return None
    return db


def check_migrations(version: int, report: Report) -> None:
    latest = len(MIGRATIONS)
    if version > latest:
        report.add(
            "database", "migrations", Verdict.FAIL,
            f"schema version {version} is newer than this bot knows ({latest}): "
            "an older version of the bot on a newer database?",
        )  # fmt: skip
    elif version < latest:
        report.add(
            "database", "migrations", Verdict.OK,
            f"schema version {version}; {plural(latest - version, 'migration')} apply at the next start",
        )  # fmt: skip
    else:
        report.add("database", "migrations", Verdict.OK, f"current (schema version {version})")


# -- the video provider ----------------------------------------------------------------------


async def check_provider_setup(settings: Settings, report: Report) -> None:
    async with aiohttp.ClientSession() as session:
        gmi = GMIClient(
            session,
            settings.gmi_api_base_url,
            settings.gmi_api_key,
            organization_id=settings.gmi_organization_id,
            timeout=settings.gmi_timeout_seconds,
            max_attempts=2,
        )
        check = await check_provider(gmi, settings.seedance_model)
    if check.problem is not None:
        report.add(
            "provider", check.host, Verdict.FAIL,
            f"{check.describe()}; {PROVIDER_HINTS[check.problem]}",
        )  # fmt: skip
        return
    assert check.found is not None
    kind = "a dry run: the GMI simulator" if check.simulated else "live: generations are billed"
    report.add(
        "provider", check.host, Verdict.OK,
        f"the key works and {check.model} exists ({kind})",
    )  # fmt: skip
    report.add(
        "provider", "parameters", Verdict.OK,
        "; ".join(describe_parameter(p) for p in check.found.parameters) or "none listed",
    )  # fmt: skip
    for subject, text in parameter_mismatches(check.found):
        report.add("provider", subject, Verdict.WARN, text)


def describe_parameter(parameter: ModelParameter) -> str:
    """``duration (integer 4-15, default 5)``, from whatever the provider lists."""
    raw = parameter.raw
    listed = choices(parameter)
    facts = ["|".join(listed) if listed else parameter.type or "?"]
    low, high = (_figure(b) for b in bounds(parameter))
    if low or high:
        facts[0] += f" {low}-{high}"
    if raw.get("max_items") is not None:
        facts.append(f"at most {raw['max_items']}")
    if parameter.required:
        facts.append("required")
    if raw.get("default") is not None:
        facts.append(f"default {raw['default']}")
    return f"{parameter.name} ({', '.join(facts)})"


def _figure(value: float | None) -> str:
    """A bound as the provider wrote it: ``4294967295``, not ``4.29497e+09``."""
    if value is None:
        return ""
    return str(int(value)) if value == int(value) else f"{value:g}"


def parameter_mismatches(detail: ModelDetail) -> list[tuple[str, str]]:
    """Where what the bot offers members differs from what the provider lists. Members who
    pick what the provider doesn't list are refused before anything is spent
    (`bot.model_offer`); the operator may want to know why."""
    listed = {p.name for p in detail.parameters}
    problems = []
    sent = GenerationRequest(prompt="-").to_payload()
    unlisted = [name for name in sent if listed and name not in listed]
    if unlisted:
        problems.append(
            ("parameters", f"the bot sends {', '.join(unlisted)}, which the provider does not list")
        )
    offer = ModelOffer.from_detail(detail)
    for name, ours, theirs in (
        ("resolution", RESOLUTIONS, offer.resolutions),
        ("ratio", RATIOS, offer.ratios),
    ):
        missing = [value for value in ours if value not in theirs]
        if missing:
            problems.append(
                (name, f"the provider lists only {', '.join(theirs)}: members who pick "
                       f"{', '.join(missing)} are refused")
            )  # fmt: skip
    if offer.durations != DURATION_RANGE:
        low, high = offer.durations
        problems.append(("duration", f"the provider lists {low}-{high} s: longer or shorter "
                                     "videos are refused"))  # fmt: skip
    missing_inputs = [INPUTS[name] for name in INPUTS if name not in offer.inputs]
    if missing_inputs:
        problems.append(("inputs", f"the provider does not list {', '.join(missing_inputs)}: "
                                   "jobs with them are refused"))  # fmt: skip
    return problems


# -- Discord ---------------------------------------------------------------------------------


async def check_discord(
    settings: Settings, report: Report, db: Database | None, *, guild_ready_timeout: float
) -> None:
    discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
    point_discord_at(settings.discord_api_base_url, settings.discord_gateway_url)
    host = provider_host(settings.discord_api_base_url or DISCORD_API_BASE)
    intents = discord.Intents.none()
    intents.guilds = True
    client = discord.Client(intents=intents, guild_ready_timeout=guild_ready_timeout)
    connecting: asyncio.Task[None] | None = None
    try:
        try:
            async with asyncio.timeout(LOGIN_TIMEOUT):
                await client.login(settings.discord_token)  # GET /users/@me, then the app
        except discord.LoginFailure:
            report.add(
                "discord", "token", Verdict.FAIL,
                "Discord refused DISCORD_TOKEN (401): copy a new one from the Developer "
                "Portal > your application > Bot > Reset Token",
            )  # fmt: skip
            report.add("discord", "servers", Verdict.SKIP, "needs a working token")
            return
        except discord.HTTPException as error:
            report.add(
                "discord", "token", Verdict.FAIL, f"Discord answered {error.status}: {error.text}"
            )
            return
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            report.add(
                "discord", "token", Verdict.FAIL, f"cannot reach Discord at {host}: {error!r}"
            )
            return
        user = client.user
        assert user is not None
        report.add(
            "discord", "token", Verdict.OK,
            f"the bot is {user} (id {user.id}), application {client.application_id}",
        )  # fmt: skip
        application = client.application
        if application is not None and application.interactions_endpoint_url:
            report.add(
                "discord", "application", Verdict.FAIL,
                "an Interactions Endpoint URL is set in the Developer Portal: Discord sends "
                "commands there instead of to the bot; remove it",
            )  # fmt: skip
        started = time.monotonic()
        connecting = asyncio.create_task(client.connect(reconnect=False), name="doctor-gateway")
        ready = asyncio.create_task(client.wait_until_ready(), name="doctor-ready")
        await asyncio.wait(
            {connecting, ready}, timeout=READY_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        ready.cancel()
        if not client.is_ready():
            reason = _task_error(connecting) or f"no READY within {READY_TIMEOUT:.0f}s"
            report.add("discord", "gateway", Verdict.FAIL, f"cannot connect: {reason}")
            return
        report.add(
            "discord", "gateway", Verdict.OK,
            f"connected in {time.monotonic() - started:.1f}s; in {plural(len(client.guilds), 'server')}",
        )  # fmt: skip
        if not client.guilds:
            report.add(
                "discord", "servers", Verdict.WARN,
                "the bot is in no server yet: invite it (README, set-up step 3)",
            )  # fmt: skip
        servers = ServerSettingsRepository(db) if db is not None else None
        for guild in client.guilds:
            guild_settings = await servers.get(guild.id) if servers else GuildSettings(guild.id)
            check_server(guild, guild_settings, report)
    finally:
        await client.close()
        if connecting is not None:
            await asyncio.gather(connecting, return_exceptions=True)


def _task_error(task: asyncio.Task[None]) -> str | None:
    if not task.done() or task.cancelled():
        return None
    error = task.exception()
    return None if error is None else f"{type(error).__name__}: {error}"


def check_server(guild: discord.Guild, settings: GuildSettings, report: Report) -> None:
    """The bot's permissions where members may generate (the moderators' allowed channels
    and their threads, or else every text channel and active thread) and in the mod-log."""
    area = f"server {guild.name}"
    me = guild.me
    allowed = settings.allowed_channel_ids
    places: list[discord.TextChannel | discord.Thread] = []
    if allowed:
        for channel_id in sorted(allowed):
            channel = guild.get_channel_or_thread(channel_id)
            if isinstance(channel, discord.TextChannel | discord.Thread):
                places.append(channel)
            else:
                report.add(area, f"channel {channel_id}", Verdict.FAIL,
                           "allowed for generation, but the bot can't see it (deleted?)")  # fmt: skip
        places += [t for t in guild.threads if t.parent_id in allowed and t.id not in allowed]
    else:
        places = [*guild.text_channels, *guild.threads]
    usable = 0
    for place in places:
        is_thread = isinstance(place, discord.Thread)
        missing = missing_post_permissions(place.permissions_for(me), is_thread=is_thread)
        name = f"#{place.name}" + (" (thread)" if is_thread else "")
        if not missing:
            usable += 1
            # all it needs here: what it would miss with no permissions at all
            needed = missing_post_permissions(discord.Permissions.none(), is_thread=is_thread)
            report.add(area, name, Verdict.OK, "has " + ", ".join(needed))
        elif allowed:
            report.add(area, name, Verdict.FAIL,
                       f"missing {', '.join(missing)}: members may generate here but get no video")  # fmt: skip
        else:
            report.add(area, name, Verdict.WARN,
                       f"missing {', '.join(missing)}: members here are told the bot can't post")  # fmt: skip
    if places and not usable and not allowed:
        report.add(area, "channels", Verdict.FAIL,
                   f"the bot can post in none of them (it needs {', '.join(NEEDED_TO_POST)})")  # fmt: skip
    check_result_places(guild, settings, places, area, report)
    check_mod_log(guild, settings, area, report)


def check_result_places(
    guild: discord.Guild,
    settings: GuildSettings,
    places: list[discord.TextChannel | discord.Thread],
    area: str,
    report: Report,
) -> None:
    """Results in threads need the bot to start them where members generate (else results
    there stay in the channel); a gallery needs what any result post needs."""
    if settings.results_in == ResultsIn.THREAD:
        for place in places:
            if isinstance(place, discord.TextChannel):
                missing = missing_thread_permissions(place.permissions_for(guild.me))
                if missing:
                    report.add(area, f"threads in #{place.name}", Verdict.WARN,
                               f"missing {', '.join(missing)}: results there stay in the channel")  # fmt: skip
    if settings.gallery_channel_id is None:
        return
    gallery = guild.get_channel(settings.gallery_channel_id)
    if not isinstance(gallery, discord.TextChannel):
        report.add(area, "gallery", Verdict.FAIL, "the gallery channel no longer exists")
        return
    missing = missing_post_permissions(gallery.permissions_for(guild.me), is_thread=False)
    name = f"gallery #{gallery.name}"
    if missing:
        report.add(area, name, Verdict.FAIL, f"missing {', '.join(missing)}: no copies arrive")
    else:
        report.add(area, name, Verdict.OK, "has " + ", ".join(NEEDED_TO_POST))


def check_mod_log(guild: discord.Guild, settings: GuildSettings, area: str, report: Report) -> None:
    if settings.mod_log_channel_id is None:
        report.add(area, "mod-log", Verdict.WARN,
                   "none set: provider outages only reach the log (/videoadmin settings modlog)")  # fmt: skip
        return
    channel = guild.get_channel_or_thread(settings.mod_log_channel_id)
    if channel is None:
        report.add(area, "mod-log", Verdict.FAIL, "the mod-log channel no longer exists")
        return
    perms = channel.permissions_for(guild.me)
    missing = [p for p in ("view_channel", "send_messages") if not getattr(perms, p)]
    name = f"mod-log #{channel.name}"
    if missing:
        report.add(area, name, Verdict.FAIL, f"missing {', '.join(missing)}")
    else:
        report.add(area, name, Verdict.OK, "has view_channel, send_messages")
