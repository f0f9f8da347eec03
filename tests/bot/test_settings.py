"""Settings: defaults, every problem reported at once, secrets hidden."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import GMI_PRODUCTION_BASE_URL, Settings, SettingsError

REPO = Path(__file__).resolve().parents[2]


def test_defaults_apply_when_only_the_secrets_are_given():
    settings = Settings.from_env({"DISCORD_TOKEN": "tok", "GMI_API_KEY": "key"})
    assert settings.gmi_api_base_url == GMI_PRODUCTION_BASE_URL
    assert settings.seedance_model == "seedance-2-0-fast-260128"
    assert settings.command_guild_ids == ()
    assert settings.discord_api_base_url is None


def test_every_problem_is_listed_together():
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"COMMAND_GUILD_IDS": "12,abc", "POLL_MIN_INTERVAL": "x",
                           "DISCORD_GATEWAY_URL": "http://nope"})
    text = str(caught.value)
    for name in ("DISCORD_TOKEN", "GMI_API_KEY", "COMMAND_GUILD_IDS", "POLL_MIN_INTERVAL",
                 "DISCORD_GATEWAY_URL"):
        assert name in text


def test_repr_never_shows_the_secrets():
    settings = Settings.from_env({"DISCORD_TOKEN": "tok-secret-123", "GMI_API_KEY": "key-secret-456"})
    assert "tok-secret-123" not in repr(settings) and "key-secret-456" not in repr(settings)


def test_python_m_bot_without_settings_exits_with_one_clear_message(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "bot"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "DISCORD_TOKEN is missing" in result.stderr
    assert "GMI_API_KEY is missing" in result.stderr
    assert "Traceback" not in result.stderr


SECRETS = {"DISCORD_TOKEN": "tok", "GMI_API_KEY": "key"}
DATABASE_URL = "postgresql://bot:db-secret-789@db.internal:5432/bot"


def test_database_url_selects_postgresql_and_the_file_is_the_default():
    assert Settings.from_env(SECRETS).database == Path("data/bot.sqlite3")
    settings = Settings.from_env({**SECRETS, "DATABASE_URL": DATABASE_URL})
    assert settings.database == DATABASE_URL
    assert "db-secret-789" not in repr(settings)
    assert "db-secret-789" in settings.secrets


def test_a_bad_database_url_is_reported_without_its_password():
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({**SECRETS, "DATABASE_URL": "mysql://bot:db-secret-789@db/bot"})
    assert "DATABASE_URL" in str(caught.value)
    assert "db-secret-789" not in str(caught.value)
