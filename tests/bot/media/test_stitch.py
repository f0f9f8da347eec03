"""stitch: several clips played as one video."""

from __future__ import annotations

import pytest

from bot.media import MediaError, probe, stitch
from bot.simulator import RenderSpec
from tests.support.media import decode


async def test_three_clips_join_into_one_video_as_long_as_all_of_them(ffmpeg, renderer):
    clips = [
        await renderer.video(RenderSpec(160, 90, 24, 1.0, audio=True)),
        await renderer.video(RenderSpec(160, 90, 24, 1.5, audio=False)),  # silent
        await renderer.video(RenderSpec(90, 160, 12, 0.5, audio=True)),  # portrait, 12 fps
    ]
    durations = [(await probe(ffmpeg, clip)).duration for clip in clips]

    joined = await stitch(ffmpeg, clips)

    info = await probe(ffmpeg, joined)
    assert (info.width, info.height, info.fps) == (160, 90, 24.0)  # the first clip's
    assert (info.video_codec, info.has_audio) == ("h264", True)
    assert info.duration == pytest.approx(sum(durations), abs=2 / 24)
    played = await decode(ffmpeg, joined)
    assert played.errors == []
    assert played.frames == pytest.approx(sum(durations) * 24, abs=2)


async def test_stitch_refuses_a_clip_that_is_not_a_video(ffmpeg, renderer):
    clip = await renderer.video(RenderSpec(160, 90, 24, 1.0, audio=True))
    with pytest.raises(MediaError, match="truncated"):
        await stitch(ffmpeg, [clip, clip[:1000]])
