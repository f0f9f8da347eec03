"""The payload rules the simulator enforces for Seedance 2.0 Fast, one 400 message per rule.

Messages name the offending key, as the provider's do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

RESOLUTIONS = ("480p", "720p", "1080p")
RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "adaptive")
BOOL_KEYS = ("watermark", "generate_audio", "web_search")
FRAME_KEYS = ("first_frame", "last_frame")
REFERENCE_LIMITS = {"reference_images": 9, "reference_videos": 3, "reference_audios": 3}
REFERENCE_KEYS = (*REFERENCE_LIMITS, "reference_asset_ids")
MAX_REFERENCES = 12
SEED_MAX = 4294967295
KNOWN_KEYS = frozenset(
    {"prompt", "duration", "resolution", "ratio", "seed", *BOOL_KEYS, *FRAME_KEYS, *REFERENCE_KEYS}
)
CONTENT_POLICY_MESSAGE = (
    "The request was rejected by the content policy: the prompt may contain sensitive content."
)


class PayloadError(ValueError):
    """A 400 the simulator answers with ``{"error": str(exc)}``."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def validate_payload(
    payload: Any,
    *,
    max_prompt_chars: int = 5000,
    reject_1080p: bool = False,
    banned_words: Iterable[str] = (),
) -> None:
    """Raise :class:`PayloadError` for the first rule ``payload`` breaks."""
    if not isinstance(payload, dict):
        raise PayloadError("payload must be a JSON object")
    unknown = sorted(set(payload) - KNOWN_KEYS)
    if unknown:
        raise PayloadError(f"unknown parameter(s) in payload: {', '.join(unknown)}")

    prompt = payload.get("prompt")
    if prompt is None:
        raise PayloadError("prompt is required")
    if not isinstance(prompt, str):
        raise PayloadError("prompt must be a string")
    if not prompt.strip():
        raise PayloadError("prompt must not be empty")
    if len(prompt) > max_prompt_chars:
        raise PayloadError(
            f"prompt is too long: {len(prompt)} characters, at most {max_prompt_chars} allowed"
        )

    if "duration" in payload:
        duration = payload["duration"]
        if not _is_int(duration):
            raise PayloadError("duration must be an integer number of seconds")
        if not 4 <= duration <= 15:
            raise PayloadError(f"duration must be between 4 and 15 seconds, got {duration}")
    if "resolution" in payload:
        resolution = payload["resolution"]
        if resolution not in RESOLUTIONS:
            raise PayloadError(
                f"resolution must be one of {', '.join(RESOLUTIONS)}, got {resolution!r}"
            )
        if reject_1080p and resolution == "1080p":
            raise PayloadError("resolution 1080p is not supported by this model; use 480p or 720p")
    if "ratio" in payload and payload["ratio"] not in RATIOS:
        raise PayloadError(f"ratio must be one of {', '.join(RATIOS)}, got {payload['ratio']!r}")
    if "seed" in payload:
        seed = payload["seed"]
        if not _is_int(seed) or not 0 <= seed <= SEED_MAX:
            raise PayloadError(f"seed must be an integer between 0 and {SEED_MAX}")
    for key in BOOL_KEYS:
        if key in payload and not isinstance(payload[key], bool):
            raise PayloadError(f"{key} must be a boolean")

    for key in FRAME_KEYS:
        if key in payload and not _is_http_url(payload[key]):
            raise PayloadError(f"{key} must be an http(s) URL")
    references: dict[str, list[Any]] = {}
    for key in REFERENCE_KEYS:
        if key not in payload:
            continue
        value = payload[key]
        if not isinstance(value, list):
            raise PayloadError(f"{key} must be a list")
        references[key] = value
        if key == "reference_asset_ids":
            if not all(isinstance(v, str) and v for v in value):
                raise PayloadError(f"{key} must be a list of asset id strings")
        else:
            for item in value:
                if not _is_http_url(item):
                    raise PayloadError(f"{key} must contain only http(s) URLs")
            limit = REFERENCE_LIMITS[key]
            if len(value) > limit:
                raise PayloadError(f"{key} accepts at most {limit} items, got {len(value)}")

    has_frames = any(payload.get(k) for k in FRAME_KEYS)
    has_references = any(references.get(k) for k in REFERENCE_KEYS)
    if has_frames and has_references:
        used = [k for k in REFERENCE_KEYS if references.get(k)]
        raise PayloadError(
            f"first_frame/last_frame cannot be combined with {', '.join(used)}: "
            "use either frames or references"
        )
    if payload.get("last_frame") and not payload.get("first_frame"):
        raise PayloadError("last_frame requires first_frame")
    if references.get("reference_audios") and not (
        references.get("reference_images") or references.get("reference_videos")
    ):
        raise PayloadError("reference_audios requires at least one reference image or video")
    total = sum(len(v) for v in references.values())
    if total > MAX_REFERENCES:
        raise PayloadError(f"at most {MAX_REFERENCES} reference files in all, got {total}")

    lowered = prompt.lower()
    for word in banned_words:
        if word and re.search(rf"(?<!\w){re.escape(word.lower())}(?!\w)", lowered):
            raise PayloadError(CONTENT_POLICY_MESSAGE)
