"""last_frame: the picture a continued video starts from."""

from __future__ import annotations

import struct

import pytest

from bot.media import MediaError, last_frame
from tests.support.media import encode, rgb_pixels

BLUE = (0x33, 0x66, 0xCC)
TOLERANCE = 6  # per channel: H.264 and the YUV round trip move flat colours a little


def clip_ending_in(
    colour: tuple[int, int, int], seconds: float, audio_seconds: float = 0
) -> list[str]:
    """ffmpeg arguments for ``seconds`` of moving pattern then ONE frame of ``colour``, with a
    keyframe only every 10 s (so the end is far from a keyframe)."""
    hex_colour = "0x" + bytes(colour).hex()
    graph = (
        f"testsrc2=size=160x90:rate=24:duration={seconds}[pattern];"
        f"color=c={hex_colour}:size=160x90:rate=24,trim=end_frame=1[end];"
        "[pattern][end]concat=n=2:v=1:a=0"
    )
    args = ["-f", "lavfi", "-i", graph]
    if audio_seconds:
        args += ["-f", "lavfi", "-i", f"sine=duration={audio_seconds}", "-c:a", "aac"]
    return [*args, "-c:v", "libx264", "-g", "240", "-pix_fmt", "yuv420p"]


def png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def mean_colour(rgb: bytes) -> tuple[float, float, float]:
    pixels = len(rgb) // 3
    return (sum(rgb[0::3]) / pixels, sum(rgb[1::3]) / pixels, sum(rgb[2::3]) / pixels)


async def test_the_last_frame_is_the_clips_final_picture(ffmpeg):
    clip = await encode(ffmpeg, clip_ending_in(BLUE, seconds=8))

    png = await last_frame(ffmpeg, clip)

    assert png_size(png) == (160, 90)
    assert mean_colour(await rgb_pixels(ffmpeg, png)) == pytest.approx(BLUE, abs=TOLERANCE)


async def test_the_last_frame_when_the_sound_outlasts_the_picture(ffmpeg):
    clip = await encode(ffmpeg, clip_ending_in(BLUE, seconds=1, audio_seconds=3))

    png = await last_frame(ffmpeg, clip)

    assert mean_colour(await rgb_pixels(ffmpeg, png)) == pytest.approx(BLUE, abs=TOLERANCE)


async def test_last_frame_refuses_what_is_not_a_video(ffmpeg):
    with pytest.raises(MediaError, match="HTML"):
        await last_frame(ffmpeg, b"<!doctype html><html></html>")
