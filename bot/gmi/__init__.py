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

__all__ = [
    "NO_REASON",
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
