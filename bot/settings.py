"""Typed settings read once from the environment (and `.env`), validated at start.

Each setting is declared once, with its default and its bounds; the environment variable is
the field's name in capitals. Every problem is collected, so an operator sees the whole list
in one run instead of fixing one setting per restart. The secrets (the token, the API key,
the database URL with its password) never appear in a repr or a problem.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from bot.chaos import KillAt
from bot.db.dialect import POSTGRES_SCHEMES, url_secrets
from bot.jobs.model import ShardScope
from bot.quotas.pricing import PriceTable

GMI_PRODUCTION_BASE_URL = "https://console.gmicloud.ai/api/v1/ie/requestqueue/apikey"
DEFAULT_MODEL = "seedance-2-0-fast-260128"

# The environment `Settings.from_env` reads; unset when settings are built in code (tests).
_ENVIRONMENT: ContextVar[Mapping[str, str] | None] = ContextVar("_ENVIRONMENT", default=None)


class SettingsError(Exception):
    """Raised with every missing or invalid setting, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def _url(value: str | None, schemes: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not parsed.netloc:
        raise ValueError(f"must be a {'/'.join(schemes)} URL")
    return value.rstrip("/")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", env_ignore_empty=True)

    discord_token: str = Field(repr=False, min_length=1)
    gmi_api_key: str = Field(repr=False, min_length=1)
    gmi_api_base_url: str = GMI_PRODUCTION_BASE_URL
    gmi_organization_id: str | None = None
    seedance_model: str = DEFAULT_MODEL
    database_path: Path = Path("data/bot.sqlite3")
    database_url: str | None = Field(None, repr=False)  # set: PostgreSQL instead of the file
    command_guild_ids: Annotated[tuple[int, ...], NoDecode] = ()
    discord_api_base_url: str | None = None
    discord_gateway_url: str | None = None
    prompt_max_chars: int = Field(2000, ge=1, le=4000)
    # Links members type must point at the public internet (the provider fetches them from
    # there); on only for dry runs and tests whose media is served on this machine.
    allow_private_media_urls: bool = False
    poll_min_interval: float = Field(1.0, ge=0.01, le=600)
    # Bounds only the checks of a job long before it could be ready or long past its
    # estimate: 10,000 such jobs cost 33 checks a second at 300 s (167 at 60 s, more than
    # the default budget's 10).
    poll_max_interval: float = Field(300.0, ge=0.01, le=3600)
    job_deadline_seconds: float = Field(3600.0, ge=1, le=7 * 86400)
    gmi_requests_per_hour: float = Field(36000.0, ge=60, le=10_000_000)
    # Jobs at the provider at once, for the whole bot (every server); unset: no cap. Jobs
    # over it wait their turn (bot.jobs.turns), round-robin across servers and members.
    max_jobs_in_flight: int | None = Field(None, ge=1, le=100_000)
    reconcile_window_seconds: float = Field(90.0, ge=0, le=3600)
    gmi_timeout_seconds: float = Field(30.0, ge=1, le=600)
    price_per_second_480p: float = Field(0.08, ge=0, le=100)
    price_per_second_720p: float = Field(0.16, ge=0, le=100)
    price_per_second_1080p: float = Field(0.36, ge=0, le=100)
    price_reference_video_multiplier: float = Field(2.0, ge=1, le=100)
    price_currency: str = "USD"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Operating the bot: stopping, re-checking the provider, metrics.
    shutdown_grace_seconds: float = Field(20.0, ge=0, le=600)
    provider_recheck_max_seconds: float = Field(300.0, ge=1, le=3600)
    metrics_port: int | None = Field(None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    # Testing aid only (`bot.chaos`): die with SIGKILL at a named instant of a job's life.
    chaos_kill_at: KillAt | None = None
    # Several processes (bot.jobs.model.ShardScope): Discord's shards, the ones this process
    # connects, how long a lease on a job lasts, and when another shard's job is taken over.
    shard_count: int = Field(1, ge=1, le=4096)
    shard_ids: Annotated[tuple[int, ...], NoDecode] = ()
    job_lease_seconds: float = Field(60.0, ge=0.5, le=3600)
    shard_takeover_seconds: float = Field(30.0, ge=0, le=3600)

    @field_validator("gmi_api_base_url", "discord_api_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return _url(value, ("http", "https"))

    @field_validator("discord_gateway_url")
    @classmethod
    def _ws_url(cls, value: str | None) -> str | None:
        return _url(value, ("ws", "wss"))

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is not None and urlparse(value).scheme not in POSTGRES_SCHEMES:
            raise ValueError("must be a postgresql://user:password@host:port/database URL")
        return value

    @field_validator("chaos_kill_at", mode="before")
    @classmethod
    def _kill_at(cls, value: Any) -> Any:
        return KillAt.parse(value) if isinstance(value, str) else value

    @field_validator("command_guild_ids", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        ids = []
        for part in value.replace(";", ",").split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit():
                raise ValueError(f"must be comma-separated server ids, got {part!r}")
            ids.append(int(part))
        return tuple(ids)

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _shard_ids(cls, value: Any) -> Any:
        """``0,2`` or ranges: ``0-3,8``."""
        if not isinstance(value, str):
            return value
        ids: set[int] = set()
        for part in value.replace(";", ",").split(","):
            low, _, high = part.strip().partition("-")
            if not low:
                continue
            if not low.isdigit() or (high and not high.isdigit()):
                raise ValueError(f"must be shard numbers like 0,2 or 0-3, got {part.strip()!r}")
            ids.update(range(int(low), int(high or low) + 1))
        return tuple(sorted(ids))

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _poll_bounds(self) -> Settings:
        if self.poll_min_interval > self.poll_max_interval:
            raise ValueError("POLL_MIN_INTERVAL must not be larger than POLL_MAX_INTERVAL")
        return self

    @model_validator(mode="after")
    def _shards(self) -> Settings:
        outside = [i for i in self.shard_ids if i >= self.shard_count]
        if outside:
            raise ValueError(
                f"SHARD_IDS {', '.join(map(str, outside))} are not below SHARD_COUNT "
                f"({self.shard_count}): shards are numbered from 0"
            )
        if not self.shards.every_shard and self.database_url is None:
            raise ValueError(
                "SHARD_IDS names only some shards, so other processes serve the rest: they "
                "must share one database, set DATABASE_URL (PostgreSQL)"
            )
        return self

    @property
    def shards(self) -> ShardScope:
        """The jobs this process serves (all of them unless SHARD_IDS names some shards);
        each call names a new worker, so the bot takes it once."""
        ids = frozenset(self.shard_ids) if self.shard_ids else frozenset(range(self.shard_count))
        return ShardScope(self.shard_count, ids, takeover_after=self.shard_takeover_seconds)

    @property
    def price_table(self) -> PriceTable:
        return PriceTable(
            {
                "480p": self.price_per_second_480p,
                "720p": self.price_per_second_720p,
                "1080p": self.price_per_second_1080p,
            },
            self.price_reference_video_multiplier,
        )

    @property
    def currency(self) -> str:
        return self.price_currency

    @property
    def database(self) -> str | Path:
        """Where the data is, for `bot.db.Database.open`: the URL, else the SQLite file."""
        return self.database_url or self.database_path

    @property
    def secrets(self) -> tuple[str, ...]:
        """What the logs must never show."""
        return secrets_in(self.discord_token, self.gmi_api_key, self.database_url)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Settings built in code take only what they are given; `from_env` adds its
        environment (``.env`` is loaded into the environment by ``python -m bot``)."""
        environment = _ENVIRONMENT.get()
        if environment is None:
            return (init_settings,)
        return (init_settings, _MappingSource(settings_cls, environment))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default: ``os.environ``); raise `SettingsError`."""
        token = _ENVIRONMENT.set(dict(os.environ if env is None else env))
        try:
            return cls()
        except ValidationError as error:
            raise SettingsError(_problems(error)) from None
        finally:
            _ENVIRONMENT.reset(token)


class _MappingSource(EnvSettingsSource):
    """The environment source, reading a given mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], environment: Mapping[str, str]) -> None:
        self._environment = environment
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {
            key.lower(): value for key, value in self._environment.items() if value.strip()
        }


def secrets_in(token: str, api_key: str, database_url: str | None) -> tuple[str, ...]:
    """The token, the key and the database URL's password: what no output may show."""
    return (token, api_key, *(url_secrets(database_url) if database_url else ()))


def environment_secrets(env: Mapping[str, str]) -> tuple[str, ...]:
    """`secrets_in` read straight from the environment, for commands that must redact
    even when the settings are invalid (``python -m bot doctor``)."""
    return secrets_in(
        env.get("DISCORD_TOKEN", ""), env.get("GMI_API_KEY", ""), env.get("DATABASE_URL")
    )


def _problems(error: ValidationError) -> list[str]:
    """One plain line per problem, named by its environment variable."""
    problems = []
    for item in error.errors():
        field = "_".join(str(part) for part in item["loc"])
        name = field.upper()
        message = item["msg"].removeprefix("Value error, ")
        secret = field in Settings.model_fields and Settings.model_fields[field].repr is False
        got = "the value is hidden" if secret else f"got {item['input']!r}"
        if item["type"] == "missing":
            problems.append(f"{name} is missing (see .env.example)")
        elif not name:
            problems.append(message)
        else:
            problems.append(f"{name}: {message[0].lower()}{message[1:]} ({got})")
    return problems
