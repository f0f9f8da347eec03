"""Is this a video, and what is it? The check delivery runs on a download before posting it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .containers import Container, check_container
from .errors import MediaError
from .ffmpeg import FFmpeg, scratch_dir, write_file

PROBE_TIMEOUT = 30.0  # seconds: reading a header and decoding one frame

_DURATION = re.compile(r"^\s+Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", re.MULTILINE)
_STREAM = re.compile(r"^\s+Stream #0:\d+\S*: (Video|Audio): (\w+)(.*)$", re.MULTILINE)
_SIZE = re.compile(r", (\d{1,5})x(\d{1,5})(?=[\s,\[]|$)")
_RATE = re.compile(r", (\d+(?:\.\d+)?)(k?) (?:fps|tbr)\b")
_ROTATION = re.compile(r"rotation of (-?\d+(?:\.\d+)?) degrees")


@dataclass(frozen=True)
class VideoInfo:
    """What a video is, as a player shows it (``width``/``height`` after any rotation)."""

    container: Container
    size: int  # bytes
    duration: float  # seconds
    width: int
    height: int
    fps: float  # the first video stream's frame rate; 0 when the file doesn't say
    video_codec: str  # ffmpeg's name: "h264", "hevc", "vp9", ...
    has_audio: bool


async def probe(ffmpeg: FFmpeg, data: bytes) -> VideoInfo:
    """``data``'s `VideoInfo`; `MediaError` if it is not a complete, decodable video.

    The container signature and structure are checked first (no ffmpeg needed for an HTML
    page or a truncated MP4), then ffmpeg reads the header and decodes the first frame.
    """
    container = check_container(data)
    with scratch_dir() as scratch:
        await write_file(scratch / "in", data)
        finished = await ffmpeg.run(
            ["-i", "in", "-map", "0:v:0?", "-frames:v", "1", "-f", "null", "-"],
            cwd=scratch,
            timeout=PROBE_TIMEOUT,
            loglevel="info",
        )
    header = _input_header(finished.log)
    if header is None:
        raise MediaError(f"ffmpeg can't read it: {finished.reason}")
    info = _parse_header(header, container, len(data))
    if finished.returncode != 0:
        raise MediaError(f"its first frame does not decode: {finished.reason}")
    return info


async def clip_length(ffmpeg: FFmpeg, data: bytes) -> float:
    """How long a video or audio file lasts, in seconds; `MediaError` if ffmpeg can't read
    it, its first second doesn't decode, or it doesn't say how long it is."""
    with scratch_dir() as scratch:
        await write_file(scratch / "in", data)
        finished = await ffmpeg.run(
            ["-i", "in", "-t", "1", "-f", "null", "-"],
            cwd=scratch,
            timeout=PROBE_TIMEOUT,
            loglevel="info",
        )
    header = _input_header(finished.log)
    if header is None or finished.returncode != 0:
        raise MediaError(f"ffmpeg can't read it: {finished.reason}")
    length = _length(header)
    if length is None:
        raise MediaError("the file does not say how long it is")
    return length


def _length(header: str) -> float | None:
    """The ``Duration`` ffmpeg read in a file's header, in seconds."""
    duration = _DURATION.search(header)
    if duration is None:
        return None
    hours, minutes, seconds = duration.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _parse_header(header: str, container: Container, size: int) -> VideoInfo:
    """A `VideoInfo` from the ``Input #0`` block ffmpeg prints about a file."""
    streams = _STREAM.findall(header)
    videos = [
        (codec, details)
        for kind, codec, details in streams
        if kind == "Video" and "attached pic" not in details  # cover art is not the video
    ]
    if not videos:
        raise MediaError("not a video: it has no video stream")
    codec, details = videos[0]
    length = _length(header)
    if length is None:
        raise MediaError("the file does not say how long it is")
    dimensions = _SIZE.search(details)
    if length <= 0 or dimensions is None:
        raise MediaError("the video has no length or no picture size")
    width, height = int(dimensions[1]), int(dimensions[2])
    rotation = _ROTATION.search(header)
    if rotation and round(float(rotation[1])) % 180 == 90:
        width, height = height, width
    rate = _RATE.search(details)
    fps = float(rate[1]) * (1000 if rate[2] else 1) if rate else 0.0
    return VideoInfo(
        container=container,
        size=size,
        duration=length,
        width=width,
        height=height,
        fps=fps,
        video_codec=codec,
        has_audio=any(kind == "Audio" for kind, _, _ in streams),
    )


def _input_header(stderr: str) -> str | None:
    """The indented block after ``Input #0``, up to the next unindented line."""
    lines = stderr.splitlines()
    for start, line in enumerate(lines):
        if line.startswith("Input #0"):
            block = []
            for following in lines[start + 1 :]:
                if not following.startswith(" "):
                    break
                block.append(following)
            return "\n".join(block)
    return None
