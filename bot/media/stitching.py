"""Joining clips into one video (a continued job's parts, played as one)."""

from __future__ import annotations

from collections.abc import Sequence

from .ffmpeg import FFmpeg, read_file, scratch_dir, write_file
from .probing import VideoInfo, probe

# Good quality at x264's veryfast: the joined video is usually fitted to an upload limit
# afterwards (`bot.media.fit`), which sets its final size.
STITCH_PRESET = "veryfast"
STITCH_CRF = 20
AUDIO_BITRATE = "128k"
AUDIO_RATE = 48_000
STITCH_TIMEOUT = 30.0  # seconds, plus the next per second of the joined video
STITCH_TIMEOUT_PER_SECOND = 3.0


async def stitch(ffmpeg: FFmpeg, clips: Sequence[bytes]) -> bytes:
    """``clips`` played one after the other, as one H.264 + AAC MP4 (faststart).

    Every clip takes the first clip's picture size (scaled to fit inside it, keeping its
    shape, and padded with black) and frame rate, and lasts exactly as long as it did: a
    clip's shorter stream is extended (the last frame held, silence added), and a clip
    without audio gets a silent track, so the joins never drift and concat never fails.
    The result lasts the sum of the clips' durations. `MediaError` if a clip is not a
    video or ffmpeg fails.
    """
    if not clips:
        raise ValueError("stitch needs at least one clip")
    infos = [await probe(ffmpeg, clip) for clip in clips]
    total = sum(info.duration for info in infos)
    with scratch_dir() as scratch:
        inputs: list[str] = []
        for index, clip in enumerate(clips):
            await write_file(scratch / f"in{index}", clip)
            inputs += ["-i", f"in{index}"]
        await ffmpeg.check(
            [*inputs, "-filter_complex", _join_graph(infos), "-map", "[v]", "-map", "[a]",
             "-c:v", "libx264", "-preset", STITCH_PRESET, "-crf", str(STITCH_CRF),
             "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", AUDIO_BITRATE,
             "-movflags", "+faststart", "-y", "out.mp4"],
            cwd=scratch,
            timeout=STITCH_TIMEOUT + STITCH_TIMEOUT_PER_SECOND * total,
            what="joining the clips",
        )  # fmt: skip
        return await read_file(scratch / "out.mp4")


def _join_graph(infos: Sequence[VideoInfo]) -> str:
    """The filter graph: each clip's picture and sound normalised and cut to its duration,
    then concatenated."""
    width, height = infos[0].width // 2 * 2, infos[0].height // 2 * 2  # yuv420p: even
    fps = infos[0].fps or 30.0
    parts: list[str] = []
    for index, info in enumerate(infos):
        d = f"{info.duration:.6f}"
        parts.append(
            f"[{index}:v:0]fps={fps:g},"
            f"scale={width}:{height}:force_original_aspect_ratio=decrease,"
            f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p,"
            f"tpad=stop_mode=clone:stop_duration={d},trim=duration={d},setpts=PTS-STARTPTS"
            f"[v{index}]"
        )
        sound = (
            f"[{index}:a:0]aresample={AUDIO_RATE},apad"
            if info.has_audio
            else f"anullsrc=r={AUDIO_RATE}:cl=stereo"
        )
        parts.append(
            f"{sound},aformat=sample_rates={AUDIO_RATE}:channel_layouts=stereo,"
            f"atrim=duration={d},asetpts=PTS-STARTPTS[a{index}]"
        )
    joined = "".join(f"[v{index}][a{index}]" for index in range(len(infos)))
    parts.append(f"{joined}concat=n={len(infos)}:v=1:a=1[v][a]")
    return ";".join(parts)
