"""Typed settings read once from the environment (and `.env`), validated at start.

Every problem is collected, so an operator sees the whole list in one run instead of
fixing one setting per restart. `Settings.__repr__` hides the two secrets.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

GMI_PRODUCTION_BASE_URL = "https://console.gmicloud.ai/api/v1/ie/requestqueue/apikey"
DEFAULT_MODEL = "seedance-2-0-fast-260128"


class SettingsError(Exception):
    """Raised with every missing or invalid setting, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class PriceTable:
    """Estimated provider price per second of output, by resolution.

    The reference-video multiplier applies when any reference video is given.
    """

    per_second: Mapping[str, float]
    reference_video_multiplier: float

    def estimate(self, resolution: str, duration: int, has_reference_video: bool) -> float:
        cost = self.per_second.get(resolution, max(self.per_second.values())) * duration
        if has_reference_video:
            cost *= self.reference_video_multiplier
        return round(cost, 4)


@dataclass(frozen=True, repr=False)
class Settings:
    discord_token: str
    gmi_api_key: str
    gmi_api_base_url: str = GMI_PRODUCTION_BASE_URL
    gmi_organization_id: str | None = None
    seedance_model: str = DEFAULT_MODEL
    database_path: Path = Path("data/bot.sqlite3")
    command_guild_ids: tuple[int, ...] = ()
    discord_api_base_url: str | None = None
    discord_gateway_url: str | None = None
    prompt_max_chars: int = 2000
    poll_min_interval: float = 2.0
    poll_max_interval: float = 30.0
    expected_generation_seconds: float = 60.0
    job_deadline_seconds: float = 3600.0
    max_concurrent_api_calls: int = 8
    status_edit_interval: float = 5.0
    gmi_timeout_seconds: float = 30.0
    price_table: PriceTable = field(
        default_factory=lambda: PriceTable({"480p": 0.08, "720p": 0.16, "1080p": 0.36}, 2.0)
    )
    currency: str = "USD"
    log_level: str = "INFO"

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in {"discord_token", "gmi_api_key"}:
                value = "***"
            shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default: ``os.environ``); raise `SettingsError`."""
        env = dict(os.environ if env is None else env)
        reader = _Reader(env)
        values: dict[str, Any] = {
            "discord_token": reader.required("DISCORD_TOKEN"),
            "gmi_api_key": reader.required("GMI_API_KEY"),
            "gmi_api_base_url": reader.url("GMI_API_BASE_URL", GMI_PRODUCTION_BASE_URL),
            "gmi_organization_id": reader.optional("GMI_ORGANIZATION_ID"),
            "seedance_model": reader.optional("SEEDANCE_MODEL") or DEFAULT_MODEL,
            "database_path": Path(reader.optional("DATABASE_PATH") or "data/bot.sqlite3"),
            "command_guild_ids": reader.id_list("COMMAND_GUILD_IDS"),
            "discord_api_base_url": reader.url("DISCORD_API_BASE_URL", None),
            "discord_gateway_url": reader.url("DISCORD_GATEWAY_URL", None, schemes=("ws", "wss")),
            "prompt_max_chars": reader.number("PROMPT_MAX_CHARS", 2000, int, 1, 4000),
            "poll_min_interval": reader.number("POLL_MIN_INTERVAL", 2.0, float, 0.01, 600),
            "poll_max_interval": reader.number("POLL_MAX_INTERVAL", 30.0, float, 0.01, 3600),
            "expected_generation_seconds": reader.number(
                "EXPECTED_GENERATION_SECONDS", 60.0, float, 0, 3600
            ),
            "job_deadline_seconds": reader.number(
                "JOB_DEADLINE_SECONDS", 3600.0, float, 1, 7 * 86400
            ),
            "max_concurrent_api_calls": reader.number("MAX_CONCURRENT_API_CALLS", 8, int, 1, 64),
            "status_edit_interval": reader.number("STATUS_EDIT_INTERVAL", 5.0, float, 0, 600),
            "gmi_timeout_seconds": reader.number("GMI_TIMEOUT_SECONDS", 30.0, float, 1, 600),
            "price_table": PriceTable(
                {
                    "480p": reader.number("PRICE_PER_SECOND_480P", 0.08, float, 0, 100),
                    "720p": reader.number("PRICE_PER_SECOND_720P", 0.16, float, 0, 100),
                    "1080p": reader.number("PRICE_PER_SECOND_1080P", 0.36, float, 0, 100),
                },
                reader.number("PRICE_REFERENCE_VIDEO_MULTIPLIER", 2.0, float, 1, 100),
            ),
            "currency": reader.optional("PRICE_CURRENCY") or "USD",
            "log_level": reader.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
        }
        if values["poll_min_interval"] > values["poll_max_interval"]:
            reader.problems.append("POLL_MIN_INTERVAL must not be larger than POLL_MAX_INTERVAL")
        if reader.problems:
            raise SettingsError(reader.problems)
        return cls(**values)


class _Reader:
    """Reads one kind of value per method and records a problem instead of raising."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def optional(self, name: str) -> str | None:
        value = self.env.get(name, "").strip()
        return value or None

    def required(self, name: str) -> str:
        value = self.optional(name)
        if value is None:
            self.problems.append(f"{name} is missing (see .env.example)")
            return ""
        return value

    def url(
        self, name: str, default: str | None, schemes: tuple[str, ...] = ("http", "https")
    ) -> Any:
        value = self.optional(name)
        if value is None:
            return default
        parsed = urlparse(value)
        if parsed.scheme not in schemes or not parsed.netloc:
            self.problems.append(f"{name} must be a {'/'.join(schemes)} URL, got {value!r}")
            return default
        return value.rstrip("/")

    def id_list(self, name: str) -> tuple[int, ...]:
        value = self.optional(name)
        if value is None:
            return ()
        ids = []
        for part in value.replace(";", ",").split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit():
                self.problems.append(f"{name} must be comma-separated server ids, got {part!r}")
                continue
            ids.append(int(part))
        return tuple(ids)

    def number(
        self, name: str, default: Any, kind: Callable[[str], Any], low: float, high: float
    ) -> Any:
        value = self.optional(name)
        if value is None:
            return default
        try:
            number = kind(value)
        except ValueError:
            self.problems.append(
                f"{name} must be a {'whole ' if kind is int else ''}number, got {value!r}"
            )
            return default
        if not low <= number <= high:
            self.problems.append(f"{name} must be between {low:g} and {high:g}, got {value}")
            return default
        return number

    def choice(self, name: str, default: str, options: tuple[str, ...]) -> str:
        value = self.optional(name)
        if value is None:
            return default
        if value.upper() not in options:
            self.problems.append(f"{name} must be one of {', '.join(options)}, got {value!r}")
            return default
        return value.upper()
