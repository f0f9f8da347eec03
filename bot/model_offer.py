"""What the model offers: the documented Seedance 2.0 Fast rules, narrowed by what the
provider lists in its model detail.

The provider's ``GET /models/{id}`` lists each parameter, often with its allowed values
(``options``), bounds (``minimum``/``maximum``), list size (``max_items``) and default.
`ModelOffer.from_detail` reads them into the few facts the bot needs, so a value the
provider does not list for this model (1080p on a model that makes only 480p and 720p) is
refused before anything is spent, with the values it does list named (`bot.params.validate`).
Where the provider says nothing (it never answered, or lists no values) the documented
rules alone apply: `DOCUMENTED`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from bot.gmi import ModelDetail, ModelParameter

DURATION_RANGE = (4, 15)
DEFAULT_DURATION = 5
RESOLUTIONS = ("480p", "720p", "1080p")
DEFAULT_RESOLUTION = "720p"
RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "adaptive")
DEFAULT_RATIO = "16:9"
SEED_RANGE = (0, 4_294_967_295)
MAX_REFERENCE_IMAGES = 9
MAX_REFERENCE_VIDEOS = 3
MAX_REFERENCE_AUDIOS = 3
MAX_REFERENCE_FILES = 12

# The inputs a request can carry, by payload name, as a member reads them.
INPUTS = {
    "first_frame": "a first frame",
    "last_frame": "a last frame",
    "reference_images": "reference images",
    "reference_videos": "reference videos",
    "reference_audios": "reference audio",
    "reference_asset_ids": "reference asset ids",
}
_LIST_SIZES = {
    "reference_images": MAX_REFERENCE_IMAGES,
    "reference_videos": MAX_REFERENCE_VIDEOS,
    "reference_audios": MAX_REFERENCE_AUDIOS,
}
# GMI bills in US dollars; a model detail that names another currency wins.
PROVIDER_CURRENCY = "USD"


@dataclass(frozen=True)
class ProviderPrice:
    """The price the provider lists: ``amount`` per ``unit`` (``0.16 USD per second``)."""

    amount: float
    unit: str | None
    currency: str

    def __str__(self) -> str:
        per = f" per {self.unit}" if self.unit else ""
        return f"{self.amount:g} {self.currency}{per}"


@dataclass(frozen=True)
class ModelOffer:
    """Durations, resolutions, ratios, inputs and list sizes a request may use."""

    durations: tuple[int, int] = DURATION_RANGE
    resolutions: tuple[str, ...] = RESOLUTIONS
    ratios: tuple[str, ...] = RATIOS
    inputs: tuple[str, ...] = tuple(INPUTS)  # payload names, in `INPUTS` order
    list_sizes: Mapping[str, int] = field(default_factory=lambda: MappingProxyType(_LIST_SIZES))
    price: ProviderPrice | None = None
    from_provider: bool = False  # False: the documented rules, the provider said nothing

    @classmethod
    def from_detail(cls, detail: ModelDetail) -> ModelOffer:
        """The documented rules, narrowed to what ``detail`` lists.

        Only what narrows counts: a value the bot can't send (no slash-command choice
        offers it) is ignored, and a list with nothing the bot knows is taken as a model
        detail the bot can't read, so the documented list stays (the doctor warns).
        """
        listed = {p.name: p for p in detail.parameters}
        offer = DOCUMENTED
        if listed:
            # An input the provider doesn't list at all is one this model does not take.
            offer = replace(offer, inputs=tuple(name for name in INPUTS if name in listed))
        if "duration" in listed:
            offer = replace(offer, durations=_narrowed_range(listed["duration"], DURATION_RANGE))
        offer = replace(
            offer,
            resolutions=_narrowed_choices(listed.get("resolution"), RESOLUTIONS),
            ratios=_narrowed_choices(listed.get("ratio"), RATIOS),
        )
        sizes = dict(_LIST_SIZES)
        for name, most in _LIST_SIZES.items():
            theirs = _number(listed[name].raw.get("max_items")) if name in listed else None
            if theirs is not None and 1 <= theirs < most:
                sizes[name] = int(theirs)
        return replace(
            offer,
            list_sizes=MappingProxyType(sizes),
            price=_price(detail),
            from_provider=True,
        )

    def input_names(self) -> list[str]:
        """The inputs as a member reads them: ``a first frame, reference images, ...``."""
        return [INPUTS[name] for name in self.inputs]


DOCUMENTED = ModelOffer()


def choices(parameter: ModelParameter) -> list[str]:
    """The values a parameter lists, under whichever key the provider uses."""
    for key in ("options", "enum", "values", "choices"):
        value = parameter.raw.get(key)
        if isinstance(value, list):
            return [str(v.get("value", v)) if isinstance(v, dict) else str(v) for v in value]
    return []


def bounds(parameter: ModelParameter) -> tuple[float | None, float | None]:
    """``(minimum, maximum)`` as listed; either may be missing."""
    raw = parameter.raw
    return _number(raw.get("minimum", raw.get("min"))), _number(raw.get("maximum", raw.get("max")))


def _narrowed_range(parameter: ModelParameter, ours: tuple[int, int]) -> tuple[int, int]:
    low, high = bounds(parameter)
    narrowed = (max(ours[0], int(low) if low is not None else ours[0]),
                min(ours[1], int(high) if high is not None else ours[1]))  # fmt: skip
    return narrowed if narrowed[0] <= narrowed[1] else ours


def _narrowed_choices(parameter: ModelParameter | None, ours: tuple[str, ...]) -> tuple[str, ...]:
    theirs = choices(parameter) if parameter is not None else []
    return tuple(value for value in ours if value in theirs) or ours


def _price(detail: ModelDetail) -> ProviderPrice | None:
    info = detail.price_info
    if info is None or info.price is None:
        return None
    currency = info.raw.get("currency")
    return ProviderPrice(
        amount=info.price,
        unit=info.unit,
        currency=currency if isinstance(currency, str) and currency else PROVIDER_CURRENCY,
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
