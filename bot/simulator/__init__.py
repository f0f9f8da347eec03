"""A scriptable stand-in for GMI Cloud's request-queue API, for tests and credit-free dry runs.

Run it on its own with ``python -m bot.simulator --port 8089``.
"""

from .app import (
    API_PREFIX,
    BACKEND_400_ERROR,
    DEFAULT_MODEL,
    Behaviour,
    Fault,
    GMISimulator,
    LoggedCall,
    SimRequest,
    Timings,
)
from .media import RenderSpec, VideoSpec, mp4_duration, pad_mp4
from .validation import CONTENT_POLICY_MESSAGE, PayloadError, validate_payload

__all__ = [
    "API_PREFIX",
    "BACKEND_400_ERROR",
    "CONTENT_POLICY_MESSAGE",
    "DEFAULT_MODEL",
    "Behaviour",
    "Fault",
    "GMISimulator",
    "LoggedCall",
    "PayloadError",
    "RenderSpec",
    "SimRequest",
    "Timings",
    "VideoSpec",
    "mp4_duration",
    "pad_mp4",
    "validate_payload",
]
