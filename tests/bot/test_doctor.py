"""``python -m bot doctor`` against the Discord emulator and the GMI simulator: a good setup
passes, and each check fails on its own when its part of the setup is wrong."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import discord.gateway
import discord.http
import pytest

from bot.db.database import Database
from bot.db.migrations import MIGRATIONS
from bot.db.servers import ServerSettingsRepository
from bot.doctor import Verdict, describe_parameter, doctor, examine
from bot.gmi import ModelParameter
from tests.support.gmi import GMI_TEST_KEY
from tests.support.postgres import PASSWORD

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def restore_discord_endpoints():
    """The doctor points discord.py at the emulator, process-wide, as the bot does."""
    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    yield
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


@pytest.fixture
def env(fakecord, gmi_sim, tmp_path) -> dict[str, str]:
    return {
        "DISCORD_TOKEN": fakecord.token,
        "GMI_API_KEY": GMI_TEST_KEY,
        "GMI_API_BASE_URL": gmi_sim.base_url,
        "DATABASE_PATH": str(tmp_path / "bot.sqlite3"),
        "DISCORD_API_BASE_URL": fakecord.api_base_url,
        "DISCORD_GATEWAY_URL": fakecord.gateway_url,
    }


async def check(env) -> dict[tuple[str, str], tuple[Verdict, str]]:
    report = await examine(env, guild_ready_timeout=0.05)
    return {(f.area, f.subject): (f.verdict, f.detail) for f in report.findings}


def failed(found) -> list[tuple[str, str]]:
    return [key for key, (verdict, _) in found.items() if verdict is Verdict.FAIL]


async def migrated(env) -> Database:
    return await Database.open(env["DATABASE_PATH"])


async def test_a_good_setup_passes_and_prints_no_secret(env, fakecord, capsys):
    await (await migrated(env)).close()
    assert await doctor(env, guild_ready_timeout=0.05) == 0
    out = capsys.readouterr().out
    assert fakecord.token not in out and GMI_TEST_KEY not in out
    assert "All " in out and "checks passed" in out
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith("setting ")}
    assert "set: (hidden)" in lines["DISCORD_TOKEN"] and "set: (hidden)" in lines["GMI_API_KEY"]
    assert "default: seedance-2-0-fast-260128" in lines["SEEDANCE_MODEL"]
    assert f"set: {env['GMI_API_BASE_URL']}" in lines["GMI_API_BASE_URL"]

    found = await check(env)
    assert failed(found) == []
    assert "the bot is FakeBot" in found[("discord", "token")][1]
    assert "in 1 server" in found[("discord", "gateway")][1]
    assert "the key works and seedance-2-0-fast-260128 exists (a dry run" in found[
        ("provider", env["GMI_API_BASE_URL"].split("/")[2])][1]
    parameters = found[("provider", "parameters")][1]
    assert "duration (integer 4-15, default 5)" in parameters
    assert "resolution (480p|720p|1080p, default 720p)" in parameters
    assert found[("database", env["DATABASE_PATH"])][1] == "SQLite file, writable"
    assert found[("database", "migrations")][1].startswith("current")
    assert found[("database", "journal")][1] == "WAL"
    assert found[("server Test Server", "#general")] == (
        Verdict.OK, "has view_channel, send_messages, embed_links, attach_files, read_message_history")
    assert found[("server Test Server", "#ideas (thread)")][0] is Verdict.OK
    assert found[("ffmpeg", "bundled")][1].startswith("ffmpeg version")


async def test_an_invalid_setting_fails_alone_and_the_rest_waits_for_it(env, capsys):
    env["POLL_MIN_INTERVAL"] = "fast"
    found = await check(env)
    assert failed(found) == [("setting", "POLL_MIN_INTERVAL")]
    assert "POLL_MIN_INTERVAL" in found[("setting", "POLL_MIN_INTERVAL")][1]
    assert found[("provider", "")][0] is Verdict.SKIP and found[("discord", "")][0] is Verdict.SKIP
    assert await doctor(env) == 1
    assert "FAILED" in capsys.readouterr().out


async def test_a_refused_discord_token_fails_alone(env):
    env["DISCORD_TOKEN"] = "not-the-token-at-all"
    found = await check(env)
    assert failed(found) == [("discord", "token")]
    assert "Discord refused DISCORD_TOKEN (401)" in found[("discord", "token")][1]


async def test_a_refused_gmi_key_fails_alone(env, gmi_sim):
    env["GMI_API_KEY"] = "sk-a-key-from-another-account"
    found = await check(env)
    host = gmi_sim.base_origin.removeprefix("http://")
    assert failed(found) == [("provider", host)]
    verdict, detail = found[("provider", host)]
    assert "refused the API key" in detail and "check GMI_API_KEY" in detail
    assert "sk-a-key" not in detail


async def test_an_unknown_model_fails_alone_and_names_what_is_offered(env, gmi_sim):
    env["SEEDANCE_MODEL"] = "seedance-2-0-FAST-260128"
    found = await check(env)
    host = gmi_sim.base_origin.removeprefix("http://")
    assert failed(found) == [("provider", host)]
    assert "it offers seedance-2-0-fast-260128" in found[("provider", host)][1]


async def test_a_wrong_base_url_fails_alone(env, gmi_sim):
    env["GMI_API_BASE_URL"] = gmi_sim.base_origin + "/api/v1/ie/requestqueue"  # no /apikey
    found = await check(env)
    host = gmi_sim.base_origin.removeprefix("http://")
    assert failed(found) == [("provider", host)]
    assert "is not GMI's request-queue API" in found[("provider", host)][1]


async def test_a_database_newer_than_the_code_fails_alone(env):
    await (await migrated(env)).close()
    with sqlite3.connect(env["DATABASE_PATH"]) as conn:
        conn.execute("PRAGMA user_version = 999")
    found = await check(env)
    assert failed(found) == [("database", "migrations")]
    assert "schema version 999 is newer" in found[("database", "migrations")][1]


async def test_a_database_path_that_is_a_directory_fails_alone(env, tmp_path):
    env["DATABASE_PATH"] = str(tmp_path)
    found = await check(env)
    assert failed(found) == [("database", str(tmp_path))]


async def test_an_ffmpeg_that_does_not_run_fails_alone(env, monkeypatch):
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", "/nowhere/ffmpeg")
    found = await check(env)
    assert failed(found) == [("ffmpeg", "bundled")]


async def test_missing_permissions_warn_where_members_may_generate_anywhere(env, fakecord):
    fakecord.default.guild.add_text_channel("art")
    fakecord.default.channel.set_bot_permissions(attach_files=False)
    found = await check(env)
    assert failed(found) == []
    verdict, detail = found[("server Test Server", "#general")]
    assert verdict is Verdict.WARN and detail.startswith("missing attach_files")
    assert found[("server Test Server", "#ideas (thread)")][0] is Verdict.WARN  # threads follow
    assert found[("server Test Server", "#art")][0] is Verdict.OK


async def test_a_server_where_the_bot_can_post_nowhere_fails(env, fakecord):
    fakecord.default.channel.set_bot_permissions(view_channel=False)
    found = await check(env)
    assert failed(found) == [("server Test Server", "channels")]


async def test_missing_permissions_fail_in_a_channel_moderators_allowed(env, fakecord):
    world = fakecord.default
    other = world.guild.add_text_channel("art")
    db = await migrated(env)
    async with db.transaction() as conn:
        await ServerSettingsRepository(db).add_channel(world.guild.id, world.channel.id, conn=conn)
    await db.close()
    world.channel.set_bot_permissions(embed_links=False)
    found = await check(env)
    # the channel and its thread, where members may generate and would get no video
    assert failed(found) == [("server Test Server", "#general"), ("server Test Server", "#ideas (thread)")]
    assert "missing embed_links" in found[("server Test Server", "#general")][1]
    assert ("server Test Server", f"#{other.name}") not in found  # members can't generate there


async def test_a_mod_log_the_bot_cannot_post_in_fails(env, fakecord):
    world = fakecord.default
    modlog = world.guild.add_text_channel("mod-log")
    modlog.set_bot_permissions(send_messages=False)
    db = await migrated(env)
    async with db.transaction() as conn:
        await ServerSettingsRepository(db).set_value(
            world.guild.id, "mod_log_channel_id", modlog.id, at=0.0, conn=conn
        )
    await db.close()
    found = await check(env)
    assert failed(found) == [("server Test Server", "mod-log #mod-log")]


async def test_warnings_point_at_typos_and_at_what_the_provider_does_not_offer(env, gmi_sim):
    env["GMI_APIKEY"] = "typo"
    gmi_sim.reject_1080p = True  # the provider lists only 480p and 720p
    found = await check(env)
    assert failed(found) == []
    assert found[("setting", "GMI_APIKEY")][0] is Verdict.WARN
    verdict, detail = found[("provider", "resolution")]
    assert verdict is Verdict.WARN and "members who pick 1080p are refused" in detail


@pytest.mark.engines("postgresql")
async def test_on_postgresql_it_names_the_server_and_the_schema_and_hides_the_password(
    env, database_location, capsys
):
    env["DATABASE_URL"] = database_location
    assert await doctor(env, guild_ready_timeout=0.05) == 0
    out = capsys.readouterr().out
    assert PASSWORD not in out
    found = await check(env)
    assert failed(found) == []
    (subject,) = [s for area, s in found if area == "database" and s not in ("migrations", "journal")]
    assert subject.startswith("127.0.0.1:") and subject.endswith(urlsplit(database_location).path)
    assert found[("database", subject)][1].startswith("connected: PostgreSQL ")
    assert "as user bot" in found[("database", subject)][1]
    assert found[("database", "migrations")][1].startswith("current")
    assert found[("database", "journal")][1].startswith("n/a")


@pytest.mark.engines("postgresql")
async def test_on_postgresql_a_database_never_started_on_needs_every_migration(
    env, empty_database_location
):
    env["DATABASE_URL"] = empty_database_location
    found = await check(env)
    assert failed(found) == []
    assert found[("database", "migrations")][1] == (
        f"schema version 0; {len(MIGRATIONS)} migrations apply at the next start"
    )
    db = await Database.open_read_only(empty_database_location)  # the doctor wrote nothing
    try:
        assert await db.reader.fetchval("SELECT to_regclass('schema_version')") is None
    finally:
        await db.close()


@pytest.mark.engines("postgresql")
async def test_on_postgresql_a_refused_password_fails_alone(env, database_location):
    env["DATABASE_URL"] = database_location.replace(PASSWORD, "not-the-password")
    found = await check(env)
    ((area, subject),) = failed(found)
    assert area == "database"
    detail = found[(area, subject)][1]
    assert "password authentication failed" in detail and "check DATABASE_URL" in detail
    assert "not-the-password" not in detail


def test_python_m_bot_doctor_exits_1_and_says_why_without_settings(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "doctor"], cwd=tmp_path, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)}, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "DISCORD_TOKEN is missing" in result.stdout and "FAILED" in result.stdout
    assert "Traceback" not in result.stderr


def test_parameters_read_as_the_provider_wrote_their_bounds():
    seed = ModelParameter(name="seed", type="integer", raw={"minimum": 0, "maximum": 4294967295})
    assert describe_parameter(seed) == "seed (integer 0-4294967295)"
    scale = ModelParameter(name="cfg", type="number", raw={"minimum": 0.5, "default": 1})
    assert describe_parameter(scale) == "cfg (number 0.5-, default 1)"


async def test_thread_and_gallery_permissions_are_checked_where_the_server_chose_them(env, fakecord):
    world = fakecord.default
    gallery = world.guild.add_text_channel("gallery")
    gallery.set_bot_permissions(attach_files=False)
    world.channel.set_bot_permissions(create_public_threads=False)
    db = await migrated(env)
    async with db.transaction() as conn:
        servers = ServerSettingsRepository(db)
        await servers.set_value(world.guild.id, "results_in", "thread", at=0.0, conn=conn)
        await servers.set_value(world.guild.id, "gallery_channel_id", gallery.id, at=0.0, conn=conn)
    await db.close()
    found = await check(env)
    assert failed(found) == [("server Test Server", "gallery #gallery")]
    assert "missing attach_files" in found[("server Test Server", "gallery #gallery")][1]
    verdict, detail = found[("server Test Server", "threads in #general")]
    assert verdict is Verdict.WARN and "missing create_public_threads" in detail
    assert ("server Test Server", "threads in #gallery") not in found  # the bot may start them there
