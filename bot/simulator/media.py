"""Real, playable test videos for the simulator, rendered with imageio-ffmpeg's bundled ffmpeg.

Each distinct :class:`RenderSpec` is rendered once (through `bot.media.FFmpeg`, in a
subprocess) and kept in memory. MP4s can be padded to an exact size with a trailing ``free``
box, which players skip, so size limits can be tested with a file that still plays.

The default footage is a small test pattern, which compresses far better than anything a
provider sends; ``footage="realistic"`` adds moving grain to it and encodes it at a
provider-like bitrate, for tests of what fitting a real result under an upload limit costs.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from dataclasses import dataclass
from typing import Any, Literal

from bot.media import FFmpeg
from bot.media.containers import iter_boxes
from bot.media.ffmpeg import read_file, scratch_dir

log = logging.getLogger(__name__)

Footage = Literal["pattern", "realistic"]
# Realistic footage is encoded at 0.16 bits per pixel per frame: 8 Mbit/s at 1080p24,
# 3.5 Mbit/s at 720p24. An assumption, not a measurement of Seedance's own files: hosted
# video models deliver H.264 at a high-quality setting, and 6-10 Mbit/s at 1080p is what
# such files commonly carry. It makes a 15 s 1080p result ~15 MB, well over 10 MiB.
REALISTIC_BITS_PER_PIXEL = 0.16
# Temporal grain over testsrc2's moving pattern: detail in every frame, different in every
# frame, so an encoder can't get it for free. This strength makes the footage as hard as its
# bitrate says: x264 at its default quality (CRF 23, veryfast) takes ~8 Mbit/s for it at
# 1080p24 (the bare pattern takes ~5; grain of 16 takes 18).
REALISTIC_GRAIN = "noise=alls=13:allf=t+u"
RENDER_TIMEOUT = 30.0  # seconds, plus the next per second of video
RENDER_TIMEOUT_PER_SECOND = 4.0

RATIOS: dict[str, tuple[int, int]] = {
    "16:9": (16, 9),
    "4:3": (4, 3),
    "1:1": (1, 1),
    "3:4": (3, 4),
    "9:16": (9, 16),
    "21:9": (21, 9),
    "adaptive": (16, 9),
}


@dataclass(frozen=True)
class RenderSpec:
    """Exactly what ffmpeg renders; the cache key."""

    width: int
    height: int
    fps: int
    duration: float
    audio: bool
    footage: Footage = "pattern"

    @property
    def realistic_bitrate(self) -> int:
        """Bits per second of realistic footage at this size and frame rate."""
        return int(self.width * self.height * self.fps * REALISTIC_BITS_PER_PIXEL)


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


@dataclass(frozen=True)
class VideoSpec:
    """How the simulator turns a request's payload into a video to render.

    ``width``/``height`` None: follow the payload's ``ratio`` with ``short_side`` pixels on the
    short side. ``duration`` None: the payload's ``duration`` capped at ``max_duration``.
    ``audio`` None: follow the payload's ``generate_audio`` (default true).
    ``footage``: the quick test pattern, or realistic footage (see the module's docstring).
    The defaults are tiny, for tests; :meth:`dry_run` is what the standalone server uses.
    """

    width: int | None = 160
    height: int | None = 90
    duration: float | None = 1.0
    fps: int = 12
    max_duration: float = 10.0
    short_side: int = 360
    audio: bool | None = None
    footage: Footage = "pattern"

    @classmethod
    def dry_run(cls) -> VideoSpec:
        return cls(width=None, height=None, duration=None, fps=24, max_duration=10.0)

    def resolve(self, payload: dict[str, Any] | None) -> RenderSpec:
        payload = payload or {}
        width: float
        height: float
        if self.width and self.height:
            width, height = self.width, self.height
        else:
            rw, rh = RATIOS.get(str(payload.get("ratio", "16:9")), (16, 9))
            scale = self.short_side / min(rw, rh)
            width, height = rw * scale, rh * scale
        if self.duration is not None:
            duration = float(self.duration)
        else:
            requested = payload.get("duration", 5)
            requested = requested if isinstance(requested, int | float) else 5
            duration = float(min(max(requested, 1), self.max_duration))
        audio = self.audio
        if audio is None:
            audio = payload.get("generate_audio", True) is not False
        return RenderSpec(
            _even(width), _even(height), self.fps, duration, bool(audio), self.footage
        )


def video_args(spec: RenderSpec, out: str) -> list[str]:
    source = f"testsrc2=size={spec.width}x{spec.height}:rate={spec.fps}:duration={spec.duration:g}"
    if spec.footage == "realistic":
        source += f",{REALISTIC_GRAIN}"
    args = ["-f", "lavfi", "-i", source]
    if spec.audio:
        args += [
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:sample_rate=44100:duration={spec.duration:g}",
        ]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if spec.footage == "realistic":
        rate = spec.realistic_bitrate
        args += ["-b:v", str(rate), "-maxrate", str(rate), "-bufsize", str(2 * rate)]
    if spec.audio:
        args += ["-c:a", "aac", "-b:a", "64k", "-shortest"]
    return [*args, "-movflags", "+faststart", "-y", out]


def thumbnail_args(spec: RenderSpec, out: str) -> list[str]:
    return [
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={spec.width}x{spec.height}:rate=1:duration=1",
        "-frames:v",
        "1",
        "-q:v",
        "5",
        "-y",
        out,
    ]


class MediaRenderer:
    """Renders and caches videos and thumbnails; ``close()`` stops any render still running."""

    def __init__(self, exe: str | None = None) -> None:
        self._ffmpeg = FFmpeg(exe)
        self._cache: dict[tuple[str, RenderSpec], asyncio.Task[bytes]] = {}

    async def video(self, spec: RenderSpec) -> bytes:
        return await self._get("mp4", spec)

    async def thumbnail(self, spec: RenderSpec) -> bytes:
        return await self._get("jpg", spec)

    async def _get(self, kind: str, spec: RenderSpec) -> bytes:
        key = (kind, spec)
        task = self._cache.get(key)
        if task is None or (task.done() and (task.cancelled() or task.exception())):
            task = asyncio.get_running_loop().create_task(self._render(kind, spec))
            self._cache[key] = task
        # Shielded: one impatient client must not cancel a render others wait for.
        return await asyncio.shield(task)

    async def _render(self, kind: str, spec: RenderSpec) -> bytes:
        out = f"render.{kind}"
        with scratch_dir() as scratch:
            await self._ffmpeg.check(
                video_args(spec, out) if kind == "mp4" else thumbnail_args(spec, out),
                cwd=scratch,
                timeout=RENDER_TIMEOUT + RENDER_TIMEOUT_PER_SECOND * spec.duration,
                what=f"rendering {kind}",
            )
            data = await read_file(scratch / out)
        log.debug("rendered %s %s: %d bytes", kind, spec, len(data))
        return data

    async def close(self) -> None:
        """Cancel unfinished renders (which kills their ffmpeg) and forget the rest."""
        for task in self._cache.values():
            if not task.done():
                task.cancel()
        for task in list(self._cache.values()):
            try:
                await task
            except BaseException:  # noqa: S110 - a cancelled or failed render is fine at shutdown
                pass
        self._cache.clear()


# ---- MP4 boxes ------------------------------------------------------------------------------


def free_box(total_size: int) -> bytes:
    """A ``free`` box of exactly ``total_size`` bytes (header included); at least 8."""
    if total_size < 8:
        raise ValueError("a free box needs at least 8 bytes")
    if total_size <= 0xFFFFFFFF:
        return struct.pack(">I4s", total_size, b"free") + bytes(total_size - 8)
    if total_size < 16:
        raise ValueError("a large free box needs at least 16 bytes")
    return struct.pack(">I4sQ", 1, b"free", total_size) + bytes(total_size - 16)


def free_box_header(total_size: int) -> bytes:
    """Just the header of :func:`free_box`, for streaming the zeros separately."""
    if total_size <= 0xFFFFFFFF:
        return struct.pack(">I4s", total_size, b"free")
    return struct.pack(">I4sQ", 1, b"free", total_size)


def padding_for(current: int, target: int | None) -> int:
    """Bytes of ``free`` box to append so a ``current``-byte file becomes ``target`` bytes.

    0 when no padding is wanted or the target is too small to hold a box (the file is then
    served as is).
    """
    if target is None or target - current < 8:
        return 0
    return target - current


def pad_mp4(data: bytes, target: int | None) -> bytes:
    pad = padding_for(len(data), target)
    return data + free_box(pad) if pad else data


def mp4_duration(data: bytes) -> float:
    """Duration in seconds from ``moov/mvhd``; raises ValueError when there is none."""
    for kind, offset, size, header in iter_boxes(data):
        if kind != "moov":
            continue
        for sub, s_off, _s_size, s_header in iter_boxes(data, offset + header, offset + size):
            if sub != "mvhd":
                continue
            body = s_off + s_header
            version = data[body]
            if version == 1:
                timescale, duration = struct.unpack_from(">IQ", data, body + 4 + 16)
            else:
                timescale, duration = struct.unpack_from(">II", data, body + 4 + 8)
            if not timescale:
                raise ValueError("mvhd has a zero timescale")
            return float(duration / timescale)
    raise ValueError("no moov/mvhd box")
