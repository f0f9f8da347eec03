"""Making a video fit under an upload limit (Discord: 10 MiB unboosted, 50 at boost tier 2,
100 at tier 3) by re-encoding it two-pass at the bitrate the limit leaves room for.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from .errors import MediaError
from .ffmpeg import FFmpeg, read_file, scratch_dir, write_file
from .probing import VideoInfo, probe

MIB = 1024 * 1024

# x264's "veryfast": both passes of a 15 s 1080p video take ~8 s on 2 idle cores (12.5 s
# of CPU), inside the 15 s target with room for a busy machine. Measured against the
# source at the same bitrate: "faster" takes ~11 s for the same SSIM (17.6 dB);
# "superfast" saves ~1.5 s and loses 0.6 dB (no macroblock tree, no lookahead).
PRESET = "veryfast"
# Two-pass x264 lands within about 1% of its target; 3% more leaves room for that and for
# an estimate of the container's overhead that is a little off.
SAFETY_MARGIN = 0.03
# The MP4's own bytes: ftyp, moov headers and the mdat header, plus its sample tables
# (about 12 bytes per video frame and per AAC frame, ~70 frames a second at 24 fps and
# 48 kHz; doubled).
MP4_OVERHEAD_BYTES = 32 * 1024
MP4_OVERHEAD_BYTES_PER_SECOND = 2 * 1024
AUDIO_BITRATE = 128_000
# Under 1 Mbit/s for everything, 128 kbit/s of audio is too large a share of the budget.
SMALL_BUDGET = 1_000_000
SMALL_BUDGET_AUDIO_BITRATE = 64_000
# Bits per pixel per frame below which x264 at a fast preset smears detail and shows blocks
# on moving footage (the Kush gauge puts even low-motion footage at 0.07). Under it a
# smaller, sharper picture looks better than a large, blocky one, so the video is scaled
# down until each pixel gets this much. 10 MiB for 15 s at 1080p24 is ~0.10: kept at 1080p.
MIN_BITS_PER_PIXEL = 0.05
# Scaled below this short side (240p) a video is not worth watching: refuse instead.
MIN_SHORT_SIDE = 240
ASSUMED_FPS = 30.0  # for a file that does not say its frame rate
# A second pass that still comes out over the limit is redone at a proportionally lower
# bitrate, 5% lower again (the first pass's statistics still hold), at most this many
# second passes in all.
MAX_ENCODES = 3
RETRY_HEADROOM = 0.95
ENCODE_TIMEOUT = 30.0  # seconds per ffmpeg run, plus the next per second of video
ENCODE_TIMEOUT_PER_SECOND = 2.0


@dataclass(frozen=True)
class FitPlan:
    """The encode that should land under the limit."""

    width: int
    height: int
    video_bitrate: int  # bits per second
    audio_bitrate: int  # bits per second; 0 when the video has no audio
    fps: float

    @property
    def bits_per_pixel(self) -> float:
        return self.video_bitrate / (self.width * self.height * self.fps)


@dataclass(frozen=True)
class FittedVideo:
    """A video under the limit, and what it took to get it there."""

    data: bytes
    reencoded: bool  # False: it already fit and is the input, untouched
    width: int
    height: int
    duration: float  # seconds
    video_bitrate: int  # bits per second asked of the last encode; 0 when not re-encoded
    audio_bitrate: int  # bits per second; 0 when not re-encoded or silent
    encodes: int  # second passes run (a retry lowers the bitrate); 0 when not re-encoded
    seconds: float  # wall-clock time taken, the probe included

    @property
    def size(self) -> int:
        return len(self.data)


def plan_fit(info: VideoInfo, max_bytes: int) -> FitPlan:
    """The bitrate ``max_bytes`` leaves for ``info``'s video, and the picture size that
    bitrate can fill decently (never larger than the source); `MediaError` if none can.
    """
    overhead = MP4_OVERHEAD_BYTES + MP4_OVERHEAD_BYTES_PER_SECOND * info.duration
    total = (max_bytes * (1 - SAFETY_MARGIN) - overhead) * 8 / info.duration
    audio = 0
    if info.has_audio:
        audio = AUDIO_BITRATE if total >= SMALL_BUDGET else SMALL_BUDGET_AUDIO_BITRATE
    video = int(total - audio)
    fps = info.fps or ASSUMED_FPS
    source_pixels = info.width * info.height
    scale = min(1.0, math.sqrt(max(video, 0) / (fps * MIN_BITS_PER_PIXEL) / source_pixels))
    width, height = _even(info.width * scale), _even(info.height * scale)
    if min(width, height) < min(MIN_SHORT_SIDE, info.width, info.height):
        raise MediaError(
            f"{info.duration:.0f} s of video can't fit in {max_bytes / MIB:.3g} MiB "
            "at a watchable quality"
        )
    return FitPlan(width, height, video, audio, fps)


async def fit(ffmpeg: FFmpeg, data: bytes, max_bytes: int) -> FittedVideo:
    """``data`` as an MP4 of at most ``max_bytes``: the input itself when it already fits,
    otherwise re-encoded (H.264 yuv420p with faststart, AAC) two-pass to `plan_fit`'s plan.

    The result's size is checked, and a result over the limit re-encoded at a lower
    bitrate (at most `MAX_ENCODES` times). `MediaError` when the input is not a video, the
    video can't fit decently, or ffmpeg fails.
    """
    started = time.perf_counter()
    info = await probe(ffmpeg, data)
    if info.size <= max_bytes:
        return FittedVideo(
            data=data,
            reencoded=False,
            width=info.width,
            height=info.height,
            duration=info.duration,
            video_bitrate=0,
            audio_bitrate=0,
            encodes=0,
            seconds=time.perf_counter() - started,
        )
    plan = plan_fit(info, max_bytes)
    timeout = ENCODE_TIMEOUT + ENCODE_TIMEOUT_PER_SECOND * info.duration
    video_bitrate = plan.video_bitrate
    with scratch_dir() as scratch:
        await write_file(scratch / "in", data)
        first_pass = ["-pass", "1", "-an", "-f", "null", "-"]
        await ffmpeg.check(
            [*_video_args(plan, video_bitrate), *first_pass],
            cwd=scratch, timeout=timeout, what="the first pass",
        )  # fmt: skip
        for encode in range(1, MAX_ENCODES + 1):
            await ffmpeg.check(
                [*_video_args(plan, video_bitrate), *_second_pass(plan)],
                cwd=scratch, timeout=timeout, what="the second pass",
            )  # fmt: skip
            size = (scratch / "out.mp4").stat().st_size
            if size <= max_bytes:
                return FittedVideo(
                    data=await read_file(scratch / "out.mp4"),
                    reencoded=True,
                    width=plan.width,
                    height=plan.height,
                    duration=info.duration,
                    video_bitrate=video_bitrate,
                    audio_bitrate=plan.audio_bitrate,
                    encodes=encode,
                    seconds=time.perf_counter() - started,
                )
            video_bitrate = int(video_bitrate * max_bytes / size * RETRY_HEADROOM)
    raise MediaError(f"still over {max_bytes:,} bytes after {MAX_ENCODES} encodes")


def _video_args(plan: FitPlan, video_bitrate: int) -> list[str]:
    return [
        "-i", "in", "-map", "0:v:0",
        "-vf", f"scale={plan.width}:{plan.height}", "-pix_fmt", "yuv420p",
        "-c:v", "libx264", "-preset", PRESET, "-b:v", str(video_bitrate),
        "-passlogfile", "passlog",
    ]  # fmt: skip


def _second_pass(plan: FitPlan) -> list[str]:
    audio = ["-map", "0:a:0", "-c:a", "aac", "-b:a", str(plan.audio_bitrate)]
    return [
        "-pass", "2", *(audio if plan.audio_bitrate else ["-an"]),
        "-movflags", "+faststart", "-y", "out.mp4",
    ]  # fmt: skip


def _even(value: float) -> int:
    """Rounded down to an even number, as yuv420p needs."""
    return max(2, int(value) // 2 * 2)
