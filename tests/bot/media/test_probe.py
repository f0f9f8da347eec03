"""probe: what delivery checks a downloaded result with before posting it."""

from __future__ import annotations

import pytest

from bot.media import MediaError, VideoInfo, probe
from bot.simulator import RenderSpec
from tests.support.media import encode

SMALL = RenderSpec(width=160, height=90, fps=12, duration=1.0, audio=True)


async def test_accepts_the_simulators_mp4(ffmpeg, renderer):
    data = await renderer.video(SMALL)
    info = await probe(ffmpeg, data)
    assert info == VideoInfo(
        container="mp4",
        size=len(data),
        duration=pytest.approx(1.0, abs=0.05),
        width=160,
        height=90,
        fps=12.0,
        video_codec="h264",
        has_audio=True,
    )


async def test_a_silent_video_has_no_audio(ffmpeg, renderer):
    data = await renderer.video(RenderSpec(160, 90, 12, 1.0, audio=False))
    assert (await probe(ffmpeg, data)).has_audio is False


async def small_webm(ffmpeg) -> bytes:
    pattern = "testsrc2=size=96x64:rate=10:duration=1"
    return await encode(ffmpeg, ["-f", "lavfi", "-i", pattern, "-c:v", "libvpx"], ext="webm")


async def test_accepts_webm(ffmpeg):
    webm = await small_webm(ffmpeg)
    info = await probe(ffmpeg, webm)
    assert (info.container, info.video_codec, info.width, info.height) == (
        "matroska",
        "vp8",
        96,
        64,
    )


async def test_reports_the_size_a_player_shows_for_a_rotated_video(ffmpeg, renderer):
    landscape = await renderer.video(SMALL)
    portrait = await encode(
        ffmpeg, ["-display_rotation", "90", "-i", "in0", "-c", "copy"], inputs=[landscape]
    )
    assert ((info := await probe(ffmpeg, portrait)).width, info.height) == (90, 160)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<!DOCTYPE html>\n<html><body>502 Bad Gateway</body></html>", "HTML page"),
        (b'{"error": "expired"}', "JSON"),
        (b"", "empty"),
        (b"\x00" * 64, "no MP4, MOV, WebM or Matroska signature"),
    ],
)
async def test_refuses_what_is_not_a_video(ffmpeg, body, reason):
    with pytest.raises(MediaError, match=reason):
        await probe(ffmpeg, body)


@pytest.mark.parametrize("keep", [0.5, 0.01])
async def test_refuses_a_truncated_mp4(ffmpeg, renderer, keep):
    data = await renderer.video(SMALL)
    with pytest.raises(MediaError, match="truncated"):
        await probe(ffmpeg, data[: int(len(data) * keep)])


async def test_refuses_a_truncated_webm(ffmpeg):
    webm = await small_webm(ffmpeg)
    with pytest.raises(MediaError, match="truncated WebM"):
        await probe(ffmpeg, webm[: len(webm) // 2])


async def test_refuses_an_mp4_without_video(ffmpeg):
    audio_only = await encode(ffmpeg, ["-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac"])
    with pytest.raises(MediaError, match="no video stream"):
        await probe(ffmpeg, audio_only)
