"""The provider's rules, checked before any API call."""

from __future__ import annotations

import random

import pytest

from bot.params import (
    _ALREADY_NORMAL,
    MB,
    UNKNOWN_FORMAT,
    GenerationRequest,
    MediaInput,
    _normalise_fully,
    local_link_problems,
    normalise_text,
    validate,
)


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
        ({"resolution": "4k"}, "the resolution `4k`; pick one of 480p, 720p, 1080p"),
        ({"ratio": "2:1"}, "the ratio `2:1`; pick one of 16:9"),
        ({"seed": -1}, "`seed` must be between"),
    ],
)
def test_each_rule_names_the_problem_and_the_fix(fields, expected):
    found = problems(**fields)
    assert any(expected in p for p in found), found


def test_plain_urls_are_left_for_the_provider_to_check():
    assert problems(first_frame=MediaInput(url="https://example.com/whatever")) == []


# -- what members type: prompts ----------------------------------------------------------

FAMILY = "👨\u200d👩\u200d👧"
ENGLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("a fox", "a fox"),
        ("  a   fox\t\tin the\u00a0snow  ", "a fox in the snow"),
        ("line one\r\nline two\rthree", "line one\nline two\nthree"),
        ("one\n\n\n\n\ntwo", "one\n\ntwo"),
        ("a\u200bfox\u2060", "afox"),
        ("\u202egnp.exe a fox", "gnp.exe a fox"),  # a right-to-left override
        ("\u2066isolated\u2069 \u200fmark", "isolated mark"),
        ("soft\u00adhyphen\ufeff", "softhyphen"),
        ("cafe\u0301", "café"),  # NFC
        (f"{FAMILY} at the beach 🏳️\u200d🌈", f"{FAMILY} at the beach 🏳️\u200d🌈"),
        (f"{ENGLAND} flag", f"{ENGLAND} flag"),
        ("hidden\U000e0041\U000e0042 tags", "hidden tags"),  # tag characters smuggle text
        ("b\u200dad word", "bad word"),  # a joiner inside a Latin word hides nothing useful
        ("\u0915\u094d\u200d\u0937", "\u0915\u094d\u200d\u0937"),  # Devanagari half-form
        ("fox\u3164\u3164den", "fox den"),  # a Hangul filler is a blank
    ],
)
def test_prompts_are_normalised_as_members_mean_them(typed, kept):
    request = GenerationRequest(prompt=typed)
    assert request.prompt == kept
    assert GenerationRequest(prompt=request.prompt).prompt == kept  # once is enough
    assert GenerationRequest.from_json(request.to_json()).prompt == kept


def test_text_taken_as_already_normal_is_what_the_full_normalisation_gives():
    """The shortcut for plain text (most prompts, every stored one) changes nothing."""
    rng = random.Random(7)
    shortcut = 0
    for _ in range(20_000):
        text = "".join(rng.choice("ab ~\n\n\t\r\x00") for _ in range(rng.randint(0, 12)))
        if _ALREADY_NORMAL.match(text):
            shortcut += 1
            assert _normalise_fully(text) == text, repr(text)
        else:
            assert normalise_text(text) == _normalise_fully(text)
    assert shortcut > 500  # the sample did exercise it


@pytest.mark.parametrize(
    "typed", ["\u200b\u200b\u200b", " \u3164 \u2800 ", "\u202e\u202c", "\ufe0f\u200d", "\n\t \r"]
)
def test_a_prompt_of_only_invisible_characters_is_refused(typed):
    found = problems(prompt=typed)
    assert found == [
        "The prompt is empty: it has no visible text (spaces and invisible characters don't "
        "count). Describe the video you want in words."
    ]


def test_the_length_cap_counts_the_normalised_prompt():
    assert problems(prompt="a" * 500 + "\u200b" * 100 + "   ") == []


# -- what members type: links ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://user:hunter2@example.com/a.png", "has a user name or password in it"),
        ("https://token@example.com/a.png", "has a user name or password in it"),
        ("https://example.com:99999/a.png", "is not a valid link"),
        ("https://[::1/a.png", "is not a valid link"),
        ("https://exa mple.com/a.png", "spaces or invisible characters"),
        ("https://example.com/a\u202e.png", "spaces or invisible characters"),
        ("https:///a.png", "not an http(s) link"),
        ("javascript:alert(1)", "not an http(s) link"),
    ],
)
def test_links_that_cant_work_or_leak_a_password_are_refused(url, expected):
    found = problems(first_frame=MediaInput(url=url))
    assert len(found) == 1 and expected in found[0], found
    assert "hunter2" not in found[0] and "token@" not in found[0]  # not even echoed privately


@pytest.mark.parametrize(
    "host",
    [
        "localhost", "LocalHost.", "api.localhost", "printer.local", "metadata.google.internal",
        "router.lan", "nas.home.arpa", "intranet", "127.0.0.1", "127.1", "2130706433",
        "0x7f.0.0.1", "0177.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
        "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "[::1]", "[fe80::1%25eth0]",
        "[fc00::1]", "[ff02::1]", "[::ffff:127.0.0.1]", "[2002:7f00:1::1]", "[64:ff9b::a00:1]",
        "127。0。0。1", "１２７.0.0.1", "%31%32%37.0.0.1", "256.1.1.1",
    ],
)
def test_links_to_private_or_local_hosts_are_named_and_refused(host):
    url = f"http://{host}:8080/frame.png"
    request = GenerationRequest(prompt="x", first_frame=MediaInput(url=url))
    (problem,) = local_link_problems(request)
    assert problem.startswith(f"`{url}` points at ")
    assert "fetches every link from the public internet" in problem


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a.png", "https://cdn.example/a.png", "http://8.8.8.8/a.png",
        "https://[2606:4700::1111]:443/a.png", "https://bücher.example/bild.png",
        "https://xn--bcher-kva.example/a.png", "https://1.256/a.png",  # 1.0.1.0, public
    ],
)
def test_public_hosts_pass(url):
    request = GenerationRequest(prompt="x", reference_images=(MediaInput(url=url),))
    assert local_link_problems(request) == []


def test_uploads_are_never_judged_by_their_host():
    upload = image(url="http://127.0.0.1:5000/attachments/1/2/a.png")
    assert local_link_problems(GenerationRequest(prompt="x", first_frame=upload)) == []


# -- what members upload -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("media", "expected"),
    [
        (image(name="notes.png", detected=UNKNOWN_FORMAT),
         "`notes.png` is not a real image file: its contents are not JPEG, PNG or WebP data."),
        (image(name="clip.png", detected="MP4"),
         "`clip.png` is not a real image file: its contents are MP4 video, not JPEG, PNG or WebP."),
        (image(name="empty.png", size=0, detected=UNKNOWN_FORMAT),
         "`empty.png` is an empty file (0 bytes): upload the image itself."),
        (image(name="small.png", width=100, height=100, detected="PNG"), "300 to 6000 px"),
        (image(name="flat.png", width=1000, height=0, detected="PNG"), "300 to 6000 px"),
        (image(name="`code`.png", detected=UNKNOWN_FORMAT), "`'code'.png` is not a real image"),
    ],
)
def test_an_upload_is_judged_by_what_its_bytes_are(media, expected):
    found = problems(first_frame=media)
    assert len(found) == 1 and expected in found[0], found


def test_an_upload_whose_bytes_match_another_allowed_format_is_fine():
    assert problems(first_frame=image(name="really.png", detected="JPEG")) == []


def test_an_upload_without_a_declared_type_is_refused_not_waved_through():
    upload = MediaInput(url="https://cdn.example/frame", filename="frame", size=100)
    assert problems(first_frame=upload) == ["`frame` is not a supported image: use JPEG, PNG, WebP."]
