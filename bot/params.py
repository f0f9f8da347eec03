"""What a member asks for, and the provider's rules checked before any API call.

`GenerationRequest` mirrors the Seedance payload one field per API parameter, so the
slash command, the job store and the API client speak the same names. `validate`
returns every broken rule as a sentence that names the problem and the fix.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
import unicodedata
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from bot.media.sniff import Format, MediaKind
from bot.model_offer import (
    DEFAULT_DURATION,
    DEFAULT_RATIO,
    DEFAULT_RESOLUTION,
    DOCUMENTED,
    INPUTS,
    MAX_REFERENCE_FILES,
    SEED_RANGE,
    ModelOffer,
)

MB = 1024 * 1024
IMAGE_TYPES = {"image/jpeg": Format.JPEG, "image/png": Format.PNG, "image/webp": Format.WEBP}
VIDEO_TYPES = {"video/mp4": Format.MP4, "video/quicktime": Format.MOV}
AUDIO_TYPES = {
    "audio/mpeg": Format.MP3,
    "audio/mp3": Format.MP3,
    "audio/wav": Format.WAV,
    "audio/x-wav": Format.WAV,
    "audio/wave": Format.WAV,
    "audio/vnd.wave": Format.WAV,
}
IMAGE_MAX_BYTES = 30 * MB
IMAGE_SIDE_RANGE = (300, 6000)
IMAGE_ASPECT_RANGE = (0.4, 2.5)
VIDEOS_MAX_TOTAL_BYTES = 50 * MB
AUDIO_MAX_BYTES = 15 * MB
# How long each reference video or audio clip may be (upstream; "about" 2 s: a clip cut
# at 2 s may probe a few hundredths short, which `CLIP_LENGTH_TOLERANCE` lets through).
REFERENCE_CLIP_SECONDS = (2, 15)
CLIP_LENGTH_TOLERANCE = 0.05
# `MediaInput.detected` of an upload whose first bytes are no format the bot knows.
UNKNOWN_FORMAT = "unknown"


@dataclass(frozen=True)
class MediaInput:
    """One image, video or audio handed to the model: a URL, plus what is known of the file.

    A Discord upload has a ``filename`` and Discord's metadata (declared type, size, pixel
    size); the bot also reads its first bytes and records the format they show in
    ``detected`` (with the real pixel size), so a bad file is refused at once. A link a
    member typed has only its URL: the provider fetches and checks that file itself.
    """

    url: str
    filename: str | None = None
    content_type: str | None = None
    size: int | None = None
    width: int | None = None
    height: int | None = None
    detected: str | None = None  # a `Format` value, `UNKNOWN_FORMAT`, or None: not read

    @property
    def label(self) -> str:
        return self.filename or self.url

    @property
    def is_upload(self) -> bool:
        """A file sent with the command (on Discord's CDN), not a link a member typed."""
        return self.filename is not None


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

    def __post_init__(self) -> None:
        # One form of the prompt everywhere: what is checked is what is stored, shown and sent.
        object.__setattr__(self, "prompt", normalise_text(self.prompt))

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
    def media(self) -> list[MediaInput]:
        """Every image, video and audio input, frames first."""
        media = [self.first_frame, self.last_frame, *self.reference_images]
        media += [*self.reference_videos, *self.reference_audios]
        return [m for m in media if m is not None]

    @property
    def uploaded_media(self) -> list[MediaInput]:
        """Inputs that are Discord uploads (their links expire), not plain URLs."""
        return [m for m in self.media if m.is_upload]

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
        return json.dumps(vars(self), sort_keys=True, default=vars)  # media: their fields

    @classmethod
    def from_json(cls, text: str) -> GenerationRequest:
        return _stored_request(text)

    def with_changes(self, **changes: Any) -> GenerationRequest:
        return replace(self, **changes)


# As many as a busy bot has jobs in flight (each a few hundred bytes).
@functools.lru_cache(maxsize=20_000)
def _stored_request(text: str) -> GenerationRequest:
    """A stored request, parsed once while it is in use: every job read back from the store
    (each check of each job in flight) carries its request, and requests never change."""
    data = json.loads(text)

    def media(value: Any) -> MediaInput | None:
        return MediaInput(**value) if value else None

    return GenerationRequest(
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


def canonical_payload(payload: dict[str, Any]) -> str:
    """The payload as stored and compared during reconciliation: key order never matters."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))


def validate(
    request: GenerationRequest,
    *,
    prompt_max_chars: int,
    offer: ModelOffer = DOCUMENTED,
    first_frame_follows: bool = False,
) -> list[str]:
    """Check the provider's rules, as its model detail narrows them (``offer``); return one
    sentence per problem (empty: fine). ``first_frame_follows``: a continuation, whose
    first frame is attached just before it is sent (so a last frame may come with it)."""
    problems: list[str] = []
    _check_prompt(request, prompt_max_chars, problems)
    _check_scalars(request, offer, problems)
    _check_inputs(request, offer, problems)
    _check_modes(request, offer, problems, first_frame_follows=first_frame_follows)
    _check_media(request, problems)
    return problems


def quoted(text: str, limit: int = 80) -> str:
    """A member's value (a file name, a link, an id) inside a refusal, shown as it is: a
    code span renders no markdown and no mentions, so only its own delimiter and line
    breaks need taking out; cut to ``limit`` so a refusal stays within one message."""
    flat = "".join(" " if not c.isprintable() else c for c in text).replace("`", "'")
    return f"`{flat if len(flat) <= limit else flat[: limit - 1] + '…'}`"


def _check_prompt(request: GenerationRequest, cap: int, problems: list[str]) -> None:
    prompt = request.prompt
    if not has_visible_text(prompt):
        problems.append(
            "The prompt is empty: it has no visible text (spaces and invisible characters "
            "don't count). Describe the video you want in words."
        )
    elif len(prompt) > cap:
        problems.append(
            f"The prompt is {len(prompt)} characters long; the limit here is {cap}. Shorten it."
        )


def _check_scalars(request: GenerationRequest, offer: ModelOffer, problems: list[str]) -> None:
    low, high = offer.durations
    if not low <= request.duration <= high:
        problems.append(
            f"This model makes videos of {low} to {high} seconds; you asked for "
            f"{request.duration}. Pick a `duration` in that range."
        )
    for name, value, allowed in (
        ("resolution", request.resolution, offer.resolutions),
        ("ratio", request.ratio, offer.ratios),
    ):
        if value not in allowed:
            problems.append(
                f"This model doesn't offer the {name} {quoted(value, 20)}; pick one of "
                f"{', '.join(allowed)}."
            )
    if request.seed is not None and not SEED_RANGE[0] <= request.seed <= SEED_RANGE[1]:
        problems.append(f"`seed` must be between {SEED_RANGE[0]} and {SEED_RANGE[1]}.")


def _check_inputs(request: GenerationRequest, offer: ModelOffer, problems: list[str]) -> None:
    given = [name for name in INPUTS if getattr(request, name)]
    refused = [name for name in given if name not in offer.inputs]
    if refused:
        takes = offer.input_names()
        problems.append(
            f"This model doesn't take {' or '.join(INPUTS[name] for name in refused)}"
            + (f"; it takes {', '.join(takes)} besides the prompt." if takes
               else "; describe the video in the prompt alone.")
        )  # fmt: skip


def _check_modes(
    request: GenerationRequest,
    offer: ModelOffer,
    problems: list[str],
    *,
    first_frame_follows: bool,
) -> None:
    if (request.first_frame or request.last_frame or first_frame_follows) and request.reference_count:
        problems.append(
            "First/last frames and references can't be combined: use either "
            "`first_frame`/`last_frame` or the `reference_*` options, not both."
        )
    if request.last_frame and not (request.first_frame or first_frame_follows):
        problems.append("`last_frame` needs a `first_frame`: add the opening image too.")
    if request.reference_audios and not (request.reference_images or request.reference_videos):
        problems.append(
            "Reference audio needs at least one reference image or video to go with it: "
            "add a `reference_image` or `reference_video`."
        )
    for name, kind in (
        ("reference images", "reference_images"),
        ("reference videos", "reference_videos"),
        ("reference audio files", "reference_audios"),
    ):
        media, most = getattr(request, kind), offer.list_sizes[kind]
        if len(media) > most:
            problems.append(
                f"At most {most} {name} are allowed; you gave {len(media)}. Remove some."
            )
    if request.reference_count > MAX_REFERENCE_FILES:
        problems.append(
            f"At most {MAX_REFERENCE_FILES} references are allowed in all; you gave "
            f"{request.reference_count}. Remove some."
        )
    problems += [p for p in map(asset_id_problem, request.reference_asset_ids) if p]


def asset_id_problem(asset_id: str) -> str | None:
    """Why ``asset_id`` can't be an id of an asset uploaded to the provider (None: it can)."""
    if not asset_id or len(asset_id) > 200 or not asset_id.isprintable() or " " in asset_id:
        return f"`reference_asset_ids` has an invalid id {quoted(asset_id, 40)}."
    return None


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


def media_problems(media: MediaInput, kind: MediaKind) -> list[str]:
    """The provider's rules for one reference file of ``kind`` (a library asset's, when a
    moderator adds it); empty: fine."""
    problems: list[str] = []
    _check_one(media, kind, problems)
    return problems


def clip_length_problem(media: MediaInput, seconds: float) -> str | None:
    """Why a reference video or audio clip ``seconds`` long is refused (None: it is not):
    each must last at least about 2 s, and at most what all of them may last together."""
    low, high = REFERENCE_CLIP_SECONDS
    if low - CLIP_LENGTH_TOLERANCE <= seconds <= high + CLIP_LENGTH_TOLERANCE:
        return None
    return (
        f"{quoted(media.label)} lasts {seconds:.1f} s; a reference clip must last {low} to "
        f"{high} seconds. Trim it or pick another."
    )


_TYPES: dict[MediaKind, dict[str, Format]] = {
    "image": IMAGE_TYPES,
    "video": VIDEO_TYPES,
    "audio": AUDIO_TYPES,
}
_FORMATS = {str(f): f for f in Format}


def _check_one(media: MediaInput, kind: MediaKind, problems: list[str]) -> None:
    label = quoted(media.label)
    problem = _link_problem(media.url, label)
    if problem is not None:
        problems.append(problem)
        return
    if not media.is_upload:
        return  # a plain URL: the provider checks the file itself
    allowed = _TYPES[kind]
    names = ", ".join(sorted(set(allowed.values())))
    content_type = (media.content_type or "").split(";")[0].strip().lower()
    if content_type not in allowed:
        problems.append(f"{label} is not a supported {kind}: use {names}.")
        return
    if media.size == 0:
        problems.append(f"{label} is an empty file (0 bytes): upload the {kind} itself.")
        return
    if media.detected is not None and media.detected not in allowed.values():
        real = _FORMATS.get(media.detected)
        formats = sorted(set(allowed.values()))
        either = f"{', '.join(formats[:-1])} or {formats[-1]}"
        what = f"{real} {real.kind}, not {either}" if real else f"not {either} data"
        problems.append(
            f"{label} is not a real {kind} file: its contents are {what}. "
            f"Upload the {kind} itself."
        )
        return
    size = media.size or 0
    if kind == "image":
        _check_image(media, label, size, problems)
    elif kind == "audio" and size > AUDIO_MAX_BYTES:
        problems.append(f"{label} is {size / MB:.1f} MB; audio files must be at most 15 MB.")


def _check_image(media: MediaInput, label: str, size: int, problems: list[str]) -> None:
    if size >= IMAGE_MAX_BYTES:
        problems.append(f"{label} is {size / MB:.1f} MB; images must be under 30 MB.")
    if media.width is None or media.height is None:
        return
    low, high = IMAGE_SIDE_RANGE
    if not (low <= media.width <= high and low <= media.height <= high):
        problems.append(
            f"{label} is {media.width}x{media.height} px; each side must be "
            f"{low} to {high} px. Resize it."
        )
    if media.width > 0 and media.height > 0:
        aspect = media.width / media.height
        if not IMAGE_ASPECT_RANGE[0] <= aspect <= IMAGE_ASPECT_RANGE[1]:
            problems.append(
                f"{label} has an aspect ratio of {aspect:.2f}; it must be between "
                f"{IMAGE_ASPECT_RANGE[0]} and {IMAGE_ASPECT_RANGE[1]}. Crop it."
            )


# -- links -------------------------------------------------------------------------------


def _link_problem(url: str, label: str) -> str | None:
    """What makes ``url`` unusable as a link whoever gave it (None: nothing)."""
    if any(c.isspace() or not c.isprintable() for c in url):
        return f"{label} is not a valid link: it has spaces or invisible characters in it."
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (reading it checks it: a port past 65535 raises)
    except ValueError:
        return f"{label} is not a valid link: check how it is written."
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{label} is not an http(s) link: give a public http(s) URL."
    if parts.username is not None or parts.password is not None:
        without = quoted(urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])))
        return (
            f"The link to {without} has a user name or password in it, and links are shown "
            "to everyone: remove them (and change that password if it is a real one)."
        )
    return None


def local_link_problems(request: GenerationRequest) -> list[str]:
    """The links a member typed whose host is not on the public internet, one sentence each.

    The provider fetches every input from the public internet, so a loopback, private,
    link-local, multicast or reserved address, or a name that is plainly local
    (``localhost``, ``*.local``, ``*.internal``...), can't work there; and the bot must not
    be the way to make a fetch reach a network it was never meant to. Uploads are on
    Discord's CDN and are never judged here.

    Only the literal host is judged, with no DNS lookup: this runs inside Discord's 3 s,
    where a lookup could take seconds, and its answer would prove nothing anyway, since the
    name can resolve differently for the provider, or later (DNS rebinding). What a public
    name resolves to is the fetcher's business; what the bot can know for certain, and
    refuses, is a link that says outright it points somewhere private.
    """
    problems = []
    for media in request.media:
        if media.is_upload:
            continue
        try:
            host = urlsplit(media.url).hostname
        except ValueError:
            continue  # `validate` says what is wrong with it
        why = _why_not_public(unquote(host)) if host else None
        if why is not None:
            problems.append(
                f"{quoted(media.label)} points at {why}: the video provider fetches every "
                "link from the public internet, so it can't reach that. Upload the file "
                "instead, or give a public link."
            )
    return problems


_LOCAL_NAMES = ("localhost", "local", "internal", "localdomain", "lan", "home.arpa")
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})  # as IDNA maps them


def _why_not_public(host: str) -> str | None:
    """Why ``host`` (as `urlsplit` gives it) is not a public internet host; None if it is."""
    name = unicodedata.normalize("NFKC", host).translate(_DOTS).lower().removesuffix(".")
    address = _ip_literal(name)
    if address is None:
        if any(name == local or name.endswith("." + local) for local in _LOCAL_NAMES):
            return f"{name}, a local network name"
        if "." not in name:
            return f"{name or 'an empty host'}, which is not a public internet name"
        return None
    if isinstance(address, str):
        return f"{address}, which is not a valid address"
    embedded = _embedded_ipv4(address)
    if not _is_public(address) or (embedded is not None and not _is_public(embedded)):
        return f"{address}, a loopback, private or reserved address"
    return None


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _ip_literal(name: str) -> IPAddress | str | None:
    """The address ``name`` spells, as an HTTP client reads it (None: a name; a str: an
    address that doesn't parse). IPv4 follows the URL standard, which also reads
    ``127.1``, ``0x7f.0.0.1``, ``0177.0.0.1`` and ``2130706433`` as 127.0.0.1."""
    if ":" in name:
        try:
            return ipaddress.IPv6Address(name)
        except ValueError:
            return name
    last = name.rsplit(".", 1)[-1]
    if not (last.isascii() and (last.isdigit() or re.fullmatch(r"0[xX][0-9a-fA-F]*", last))):
        return None
    parts = name.split(".")
    numbers = [_ipv4_number(part) for part in parts]
    if len(parts) > 4 or any(n is None for n in numbers):
        return name
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        return name
    total = values[-1]
    for index, number in enumerate(values[:-1]):
        total += number << (8 * (3 - index))
    return ipaddress.IPv4Address(total)


def _ipv4_number(part: str) -> int | None:
    if re.fullmatch(r"0[xX][0-9a-fA-F]*", part):
        return int(part[2:] or "0", 16)
    if re.fullmatch(r"0[0-7]+", part):
        return int(part, 8)
    if re.fullmatch(r"[0-9]+", part) and part.isascii():
        return int(part)
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv6 one that carries it (mapped, 6to4, Teredo, NAT64)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _is_public(address: IPAddress) -> bool:
    return address.is_global and not address.is_multicast


# -- members' text -----------------------------------------------------------------------

_NEWLINES = "\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# Letters and symbols that show nothing, used to fake empty or invisible text.
_BLANKS = "\u115f\u1160\u3164\uffa0\u2800"
_JOINERS = "\u200c\u200d"  # they shape emoji and several scripts; alone they are invisible
# An emoji flag of a region (England, Scotland...): the only use of tag characters to keep.
_TAG_FLAG = re.compile("\U0001f3f4[\U000e0030-\U000e0039\U000e0061-\U000e007a]{1,6}\U000e007f")


# Visible ASCII words, one space apart, in lines at most one blank line apart: nothing for
# `normalise_text` to change.
_ALREADY_NORMAL = re.compile(r"[!-~]+(?: [!-~]+)*(?:\n\n?[!-~]+(?: [!-~]+)*)*\Z")


def normalise_text(text: str) -> str:
    """``text`` as a member means it, the same way whatever their keyboard did.

    NFC; every line break spelt as ``\\n``, at most one blank line in a row; runs of spaces
    (of any width) as one space, none at the ends of lines. Characters that show nothing or
    reorder what is shown are taken out: controls, zero-width spaces, bidirectional
    overrides and isolates, soft hyphens, tag characters, and the fillers used for
    "invisible" text. Emoji stay whole: a zero-width joiner (or non-joiner) is kept between
    two characters that aren't ASCII (emoji sequences, Indic and Arabic scripts), and a
    regional flag's tag sequence is kept. Applying it twice changes nothing.
    """
    if _ALREADY_NORMAL.match(text):
        return text  # most prompts, and every one read back from the job store
    return _normalise_fully(text)


def _normalise_fully(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    kept: list[str] = []
    at = 0
    while at < len(text):
        flag = _TAG_FLAG.match(text, at) if text[at] == "\U0001f3f4" else None
        if flag is not None:
            kept.append(flag[0])
            at = flag.end()
            continue
        char = text[at]
        at += 1
        if char in _NEWLINES:
            kept.append("\n")
        elif char.isspace() or char in _BLANKS:
            kept.append(" ")
        elif char in _JOINERS or unicodedata.category(char) not in ("Cc", "Cf", "Cs"):
            kept.append(char)
    text = "".join(_joiner_in_context(kept, i) for i in range(len(kept)))
    lines = [re.sub(" {2,}", " ", line).strip(" ") for line in text.split("\n")]
    return re.sub("\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def _joiner_in_context(chars: list[str], index: int) -> str:
    char = chars[index]
    if char not in _JOINERS:
        return char
    before = chars[index - 1] if index > 0 else " "
    after = chars[index + 1] if index + 1 < len(chars) else " "
    if all(not c.isascii() and not c.isspace() and c not in _JOINERS for c in (before, after)):
        return char
    return ""


def has_visible_text(text: str) -> bool:
    """Whether ``text`` shows anything: a letter, digit, punctuation mark or symbol (or a
    character newer than this Python's Unicode tables, most likely a new emoji)."""
    return any(c not in _BLANKS and unicodedata.category(c) in _VISIBLE for c in text)


_VISIBLE = frozenset(
    "Lu Ll Lt Lm Lo Nd Nl No Pc Pd Ps Pe Pi Pf Po Sm Sc Sk So Co Cn".split()
)
