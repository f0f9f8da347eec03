"""Client for GMI Cloud's request-queue API, which serves the Seedance video models."""

from .client import GMIClient, parse_retry_after
from .errors import (
    NO_REASON,
    AuthError,
    GMIError,
    InvalidRequest,
    NetworkError,
    NotFound,
    ProviderError,
    RateLimited,
    clean_text,
)
from .models import GMIRequest, ModelDetail, ModelParameter, Phase, PriceInfo

SEEDANCE_FAST_MODEL = "seedance-2-0-fast-260128"
DEFAULT_BASE_URL = "https://console.gmicloud.ai/api/v1/ie/requestqueue/apikey"

__all__ = [
    "DEFAULT_BASE_URL",
    "NO_REASON",
    "SEEDANCE_FAST_MODEL",
    "AuthError",
    "GMIClient",
    "GMIError",
    "GMIRequest",
    "InvalidRequest",
    "ModelDetail",
    "ModelParameter",
    "NetworkError",
    "NotFound",
    "Phase",
    "PriceInfo",
    "ProviderError",
    "RateLimited",
    "clean_text",
    "parse_retry_after",
]
