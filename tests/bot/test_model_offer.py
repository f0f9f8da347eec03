"""What the provider's model detail lets members ask for, and the refusals it words."""

from __future__ import annotations

from typing import Any

from bot.gmi import ModelDetail
from bot.model_offer import DOCUMENTED, ModelOffer
from bot.params import GenerationRequest, MediaInput, validate


def detail(*parameters: dict[str, Any], price: dict[str, Any] | None = None) -> ModelDetail:
    data: dict[str, Any] = {"parameters": [{"name": "prompt"}, *parameters]}
    if price is not None:
        data["price_info"] = price
    return ModelDetail.from_json(data, model_id="m")


def problems(request: GenerationRequest, offer: ModelOffer) -> list[str]:
    return validate(request, prompt_max_chars=2000, offer=offer)


IMAGE = MediaInput(url="https://example.com/a.png")
EVERY_INPUT = [
    {"name": name}
    for name in (
        "first_frame", "last_frame", "reference_images", "reference_videos",
        "reference_audios", "reference_asset_ids",
    )
]  # fmt: skip


def test_resolutions_the_provider_does_not_list_are_refused_naming_the_ones_it_does():
    offer = ModelOffer.from_detail(
        detail({"name": "resolution", "options": ["480p", "720p"]}, *EVERY_INPUT)
    )
    assert offer.resolutions == ("480p", "720p")
    (problem,) = problems(GenerationRequest(prompt="x", resolution="1080p"), offer)
    assert problem == "This model doesn't offer the resolution `1080p`; pick one of 480p, 720p."
    assert problems(GenerationRequest(prompt="x", resolution="720p"), offer) == []


def test_bounds_and_list_sizes_narrow_but_never_widen_the_documented_rules():
    offer = ModelOffer.from_detail(
        detail(
            {"name": "duration", "minimum": 2, "maximum": 10},
            {"name": "ratio", "enum": [{"value": "16:9"}, {"value": "9:16"}, {"value": "5:4"}]},
            {"name": "reference_images", "max_items": 4},
            {"name": "reference_videos", "max_items": 30},
        )
    )
    assert offer.durations == (4, 10)  # 2 s is below what the model is documented to make
    assert offer.ratios == ("16:9", "9:16")  # 5:4 can't be asked for: no choice offers it
    assert offer.list_sizes["reference_images"] == 4
    assert offer.list_sizes["reference_videos"] == 3
    (too_long,) = problems(GenerationRequest(prompt="x", duration=12), offer)
    assert too_long == (
        "This model makes videos of 4 to 10 seconds; you asked for 12. "
        "Pick a `duration` in that range."
    )
    five = GenerationRequest(prompt="x", reference_images=(IMAGE,) * 5)
    assert "At most 4 reference images are allowed; you gave 5." in problems(five, offer)[0]


def test_an_input_the_provider_does_not_list_is_refused_saying_what_it_takes():
    offer = ModelOffer.from_detail(detail({"name": "reference_images"}))
    (problem,) = problems(GenerationRequest(prompt="x", first_frame=IMAGE), offer)
    assert problem == "This model doesn't take a first frame; it takes reference images besides the prompt."
    text_only = ModelOffer.from_detail(detail())
    (problem,) = problems(GenerationRequest(prompt="x", reference_images=(IMAGE,)), text_only)
    assert problem.endswith("describe the video in the prompt alone.")


def test_a_detail_without_parameters_or_with_unreadable_values_keeps_the_documented_rules():
    assert ModelOffer.from_detail(detail()).resolutions == DOCUMENTED.resolutions
    bare = ModelOffer.from_detail(ModelDetail.from_json({}, model_id="m"))
    assert (bare.inputs, bare.durations) == (DOCUMENTED.inputs, DOCUMENTED.durations)
    odd = ModelOffer.from_detail(
        detail({"name": "resolution", "options": ["HD", "4K"]}, {"name": "duration", "maximum": "ten"})
    )
    assert (odd.resolutions, odd.durations) == (DOCUMENTED.resolutions, DOCUMENTED.durations)
    assert odd.from_provider and not DOCUMENTED.from_provider


def test_the_price_reads_with_its_unit_and_currency():
    listed = detail(price={"price": 0.16, "pricing_type": "per_second", "unit": "second"})
    assert str(ModelOffer.from_detail(listed).price) == "0.16 USD per second"
    euros = detail(price={"price": 1.5, "unit": "video", "currency": "EUR"})
    assert str(ModelOffer.from_detail(euros).price) == "1.5 EUR per video"
    assert ModelOffer.from_detail(detail()).price is None
