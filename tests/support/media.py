"""Helpers and pytest fixtures for tests of videos (register with ``pytest_plugins``).

- ``ffmpeg``: a `bot.media.FFmpeg` on the bundled binary.
- ``renderer``: the simulator's `MediaRenderer` (the simulator's own MP4s), closed at teardown.
- `encode(ffmpeg, args, ext, inputs)`: the bytes ffmpeg writes to ``out.<ext>``.
- `decode(ffmpeg, data)`: decode every stream; what a player would run into.
- `rgb_pixels(ffmpeg, image)`: an image's pixels as RGB bytes.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import pytest

from bot.media import FFmpeg
from bot.media.ffmpeg import read_file, scratch_dir, write_file
from bot.simulator.media import MediaRenderer

__all__ = ["Decoded", "decode", "encode", "ffmpeg", "renderer", "rgb_pixels"]

TIMEOUT = 60.0
PROGRESS_LINE = re.compile(r"[a-z0-9_]+=.*")  # what -progress writes, one key a line


@pytest.fixture
def ffmpeg() -> FFmpeg:
    return FFmpeg()


@pytest.fixture
async def renderer() -> AsyncIterator[MediaRenderer]:
    rendering = MediaRenderer()
    try:
        yield rendering
    finally:
        await rendering.close()


async def encode(
    ffmpeg: FFmpeg, args: Sequence[str], ext: str = "mp4", inputs: Sequence[bytes] = ()
) -> bytes:
    """Run ffmpeg with ``args`` followed by ``out.<ext>``; return that file.

    ``inputs`` are written first as ``in0``, ``in1``, ... for ``args`` to name.
    """
    with scratch_dir() as scratch:
        for index, data in enumerate(inputs):
            await write_file(scratch / f"in{index}", data)
        out = f"out.{ext}"
        await ffmpeg.check([*args, "-y", out], cwd=scratch, timeout=TIMEOUT, what="encoding")
        return await read_file(scratch / out)


@dataclass(frozen=True)
class Decoded:
    errors: list[str]  # every message ffmpeg printed at level "error"
    frames: int  # video frames decoded
    seconds: float  # how far playback got


async def decode(ffmpeg: FFmpeg, data: bytes) -> Decoded:
    """Decode all of ``data``, as playing it through would."""
    with scratch_dir() as scratch:
        await write_file(scratch / "in", data)
        finished = await ffmpeg.run(
            ["-i", "in", "-f", "null", "-progress", "pipe:2", "-"], cwd=scratch, timeout=TIMEOUT
        )
    lines = finished.log.splitlines()
    progress = dict(line.split("=", 1) for line in lines if PROGRESS_LINE.fullmatch(line))
    errors = [line for line in lines if line and not PROGRESS_LINE.fullmatch(line)]
    if finished.returncode != 0:
        errors.append(f"exit code {finished.returncode}")
    frames = int(progress.get("frame", 0))
    seconds = int(progress.get("out_time_us", "0").replace("N/A", "0")) / 1e6
    return Decoded(errors, frames, seconds)


async def rgb_pixels(ffmpeg: FFmpeg, image: bytes) -> bytes:
    """``image`` (PNG, BMP, ...) decoded to packed 8-bit RGB."""
    with scratch_dir() as scratch:
        await write_file(scratch / "in", image)
        await ffmpeg.check(
            ["-i", "in", "-f", "rawvideo", "-pix_fmt", "rgb24", "-y", "out.rgb"],
            cwd=scratch,
            timeout=TIMEOUT,
            what="decoding the image",
        )
        return await read_file(scratch / "out.rgb")
