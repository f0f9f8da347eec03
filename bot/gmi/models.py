"""Typed views of the GMI request-queue's JSON, tolerant of the shapes seen in the wild."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import NO_REASON, clean_text

PENDING_STATUSES = frozenset({"created", "queued", "dispatched", "processing"})
SUCCESS_STATUSES = frozenset({"success"})
FAILED_STATUSES = frozenset({"failed"})
CANCELLED_STATUSES = frozenset({"cancelled"})
KNOWN_STATUSES = PENDING_STATUSES | SUCCESS_STATUSES | FAILED_STATUSES | CANCELLED_STATUSES


class Phase(enum.Enum):
    """Where a request stands, reduced to what the bot acts on."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self is not Phase.PENDING

    @classmethod
    def from_status(cls, status: str | None) -> Phase:
        """Map a raw status; anything unknown (or missing) is still pending."""
        value = (status or "").strip().lower()
        if value in SUCCESS_STATUSES:
            return cls.SUCCEEDED
        if value in FAILED_STATUSES:
            return cls.FAILED
        if value in CANCELLED_STATUSES:
            return cls.CANCELLED
        return cls.PENDING


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _instant(value: Any) -> float | None:
    """A provider timestamp. GMI's are whole Unix seconds, cut down from when the change
    happened: the middle of that second is the unbiased reading (half a second matters when
    checks are timed to a generation that varies by a second or two)."""
    seconds = _number(value)
    if seconds is None:
        return None
    return seconds + 0.5 if seconds.is_integer() else seconds


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _media_urls(outcome: Any) -> tuple[str | None, str | None]:
    """(video_url, thumbnail_url) from either outcome shape."""
    if not isinstance(outcome, dict):
        return None, None
    video = _str_or_none(outcome.get("video_url"))
    thumb = _str_or_none(outcome.get("thumbnail_image_url")) or _str_or_none(
        outcome.get("thumbnail_url")
    )
    media = outcome.get("media_urls")
    if video is None and isinstance(media, list):
        for entry in media:
            url = entry.get("url") if isinstance(entry, dict) else entry
            if isinstance(url, str) and url:
                video = url
                break
    return video, thumb


_REASON_KEYS = ("error", "message", "detail", "reason", "failure_reason", "error_message")


def _reason_text(value: Any) -> str | None:
    """A human reason from a string, or from a dict/list that carries one."""
    if value is None or value == "" or value == {} or value == []:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in _REASON_KEYS:
            found = _reason_text(value.get(key))
            if found:
                return found
        if "media_urls" in value or "video_url" in value:
            return None
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, list):
        for item in value:
            found = _reason_text(item)
            if found:
                return found
        return None
    return str(value)


def failure_reason_from(raw: dict[str, Any], secrets: Iterable[str] = ()) -> str | None:
    """The cleaned reason from ``error``, then ``message``/``detail``, then ``outcome``."""
    for key in ("error", "message", "detail", "outcome"):
        text = _reason_text(raw.get(key))
        if text:
            cleaned = clean_text(text, secrets)
            if cleaned:
                return cleaned
    return None


@dataclass(frozen=True)
class GMIRequest:
    """One generation request as the provider last described it."""

    request_id: str
    model: str | None
    status: str
    phase: Phase
    payload: dict[str, Any] | None
    video_url: str | None
    thumbnail_url: str | None
    failure_reason: str | None
    created_at: float | None
    updated_at: float | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def known_status(self) -> bool:
        return self.status.strip().lower() in KNOWN_STATUSES

    @classmethod
    def from_json(
        cls,
        data: dict[str, Any],
        *,
        payload: dict[str, Any] | None = None,
        secrets: Iterable[str] = (),
    ) -> GMIRequest:
        """Build from a request envelope; ``payload`` fills in when the envelope has none."""
        status = data.get("status")
        status = status if isinstance(status, str) else ""
        phase = Phase.from_status(status)
        video_url, thumbnail_url = _media_urls(data.get("outcome"))
        if video_url is None and phase is Phase.SUCCEEDED:
            # Some shapes put the URLs at the top level.
            video_url, thumbnail_url = _media_urls(data)
        reason: str | None = None
        if phase is Phase.FAILED:
            reason = failure_reason_from(data, secrets) or NO_REASON
        elif phase is Phase.CANCELLED:
            reason = failure_reason_from(data, secrets)
        sent_payload = data.get("payload")
        return cls(
            request_id=str(data.get("request_id") or data.get("id") or ""),
            model=_str_or_none(data.get("model")) or _str_or_none(data.get("model_id")),
            status=status,
            phase=phase,
            payload=sent_payload if isinstance(sent_payload, dict) else payload,
            video_url=video_url,
            thumbnail_url=thumbnail_url,
            failure_reason=reason,
            created_at=_instant(data.get("created_at")),
            updated_at=_instant(data.get("updated_at")),
            raw=data,
        )


@dataclass(frozen=True)
class ModelParameter:
    """One entry of a model's ``parameters`` list."""

    name: str
    display_name: str | None = None
    description: str | None = None
    type: str | None = None
    required: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelParameter:
        return cls(
            name=str(data.get("name") or ""),
            display_name=_str_or_none(data.get("display_name")),
            description=_str_or_none(data.get("description")),
            type=_str_or_none(data.get("type")),
            required=bool(data.get("required", False)),
            raw=data,
        )


@dataclass(frozen=True)
class PriceInfo:
    price: float | None = None
    pricing_type: str | None = None
    unit: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PriceInfo:
        return cls(
            price=_number(data.get("price")),
            pricing_type=_str_or_none(data.get("pricing_type")),
            unit=_str_or_none(data.get("unit")),
            raw=data,
        )


@dataclass(frozen=True)
class ModelDetail:
    """``GET /models/{id}``: every field optional except the id the caller asked for."""

    model: str
    org_id: str | None = None
    brief_description: str | None = None
    detailed_description: str | None = None
    parameters: tuple[ModelParameter, ...] = ()
    price_info: PriceInfo | None = None
    tags: tuple[str, ...] = ()
    modalities: Any = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], *, model_id: str) -> ModelDetail:
        params = data.get("parameters")
        price = data.get("price_info")
        tags = data.get("tags")
        return cls(
            model=_str_or_none(data.get("model")) or model_id,
            org_id=_str_or_none(data.get("org_id")),
            brief_description=_str_or_none(data.get("brief_description")),
            detailed_description=_str_or_none(data.get("detailed_description")),
            parameters=tuple(
                ModelParameter.from_json(p) for p in params or () if isinstance(p, dict)
            )
            if isinstance(params, list)
            else (),
            price_info=PriceInfo.from_json(price) if isinstance(price, dict) else None,
            tags=tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else (),
            modalities=data.get("modalities"),
            raw=data,
        )
