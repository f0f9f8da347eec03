"""The provider's rules, checked before any API call."""

from __future__ import annotations

import pytest

from bot.params import MB, GenerationRequest, MediaInput, validate


def image(name="a.png", **overrides) -> MediaInput:
    values = dict(
        url=f"https://cdn.example/{name}", filename=name, content_type="image/png",
        size=200_000, width=1024, height=768,
    )
    values.update(overrides)
    return MediaInput(**values)


def video(name="v.mp4", size=5 * MB) -> MediaInput:
    return MediaInput(url=f"https://cdn.example/{name}", filename=name, content_type="video/mp4", size=size)


def audio(name="a.mp3", size=MB) -> MediaInput:
    return MediaInput(url=f"https://cdn.example/{name}", filename=name, content_type="audio/mpeg", size=size)


def problems(**fields) -> list[str]:
    return validate(GenerationRequest(**{"prompt": "a cat", **fields}), prompt_max_chars=500)


def test_a_plain_prompt_is_fine_and_the_payload_uses_the_api_names():
    request = GenerationRequest(prompt="a cat", seed=7, first_frame=image(), last_frame=image("b.png"))
    assert validate(request, prompt_max_chars=500) == []
    assert request.to_payload() == {
        "prompt": "a cat", "duration": 5, "resolution": "720p", "ratio": "16:9", "seed": 7,
        "watermark": False, "generate_audio": True, "web_search": False,
        "first_frame": "https://cdn.example/a.png", "last_frame": "https://cdn.example/b.png",
    }


def test_reference_payload_lists_every_kind():
    request = GenerationRequest(
        prompt="x", reference_images=(image(), image("b.png")), reference_videos=(video(),),
        reference_audios=(audio(),), reference_asset_ids=("asset-1",),
    )
    payload = request.to_payload()
    assert payload["reference_images"] == ["https://cdn.example/a.png", "https://cdn.example/b.png"]
    assert payload["reference_videos"] == ["https://cdn.example/v.mp4"]
    assert payload["reference_audios"] == ["https://cdn.example/a.mp3"]
    assert payload["reference_asset_ids"] == ["asset-1"]
    assert validate(request, prompt_max_chars=500) == []


def test_request_survives_a_round_trip_through_json():
    request = GenerationRequest(prompt="x", seed=3, reference_images=(image(),), reference_asset_ids=("a",))
    assert GenerationRequest.from_json(request.to_json()) == request


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"prompt": "   "}, "prompt is empty"),
        ({"prompt": "x" * 501}, "limit here is 500"),
        ({"first_frame": image(), "reference_images": (image(),)}, "can't be combined"),
        ({"last_frame": image()}, "needs a `first_frame`"),
        ({"reference_audios": (audio(),)}, "needs at least one reference image or video"),
        ({"reference_images": tuple(image(f"{i}.png") for i in range(10))}, "At most 9 reference images"),
        ({"reference_videos": tuple(video(f"{i}.mp4", MB) for i in range(4))}, "At most 3 reference videos"),
        (
            {"reference_images": tuple(image(f"{i}.png") for i in range(9)),
             "reference_videos": (video(),), "reference_asset_ids": ("a", "b", "c")},
            "At most 12 references",
        ),
        ({"first_frame": image(url="ftp://x/a.png")}, "not an http(s) link"),
        ({"first_frame": image(content_type="image/gif")}, "not a supported image"),
        ({"first_frame": image(size=31 * MB)}, "under 30 MB"),
        ({"first_frame": image(width=200, height=200)}, "300 to 6000 px"),
        ({"first_frame": image(width=3000, height=1000)}, "aspect ratio of 3.00"),
        ({"reference_videos": (video("a.mp4", 30 * MB), video("b.mp4", 30 * MB))}, "50 MB together"),
        ({"reference_images": (image(),), "reference_audios": (audio(size=16 * MB),)}, "at most 15 MB"),
        ({"duration": 3}, "4 to 15 seconds"),
        ({"resolution": "4k"}, "`resolution` must be one of"),
        ({"ratio": "2:1"}, "`ratio` must be one of"),
        ({"seed": -1}, "`seed` must be between"),
    ],
)
def test_each_rule_names_the_problem_and_the_fix(fields, expected):
    found = problems(**fields)
    assert any(expected in p for p in found), found


def test_plain_urls_are_left_for_the_provider_to_check():
    assert problems(first_frame=MediaInput(url="https://example.com/whatever")) == []
