"""Video work with the bundled ffmpeg.

Plain async Python; every call takes the process's one `FFmpeg` (which bounds how many
ffmpeg processes run at once) and raises `MediaError` with a short reason on any failure.
"""

from .containers import sniff_container
from .errors import MediaError
from .ffmpeg import FFmpeg

__all__ = ["FFmpeg", "MediaError", "sniff_container"]
