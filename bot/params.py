"""What a member asks for, and the provider's rules checked before any API call.

`GenerationRequest` mirrors the Seedance payload one field per API parameter, so the
slash command, the job store and the API client speak the same names. `validate`
returns every broken rule as a sentence that names the problem and the fix.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal
from urllib.parse import urlparse

MediaKind = Literal["image", "video", "audio"]

DURATION_RANGE = (4, 15)
DEFAULT_DURATION = 5
RESOLUTIONS = ("480p", "720p", "1080p")
DEFAULT_RESOLUTION = "720p"
RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "adaptive")
DEFAULT_RATIO = "16:9"
SEED_RANGE = (0, 4_294_967_295)
MAX_REFERENCE_IMAGES = 9
MAX_REFERENCE_VIDEOS = 3
MAX_REFERENCE_AUDIOS = 3
MAX_REFERENCE_FILES = 12

MB = 1024 * 1024
IMAGE_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WebP"}
VIDEO_TYPES = {"video/mp4": "MP4", "video/quicktime": "MOV"}
AUDIO_TYPES = {
    "audio/mpeg": "MP3",
    "audio/mp3": "MP3",
    "audio/wav": "WAV",
    "audio/x-wav": "WAV",
    "audio/wave": "WAV",
    "audio/vnd.wave": "WAV",
}
IMAGE_MAX_BYTES = 30 * MB
IMAGE_SIDE_RANGE = (300, 6000)
IMAGE_ASPECT_RANGE = (0.4, 2.5)
VIDEOS_MAX_TOTAL_BYTES = 50 * MB
AUDIO_MAX_BYTES = 15 * MB


@dataclass(frozen=True)
class MediaInput:
    """One image, video or audio handed to the model: a URL, plus what Discord told us.

    For a Discord attachment the metadata (type, size, pixel size) lets the bot refuse a
    bad file at once; for a plain URL only the scheme can be checked before the API call.
    """

    url: str
    filename: str | None = None
    content_type: str | None = None
    size: int | None = None
    width: int | None = None
    height: int | None = None

    @property
    def label(self) -> str:
        return self.filename or self.url


@dataclass(frozen=True)
class GenerationRequest:
    """Every parameter of a Seedance 2.0 Fast generation, with the API's defaults."""

    prompt: str
    duration: int = DEFAULT_DURATION
    resolution: str = DEFAULT_RESOLUTION
    ratio: str = DEFAULT_RATIO
    seed: int | None = None
    watermark: bool = False
    generate_audio: bool = True
    web_search: bool = False
    first_frame: MediaInput | None = None
    last_frame: MediaInput | None = None
    reference_images: tuple[MediaInput, ...] = ()
    reference_videos: tuple[MediaInput, ...] = ()
    reference_audios: tuple[MediaInput, ...] = ()
    reference_asset_ids: tuple[str, ...] = ()

    @property
    def reference_count(self) -> int:
        return (
            len(self.reference_images)
            + len(self.reference_videos)
            + len(self.reference_audios)
            + len(self.reference_asset_ids)
        )

    @property
    def mode(self) -> str:
        """'frames', 'references' or 'text': the three ways the model is driven."""
        if self.first_frame or self.last_frame:
            return "frames"
        if self.reference_count:
            return "references"
        return "text"

    @property
    def uploaded_media(self) -> list[MediaInput]:
        """Inputs that are Discord uploads (their links expire), not plain URLs."""
        media = [self.first_frame, self.last_frame, *self.reference_images]
        media += [*self.reference_videos, *self.reference_audios]
        return [m for m in media if m is not None and m.content_type is not None]

    def to_payload(self) -> dict[str, Any]:
        """The API payload: the scalar parameters always (explicit beats the provider's
        defaults), the optional ones only when given. Reconciliation matches on it."""
        payload: dict[str, Any] = {
            "prompt": self.prompt,
            "duration": self.duration,
            "resolution": self.resolution,
            "ratio": self.ratio,
            "watermark": self.watermark,
            "generate_audio": self.generate_audio,
            "web_search": self.web_search,
        }
        if self.seed is not None:
            payload["seed"] = self.seed
        if self.first_frame:
            payload["first_frame"] = self.first_frame.url
        if self.last_frame:
            payload["last_frame"] = self.last_frame.url
        for name in ("reference_images", "reference_videos", "reference_audios"):
            media = getattr(self, name)
            if media:
                payload[name] = [m.url for m in media]
        if self.reference_asset_ids:
            payload["reference_asset_ids"] = list(self.reference_asset_ids)
        return payload

    def to_json(self) -> str:
        """Everything needed to rebuild this request (for the job store, re-rolls, remixes)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> GenerationRequest:
        data = json.loads(text)

        def media(value: Any) -> MediaInput | None:
            return MediaInput(**value) if value else None

        return cls(
            prompt=data["prompt"],
            duration=data["duration"],
            resolution=data["resolution"],
            ratio=data["ratio"],
            seed=data["seed"],
            watermark=data["watermark"],
            generate_audio=data["generate_audio"],
            web_search=data["web_search"],
            first_frame=media(data["first_frame"]),
            last_frame=media(data["last_frame"]),
            reference_images=tuple(MediaInput(**m) for m in data["reference_images"]),
            reference_videos=tuple(MediaInput(**m) for m in data["reference_videos"]),
            reference_audios=tuple(MediaInput(**m) for m in data["reference_audios"]),
            reference_asset_ids=tuple(data["reference_asset_ids"]),
        )

    def with_changes(self, **changes: Any) -> GenerationRequest:
        return replace(self, **changes)


def canonical_payload(payload: dict[str, Any]) -> str:
    """The payload as stored and compared during reconciliation: key order never matters."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))


def validate(request: GenerationRequest, *, prompt_max_chars: int) -> list[str]:
    """Check the provider's documented rules; return one sentence per problem (empty: fine)."""
    problems: list[str] = []
    _check_prompt(request, prompt_max_chars, problems)
    _check_scalars(request, problems)
    _check_modes(request, problems)
    _check_media(request, problems)
    return problems


def _check_prompt(request: GenerationRequest, cap: int, problems: list[str]) -> None:
    prompt = request.prompt.strip()
    if not prompt:
        problems.append("The prompt is empty: describe the video you want.")
    elif len(prompt) > cap:
        problems.append(
            f"The prompt is {len(prompt)} characters long; the limit here is {cap}. Shorten it."
        )


def _check_scalars(request: GenerationRequest, problems: list[str]) -> None:
    low, high = DURATION_RANGE
    if not low <= request.duration <= high:
        problems.append(f"`duration` must be {low} to {high} seconds, not {request.duration}.")
    if request.resolution not in RESOLUTIONS:
        problems.append(f"`resolution` must be one of {', '.join(RESOLUTIONS)}.")
    if request.ratio not in RATIOS:
        problems.append(f"`ratio` must be one of {', '.join(RATIOS)}.")
    if request.seed is not None and not SEED_RANGE[0] <= request.seed <= SEED_RANGE[1]:
        problems.append(f"`seed` must be between {SEED_RANGE[0]} and {SEED_RANGE[1]}.")


def _check_modes(request: GenerationRequest, problems: list[str]) -> None:
    if (request.first_frame or request.last_frame) and request.reference_count:
        problems.append(
            "First/last frames and references can't be combined: use either "
            "`first_frame`/`last_frame` or the `reference_*` options, not both."
        )
    if request.last_frame and not request.first_frame:
        problems.append("`last_frame` needs a `first_frame`: add the opening image too.")
    if request.reference_audios and not (request.reference_images or request.reference_videos):
        problems.append(
            "Reference audio needs at least one reference image or video to go with it: "
            "add a `reference_image` or `reference_video`."
        )
    for name, media, most in (
        ("reference images", request.reference_images, MAX_REFERENCE_IMAGES),
        ("reference videos", request.reference_videos, MAX_REFERENCE_VIDEOS),
        ("reference audio files", request.reference_audios, MAX_REFERENCE_AUDIOS),
    ):
        if len(media) > most:
            problems.append(
                f"At most {most} {name} are allowed; you gave {len(media)}. Remove some."
            )
    if request.reference_count > MAX_REFERENCE_FILES:
        problems.append(
            f"At most {MAX_REFERENCE_FILES} references are allowed in all; you gave "
            f"{request.reference_count}. Remove some."
        )
    for asset_id in request.reference_asset_ids:
        if not asset_id or len(asset_id) > 200 or any(c.isspace() for c in asset_id):
            problems.append(f"`reference_asset_ids` has an invalid id {asset_id[:40]!r}.")


def _check_media(request: GenerationRequest, problems: list[str]) -> None:
    images = [m for m in (request.first_frame, request.last_frame) if m] + list(
        request.reference_images
    )
    for media in images:
        _check_one(media, "image", problems)
    for media in request.reference_videos:
        _check_one(media, "video", problems)
    for media in request.reference_audios:
        _check_one(media, "audio", problems)
    video_bytes = sum(m.size or 0 for m in request.reference_videos)
    if video_bytes > VIDEOS_MAX_TOTAL_BYTES:
        problems.append(
            f"Reference videos total {video_bytes / MB:.1f} MB; the limit is "
            f"{VIDEOS_MAX_TOTAL_BYTES // MB} MB together. Use shorter or smaller clips."
        )


def _check_one(media: MediaInput, kind: MediaKind, problems: list[str]) -> None:
    parsed = urlparse(media.url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        problems.append(f"`{media.label[:80]}` is not an http(s) link: give a public http(s) URL.")
        return
    if media.content_type is None:
        return  # a plain URL: the provider checks the file itself
    content_type = media.content_type.split(";")[0].strip().lower()
    allowed = {"image": IMAGE_TYPES, "video": VIDEO_TYPES, "audio": AUDIO_TYPES}[kind]
    if content_type not in allowed:
        names = ", ".join(sorted(set(allowed.values())))
        problems.append(f"`{media.label}` is not a supported {kind}: use {names}.")
        return
    size = media.size or 0
    if kind == "image":
        if size >= IMAGE_MAX_BYTES:
            problems.append(f"`{media.label}` is {size / MB:.1f} MB; images must be under 30 MB.")
        if media.width and media.height:
            low, high = IMAGE_SIDE_RANGE
            if not (low <= media.width <= high and low <= media.height <= high):
                problems.append(
                    f"`{media.label}` is {media.width}x{media.height} px; each side must be "
                    f"{low} to {high} px. Resize it."
                )
            aspect = media.width / media.height
            if not IMAGE_ASPECT_RANGE[0] <= aspect <= IMAGE_ASPECT_RANGE[1]:
                problems.append(
                    f"`{media.label}` has an aspect ratio of {aspect:.2f}; it must be between "
                    f"{IMAGE_ASPECT_RANGE[0]} and {IMAGE_ASPECT_RANGE[1]}. Crop it."
                )
    elif kind == "audio" and size > AUDIO_MAX_BYTES:
        problems.append(
            f"`{media.label}` is {size / MB:.1f} MB; audio files must be at most 15 MB."
        )
