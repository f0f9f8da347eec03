"""fit: a video under an upload limit, that still plays the whole way through."""

from __future__ import annotations

import pytest

from bot.media import MediaError, VideoInfo, fit, fitting, plan_fit, probe
from bot.simulator import RenderSpec
from tests.support.media import decode

MIB = 1024 * 1024
UNBOOSTED = 10 * MIB  # Discord's upload limit in a server without boosts


def info(duration: float, width: int = 1920, height: int = 1080, fps: float = 24.0) -> VideoInfo:
    return VideoInfo("mp4", 30 * MIB, duration, width, height, fps, "h264", has_audio=True)


async def test_a_realistic_15s_1080p_result_fits_under_10_mib_and_plays(ffmpeg, renderer):
    source = await renderer.video(RenderSpec(1920, 1080, 24, 15.0, True, footage="realistic"))
    assert len(source) > UNBOOSTED  # genuinely over the limit: there is something to do

    fitted = await fit(ffmpeg, source, UNBOOSTED)

    assert fitted.reencoded and fitted.size <= UNBOOSTED
    assert fitted.size > 0.9 * UNBOOSTED  # it used the room it had
    assert (fitted.width, fitted.height) == (1920, 1080)  # 0.10 bit/pixel: no need to shrink
    result = await probe(ffmpeg, fitted.data)
    assert (result.video_codec, result.width, result.height) == ("h264", 1920, 1080)
    assert result.has_audio and result.duration == pytest.approx(15.0, abs=0.1)
    played = await decode(ffmpeg, fitted.data)
    assert played.errors == []
    assert played.frames == 15 * 24
    assert played.seconds == pytest.approx(15.0, abs=0.1)


async def test_a_tight_limit_lowers_the_resolution(ffmpeg, renderer):
    source = await renderer.video(RenderSpec(640, 360, 24, 4.0, True, footage="realistic"))
    limit = 200_000

    fitted = await fit(ffmpeg, source, limit)

    assert fitted.size <= limit
    assert fitted.width < 640 and fitted.height < 360
    assert fitted.width / fitted.height == pytest.approx(16 / 9, abs=0.02)
    result = await probe(ffmpeg, fitted.data)
    assert (result.width, result.height) == (fitted.width, fitted.height)
    assert (await decode(ffmpeg, fitted.data)).errors == []


async def test_a_result_over_the_limit_is_encoded_again_lower(ffmpeg, renderer, monkeypatch):
    monkeypatch.setattr(fitting, "SAFETY_MARGIN", -0.25)  # plan 25% over the limit
    source = await renderer.video(RenderSpec(640, 360, 24, 3.0, False, footage="realistic"))
    limit = len(source) // 2

    fitted = await fit(ffmpeg, source, limit)

    assert fitted.encodes == 2 and fitted.size <= limit
    assert (await decode(ffmpeg, fitted.data)).errors == []


async def test_a_video_that_already_fits_is_returned_untouched(ffmpeg, renderer):
    source = await renderer.video(RenderSpec(160, 90, 12, 1.0, True))
    fitted = await fit(ffmpeg, source, UNBOOSTED)
    assert fitted.data is source and not fitted.reencoded and fitted.encodes == 0


async def test_fit_refuses_what_is_not_a_video(ffmpeg):
    with pytest.raises(MediaError, match="HTML"):
        await fit(ffmpeg, b"<html><body>Not Found</body></html>", UNBOOSTED)


def test_the_plan_keeps_1080p_when_the_budget_allows_it():
    plan = plan_fit(info(15.0), UNBOOSTED)
    assert (plan.width, plan.height) == (1920, 1080)
    assert plan.audio_bitrate == fitting.AUDIO_BITRATE
    total = (plan.video_bitrate + plan.audio_bitrate) * 15 / 8
    assert 0.9 * UNBOOSTED < total < (1 - fitting.SAFETY_MARGIN) * UNBOOSTED


def test_the_plan_shrinks_a_long_video_to_keep_enough_bits_per_pixel():
    plan = plan_fit(info(120.0), UNBOOSTED)
    assert plan.width < 1920 and plan.height < 1080
    assert plan.bits_per_pixel >= fitting.MIN_BITS_PER_PIXEL
    assert plan.width / plan.height == pytest.approx(16 / 9, abs=0.01)


def test_the_plan_refuses_what_cannot_fit_decently():
    with pytest.raises(MediaError, match="can.t fit in 10 MiB"):
        plan_fit(info(1800.0), UNBOOSTED)
