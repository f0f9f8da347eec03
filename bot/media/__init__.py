"""Media work: what a member's file really is (`sniff`, pure Python, before it is used),
and video work with the bundled ffmpeg: check a download, fit it under an upload limit,
take its last frame, join clips.

Plain async Python; every call takes the process's one `FFmpeg` (which bounds how many
ffmpeg processes run at once) and raises `MediaError` with a short reason on any failure.
"""

from .containers import check_container
from .errors import MediaError
from .ffmpeg import FFmpeg
from .fitting import FitPlan, FittedVideo, fit, plan_fit
from .frames import last_frame
from .probing import VideoInfo, clip_length, probe
from .stitching import stitch

__all__ = [
    "FFmpeg",
    "FitPlan",
    "FittedVideo",
    "MediaError",
    "VideoInfo",
    "check_container",
    "clip_length",
    "fit",
    "last_frame",
    "plan_fit",
    "probe",
    "stitch",
]
