"""Video work with the bundled ffmpeg: check a download.

Plain async Python; every call takes the process's one `FFmpeg` (which bounds how many
ffmpeg processes run at once) and raises `MediaError` with a short reason on any failure.
"""

from .containers import sniff_container
from .errors import MediaError
from .ffmpeg import FFmpeg
from .probing import VideoInfo, probe

__all__ = ["FFmpeg", "MediaError", "VideoInfo", "probe", "sniff_container"]
