"""The exact last frame of a video, as a PNG: the start image of a job that continues it."""

from __future__ import annotations

from .containers import check_container
from .errors import MediaError
from .ffmpeg import FFmpeg, read_file, scratch_dir, write_file

FRAME_TIMEOUT = 30.0  # seconds per ffmpeg run
# Decoding starts at the keyframe before the last half second (a seek, so a long clip costs
# no more than a short one) and runs to the end; each frame decoded in the window is written
# as a BMP (cheap), overwriting the one before, so only the last is turned into a PNG.
TAIL_SECONDS = 0.5


async def last_frame(ffmpeg: FFmpeg, data: bytes) -> bytes:
    """The last frame ``data`` shows, as PNG bytes at the video's size; `MediaError` if
    ``data`` is not a decodable video.
    """
    check_container(data)
    with scratch_dir() as scratch:
        await write_file(scratch / "in", data)
        # A frame that started more than TAIL_SECONDS before the end (a very low frame
        # rate, or audio that outlasts the picture) is not in the tail: decode everything.
        for seek in (["-sseof", f"-{TAIL_SECONDS:g}"], []):
            await ffmpeg.check(
                [*seek, "-i", "in", "-map", "0:v:0", "-fps_mode", "passthrough",
                 "-c:v", "bmp", "-update", "1", "-y", "last.bmp"],
                cwd=scratch, timeout=FRAME_TIMEOUT, what="decoding the end",
            )  # fmt: skip
            if (scratch / "last.bmp").exists():
                break
        else:
            raise MediaError("the video has no frames")
        await ffmpeg.check(
            ["-i", "last.bmp", "-c:v", "png", "-y", "last.png"],
            cwd=scratch, timeout=FRAME_TIMEOUT, what="writing the PNG",
        )  # fmt: skip
        return await read_file(scratch / "last.png")
