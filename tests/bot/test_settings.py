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


def test_one_process_serves_every_shard_unless_shard_ids_names_some():
    whole = Settings.from_env(SECRETS).shards
    assert (whole.count, whole.ids, whole.every_shard) == (1, frozenset({0}), True)
    three = Settings.from_env({**SECRETS, "SHARD_COUNT": "3"}).shards
    assert three.ids == frozenset({0, 1, 2}) and three.every_shard
    some = Settings.from_env({**SECRETS, "DATABASE_URL": DATABASE_URL, "SHARD_COUNT": "8",
                              "SHARD_IDS": "0-2, 6", "SHARD_TAKEOVER_SECONDS": "12"})
    assert some.shard_ids == (0, 1, 2, 6) and not some.shards.every_shard
    assert some.shards.takeover_after == 12.0
    assert some.shards.describe() == "shards 0, 1, 2, 6 of 8"
    assert some.shards.worker != some.shards.worker  # each scope names a new worker


def test_shard_ids_must_be_below_the_count_and_some_shards_need_a_shared_database():
    with pytest.raises(SettingsError, match="SHARD_IDS 3 are not below SHARD_COUNT"):
        Settings.from_env({**SECRETS, "DATABASE_URL": DATABASE_URL, "SHARD_COUNT": "3",
                           "SHARD_IDS": "0,3"})
    with pytest.raises(SettingsError, match="must share one database, set DATABASE_URL"):
        Settings.from_env({**SECRETS, "SHARD_COUNT": "2", "SHARD_IDS": "1"})
    with pytest.raises(SettingsError, match="SHARD_IDS: must be shard numbers"):
        Settings.from_env({**SECRETS, "SHARD_COUNT": "2", "SHARD_IDS": "one"})
    assert Settings.from_env({**SECRETS, "SHARD_COUNT": "2", "SHARD_IDS": "0,1"}).shards.every_shard
