"""The GMI simulator on its own: validation, status paths, media, faults, log, lifecycle."""

from __future__ import annotations

import asyncio
import sys
import time

import aiohttp
import pytest

from bot.clock import ManualClock
from bot.media.containers import iter_boxes
from bot.simulator import (
    API_PREFIX,
    CONTENT_POLICY_MESSAGE,
    GMISimulator,
    Timings,
    VideoSpec,
    mp4_duration,
)
from bot.simulator.media import REALISTIC_BITS_PER_PIXEL, RenderSpec, pad_mp4
from tests.support.gmi import GMI_TEST_KEY, SEEDANCE_MODEL
from tests.support.media import decode

IMG = "https://cdn.example.com/a.png"
VID = "https://cdn.example.com/a.mp4"
AUD = "https://cdn.example.com/a.mp3"


class Api:
    """Raw HTTP against the simulator, so tests see exactly what it answers."""

    def __init__(self, sim: GMISimulator, session: aiohttp.ClientSession, key: str | None):
        self.sim, self.session, self.key = sim, session, key

    async def call(self, method: str, path: str, body=None, key: str | None = ...):
        key = self.key if key is ... else key
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        async with self.session.request(
            method, self.sim.base_url + path, json=body, headers=headers
        ) as response:
            return response.status, await response.json(content_type=None)

    async def submit(self, payload, model: str = SEEDANCE_MODEL, **kw):
        return await self.call("POST", "/requests", {"model": model, "payload": payload}, **kw)

    async def get(self, request_id: str):
        return await self.call("GET", f"/requests/{request_id}")

    async def fetch(self, url: str):
        async with self.session.get(url) as response:
            return response.status, await response.read(), response.headers


@pytest.fixture
def api(gmi_sim, gmi_session) -> Api:
    return Api(gmi_sim, gmi_session, GMI_TEST_KEY)


async def submit_ok(api: Api, payload=None) -> str:
    status, body = await api.submit(payload or {"prompt": "a lighthouse at dusk"})
    assert status == 200, body
    return body["request_id"]


# ---- validation --------------------------------------------------------------------------

INVALID = [
    ({}, "prompt"),
    ({"prompt": ""}, "prompt"),
    ({"prompt": 5}, "prompt"),
    ({"prompt": "x", "duration": 3}, "duration"),
    ({"prompt": "x", "duration": 16}, "duration"),
    ({"prompt": "x", "duration": 5.5}, "duration"),
    ({"prompt": "x", "duration": "5"}, "duration"),
    ({"prompt": "x", "duration": True}, "duration"),
    ({"prompt": "x", "resolution": "4k"}, "resolution"),
    ({"prompt": "x", "resolution": "720P"}, "resolution"),
    ({"prompt": "x", "ratio": "2:1"}, "ratio"),
    ({"prompt": "x", "seed": -1}, "seed"),
    ({"prompt": "x", "seed": 4294967296}, "seed"),
    ({"prompt": "x", "seed": "7"}, "seed"),
    ({"prompt": "x", "watermark": "yes"}, "watermark"),
    ({"prompt": "x", "generate_audio": 1}, "generate_audio"),
    ({"prompt": "x", "web_search": None}, "web_search"),
    ({"prompt": "x", "first_frame": IMG, "reference_images": [IMG]}, "first_frame"),
    ({"prompt": "x", "last_frame": IMG, "reference_videos": [VID]}, "reference_videos"),
    ({"prompt": "x", "last_frame": IMG}, "last_frame requires first_frame"),
    ({"prompt": "x", "reference_images": [IMG] * 10}, "reference_images"),
    ({"prompt": "x", "reference_videos": [VID] * 4}, "reference_videos"),
    ({"prompt": "x", "reference_images": [IMG], "reference_audios": [AUD] * 4}, "reference_audios"),
    ({"prompt": "x", "reference_audios": [AUD]}, "reference_audios requires"),
    ({"prompt": "x", "reference_images": [IMG] * 9, "reference_videos": [VID] * 3,
      "reference_audios": [AUD]}, "at most 12"),
    ({"prompt": "x", "reference_images": [IMG] * 8, "reference_asset_ids": ["a"] * 5}, "at most 12"),
    ({"prompt": "x", "first_frame": "ftp://x/a.png"}, "first_frame"),
    ({"prompt": "x", "first_frame": "not a url"}, "first_frame"),
    ({"prompt": "x", "reference_images": ["file:///etc/passwd"]}, "reference_images"),
    ({"prompt": "x", "reference_images": IMG}, "reference_images must be a list"),
    ({"prompt": "x", "reference_asset_ids": [3]}, "reference_asset_ids"),
    ({"prompt": "x", "mood": "happy", "style": 1}, "mood, style"),
    ({"prompt": "x", "Duration": 5}, "Duration"),
]  # fmt: skip


@pytest.mark.parametrize(("payload", "named"), INVALID)
async def test_each_rule_is_a_400_naming_the_key(api, gmi_sim, payload, named):
    status, body = await api.submit(payload)
    assert status == 400
    assert set(body) == {"error"}
    assert named in body["error"]
    assert gmi_sim.requests == {}


VALID = [
    {"prompt": "x"},
    {"prompt": "x", "duration": 4, "resolution": "480p", "ratio": "adaptive", "seed": 0,
     "watermark": True, "generate_audio": False, "web_search": False},
    {"prompt": "x", "duration": 15, "resolution": "1080p", "ratio": "21:9", "seed": 4294967295},
    {"prompt": "x", "first_frame": IMG},
    {"prompt": "x", "first_frame": IMG, "last_frame": "http://cdn.example.com/b.jpg"},
    {"prompt": "x", "reference_images": [IMG] * 9, "reference_videos": [VID] * 3},
    {"prompt": "x", "reference_videos": [VID], "reference_audios": [AUD] * 3},
    {"prompt": "x", "first_frame": IMG, "reference_images": []},
    {"prompt": "x", "reference_asset_ids": ["asset-1"]},
]  # fmt: skip


@pytest.mark.parametrize("payload", VALID)
async def test_valid_payloads_are_accepted(api, gmi_sim, payload):
    request_id = await submit_ok(api, payload)
    assert gmi_sim.requests[request_id].payload == payload


async def test_body_must_name_model_and_payload(api):
    assert (await api.call("POST", "/requests", {"payload": {"prompt": "x"}}))[0] == 400
    status, body = await api.call("POST", "/requests", {"model": SEEDANCE_MODEL})
    assert (status, body) == (400, {"error": "payload is required"})
    assert (await api.call("POST", "/requests", ["not", "an", "object"]))[0] == 400


async def test_1080p_refusal_is_switchable(api, gmi_sim):
    await submit_ok(api, {"prompt": "x", "resolution": "1080p"})
    gmi_sim.reject_1080p = True
    status, body = await api.submit({"prompt": "x", "resolution": "1080p"})
    assert status == 400 and "1080p" in body["error"]
    await submit_ok(api, {"prompt": "x", "resolution": "720p"})


async def test_prompt_length_cap_is_a_setting(api, gmi_sim):
    gmi_sim.max_prompt_chars = 20
    await submit_ok(api, {"prompt": "x" * 20})
    status, body = await api.submit({"prompt": "x" * 21})
    assert status == 400 and "prompt is too long" in body["error"]


async def test_content_policy_refusal(api, gmi_sim):
    status, body = await api.submit({"prompt": "A Policy-Violation at noon"})
    assert (status, body) == (400, {"error": CONTENT_POLICY_MESSAGE})
    assert "content policy" in body["error"]
    gmi_sim.banned_words = ["dragon"]
    assert (await api.submit({"prompt": "a dragon"}))[0] == 400
    await submit_ok(api, {"prompt": "dragonfly"})  # whole words only


@pytest.mark.parametrize("model", ["seedance-2-0-fast", SEEDANCE_MODEL.upper(), "other"])
async def test_unknown_or_wrongly_cased_model_is_404(api, model):
    status, body = await api.submit({"prompt": "x"}, model=model)
    assert status == 404 and "model" in body["error"]
    status, _ = await api.call("GET", f"/models/{model}")
    assert status == 404


@pytest.mark.parametrize("key", ["wrong", "", None])
async def test_bad_or_missing_key_is_401(api, gmi_sim, key):
    status, body = await api.submit({"prompt": "x"}, key=key)
    assert status == 401 and "error" in body
    assert (await api.call("GET", "/models", key=key))[0] == 401
    assert gmi_sim.requests == {}


async def test_any_key_is_accepted_when_none_is_configured(api, gmi_sim):
    gmi_sim.api_key = None
    await submit_ok(api)
    api.key = "anything-at-all"
    await submit_ok(api)
    assert (await api.submit({"prompt": "x"}, key=None))[0] == 401


# ---- status paths ------------------------------------------------------------------------


async def test_status_path_follows_the_timings(api, gmi_sim, gmi_clock):
    gmi_sim.timings = Timings(created=1, queued=2, dispatched=3, processing=4)
    gmi_sim.script_next(submit_status="created")
    request_id = await submit_ok(api)
    seen = []
    for step in [0, 0.99, 0.01, 1.99, 0.01, 2.99, 0.01, 3.99, 0.01, 100]:
        gmi_clock.advance(step)
        status, body = await api.get(request_id)
        seen.append(body["status"])
        assert (body["outcome"] is None) == (body["status"] != "success")
    assert seen == [
        "created", "created", "queued", "queued", "dispatched", "dispatched",
        "processing", "processing", "success", "success",
    ]  # fmt: skip


async def test_envelopes_have_the_documented_fields(api, gmi_sim, gmi_clock):
    gmi_sim.timings = Timings(queued=10)
    before = int(time.time())
    status, submitted = await api.submit({"prompt": "x", "duration": 5})
    assert status == 200
    assert set(submitted) == {
        "request_id", "model", "status", "created_at", "updated_at", "queued_at"
    }  # fmt: skip
    assert submitted["status"] == "queued" and submitted["created_at"] >= before
    _, polled = await api.get(submitted["request_id"])
    assert set(polled) >= {
        "request_id", "org_id", "model", "status", "is_public", "payload", "outcome",
        "created_at", "updated_at", "queued_at",
    }  # fmt: skip
    assert polled["payload"] == {"prompt": "x", "duration": 5} and polled["outcome"] is None
    gmi_clock.advance(10)
    _, done = await api.get(submitted["request_id"])
    assert done["status"] == "success"
    assert done["updated_at"] - done["created_at"] in (9, 10, 11)


async def test_submit_answers_dispatched_when_scripted(api, gmi_sim, gmi_clock):
    gmi_sim.timings = Timings(queued=5, dispatched=5)
    gmi_sim.script_next(submit_status="dispatched")
    status, body = await api.submit({"prompt": "x"})
    assert body["status"] == "dispatched"
    gmi_clock.advance(5)
    assert (await api.get(body["request_id"]))[1]["status"] == "success"


async def test_terminal_status_straight_from_submit(api, gmi_sim):
    gmi_sim.timings = Timings(processing=100)
    gmi_sim.script_next(terminal_on_submit=True)
    status, body = await api.submit({"prompt": "x"})
    assert body["status"] == "success"
    assert body["outcome"]["media_urls"][0]["url"]
    gmi_sim.script_next(terminal_on_submit=True, fail_reason="no capacity")
    status, body = await api.submit({"prompt": "x"})
    assert (body["status"], body["error"]) == ("failed", "no capacity")


async def test_hold_keeps_a_request_queued_until_released(api, gmi_sim, gmi_clock):
    gmi_sim.script_next(hold=True, timings=Timings(queued=1, dispatched=2, processing=3))
    request_id = await submit_ok(api)
    gmi_clock.advance(10_000)
    assert (await api.get(request_id))[1]["status"] == "queued"
    gmi_sim.release(request_id)
    assert (await api.get(request_id))[1]["status"] == "dispatched"
    gmi_clock.advance(2)
    assert (await api.get(request_id))[1]["status"] == "processing"
    gmi_clock.advance(3)
    assert (await api.get(request_id))[1]["status"] == "success"


async def test_script_next_applies_to_the_next_n_submits(api, gmi_sim):
    gmi_sim.script_next(times=2, fail_reason="boom")
    ids = [await submit_ok(api) for _ in range(3)]
    assert [gmi_sim.requests[i].status for i in ids] == ["failed", "failed", "success"]


def test_script_next_rejects_unknown_behaviour(gmi_sim):
    with pytest.raises(TypeError):
        gmi_sim.script_next(explode=True)
    with pytest.raises(ValueError):
        gmi_sim.script_next(outcome_shape="weird")


@pytest.mark.parametrize(
    ("place", "check"),
    [
        ("error", lambda b: b["error"] == "bad input" and b["outcome"] is None),
        ("message", lambda b: b["message"] == "bad input"),
        ("detail", lambda b: b["detail"] == "bad input"),
        ("outcome", lambda b: b["outcome"] == "bad input" and "error" not in b),
        ("outcome_dict", lambda b: b["outcome"] == {"error": "bad input"}),
        ("none", lambda b: b["outcome"] is None and "error" not in b),
    ],
)
async def test_failure_reason_place_is_switchable(api, gmi_sim, place, check):
    gmi_sim.script_next(fail_reason="bad input", reason_in=place)
    request_id = await submit_ok(api)
    _, body = await api.get(request_id)
    assert body["status"] == "failed"
    assert check(body)


async def test_cancel_from_outside(api, gmi_sim, gmi_clock):
    gmi_sim.timings = Timings(processing=10)
    request_id = await submit_ok(api)
    assert gmi_sim.cancel(request_id) is True
    gmi_clock.advance(60)
    _, body = await api.get(request_id)
    assert body["status"] == "cancelled" and body["outcome"] is None
    done_id = await submit_ok(api)
    gmi_clock.advance(10)
    assert gmi_sim.cancel(done_id) is False
    assert gmi_sim.requests[done_id].status == "success"


async def test_unknown_request_is_404(api):
    status, body = await api.get("00000000-0000-0000-0000-000000000000")
    assert status == 404 and "error" in body


async def test_queue_limit_is_a_429(api, gmi_sim):
    gmi_sim.max_queued = 2
    gmi_sim.script_next(times=3, hold=True)
    await submit_ok(api)
    await submit_ok(api)
    status, body = await api.submit({"prompt": "x"})
    assert status == 429 and "queued" in body["error"]


# ---- list and models ------------------------------------------------------------------------


async def test_list_endpoint(api, gmi_sim, gmi_clock):
    first = await submit_ok(api, {"prompt": "one"})
    gmi_clock.advance(1)
    second = await submit_ok(api, {"prompt": "two"})
    status, body = await api.call("GET", f"/requests?model_id={SEEDANCE_MODEL}")
    assert status == 200 and body["total"] == 2
    assert [r["request_id"] for r in body["requests"]] == [second, first]
    assert [r["payload"]["prompt"] for r in body["requests"]] == ["two", "one"]
    status, body = await api.call("GET", "/requests?model_id=other-model")
    assert body == {"requests": [], "total": 0}


async def test_model_endpoints(api, gmi_sim):
    gmi_sim.extra_models = ["seedance-1-0-pro"]
    status, body = await api.call("GET", "/models")
    assert (status, body) == (200, {"model_ids": [SEEDANCE_MODEL, "seedance-1-0-pro"]})
    status, detail = await api.call("GET", f"/models/{SEEDANCE_MODEL}")
    assert status == 200
    assert {"model", "org_id", "brief_description", "detailed_description", "parameters",
            "price_info"} <= set(detail)  # fmt: skip
    params = {p["name"]: p for p in detail["parameters"]}
    assert params["prompt"]["required"] is True
    assert params["resolution"]["options"] == ["480p", "720p", "1080p"]
    assert {"name", "display_name", "description", "type", "required"} <= set(params["seed"])
    assert set(detail["price_info"]) == {"price", "pricing_type", "unit"}


# ---- media ---------------------------------------------------------------------------------


async def video_of(api: Api, gmi_sim, payload=None, **script) -> tuple[str, bytes]:
    if script:
        gmi_sim.script_next(**script)
    request_id = await submit_ok(api, payload)
    _, body = await api.get(request_id)
    status, data, headers = await api.fetch(body["outcome"]["media_urls"][0]["url"])
    assert status == 200 and headers["Content-Type"] == "video/mp4"
    return request_id, data


async def test_result_is_a_real_playable_mp4(api, gmi_sim, ffmpeg):
    _, data = await video_of(api, gmi_sim)
    boxes = [kind for kind, *_ in iter_boxes(data)]
    assert data[4:8] == b"ftyp" and boxes[0] == "ftyp"
    assert boxes.index("moov") < boxes.index("mdat")  # faststart
    assert mp4_duration(data) == pytest.approx(1.0, abs=0.1)
    assert (await decode(ffmpeg, data)).errors == []


async def test_audio_track_follows_generate_audio(api, gmi_sim):
    def tracks(data: bytes) -> int:
        for kind, offset, size, header in iter_boxes(data):
            if kind == "moov":
                inner = iter_boxes(data, offset + header, offset + size)
                return sum(1 for k, *_ in inner if k == "trak")
        return 0

    _, with_audio = await video_of(api, gmi_sim)
    _, silent = await video_of(api, gmi_sim, {"prompt": "x", "generate_audio": False})
    assert (tracks(with_audio), tracks(silent)) == (2, 1)


async def test_padded_video_has_the_exact_size_and_still_plays(api, gmi_sim, ffmpeg):
    _, plain = await video_of(api, gmi_sim)
    _, padded = await video_of(api, gmi_sim, video_bytes=3_000_000)
    assert len(padded) == 3_000_000
    assert padded.startswith(plain)
    assert [k for k, *_ in iter_boxes(padded)][-1] == "free"
    assert mp4_duration(padded) == mp4_duration(plain)
    assert (await decode(ffmpeg, padded)).errors == []


async def test_realistic_footage_comes_at_a_provider_like_bitrate(ffmpeg, renderer):
    realistic = await renderer.video(RenderSpec(640, 360, 24, 3.0, False, footage="realistic"))
    nominal = 640 * 360 * 24 * REALISTIC_BITS_PER_PIXEL * 3.0 / 8
    assert nominal <= len(realistic) <= 1.25 * nominal  # the rate control's first second runs over
    assert (await decode(ffmpeg, realistic)).errors == []
    assert VideoSpec().footage == "pattern"  # the default stays the quick test pattern


def test_pad_mp4_small_and_impossible_targets():
    data = b"\x00\x00\x00\x08ftyp"
    assert len(pad_mp4(data, 16)) == 16
    assert pad_mp4(data, 10) == data  # no room for a box header
    assert pad_mp4(data, None) == data


async def test_dry_run_spec_follows_ratio_and_duration(gmi_session, tmp_path):
    clock = ManualClock()
    spec = VideoSpec(width=None, height=None, duration=None, short_side=90, max_duration=4, fps=6)
    async with GMISimulator(api_key=None, video=spec, clock=clock) as sim:
        api = Api(sim, gmi_session, "any")
        _, data = await video_of(api, sim, {"prompt": "x", "ratio": "9:16", "duration": 6})
    assert mp4_duration(data) == pytest.approx(4.0, abs=0.1)
    assert spec.resolve({"ratio": "9:16"}).width == 90
    assert spec.resolve({"ratio": "9:16"}).height == 160


async def test_each_spec_is_rendered_once(api, gmi_sim):
    await asyncio.gather(*(video_of(api, gmi_sim) for _ in range(4)))
    assert len(gmi_sim._renderer._cache) == 1


async def test_flat_shape_has_a_jpeg_thumbnail(api, gmi_sim):
    gmi_sim.script_next(outcome_shape="flat")
    request_id = await submit_ok(api)
    _, body = await api.get(request_id)
    status, data, headers = await api.fetch(body["outcome"]["thumbnail_image_url"])
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    assert data[:2] == b"\xff\xd8"
    status, video, _ = await api.fetch(body["outcome"]["video_url"])
    assert status == 200 and video[4:8] == b"ftyp"


async def test_result_urls_expire(api, gmi_sim, gmi_clock):
    gmi_sim.url_ttl = 60
    request_id = await submit_ok(api)
    url = (await api.get(request_id))[1]["outcome"]["media_urls"][0]["url"]
    gmi_clock.advance(60)
    assert (await api.fetch(url))[0] == 200
    gmi_clock.advance(0.01)
    status, body, _ = await api.fetch(url)
    assert status == 403 and b"ExpiredToken" in body


async def test_media_needs_the_token_and_a_finished_request(api, gmi_sim, gmi_clock):
    gmi_sim.timings = Timings(processing=5)
    request_id = await submit_ok(api)
    token = gmi_sim.requests[request_id].token
    media = f"{gmi_sim.base_origin}/media/{request_id}.mp4"
    assert (await api.fetch(f"{media}?token={token}"))[0] == 404  # not done yet
    gmi_clock.advance(5)
    assert (await api.fetch(f"{media}?token={token}"))[0] == 200
    assert (await api.fetch(f"{media}?token=forged"))[0] == 403
    assert (await api.fetch(media))[0] == 403
    assert (await api.fetch(f"{gmi_sim.base_origin}/media/nope.mp4?token={token}"))[0] == 404


async def test_head_on_media_gives_the_size_without_the_body(api, gmi_sim, gmi_session):
    gmi_sim.script_next(video_bytes=123_456)
    request_id = await submit_ok(api)
    url = (await api.get(request_id))[1]["outcome"]["media_urls"][0]["url"]
    async with gmi_session.head(url) as response:
        assert response.status == 200
        assert response.content_length == 123_456
        assert await response.read() == b""


# ---- faults --------------------------------------------------------------------------------


async def test_429_fault_with_and_without_retry_after(api, gmi_sim, gmi_session):
    gmi_sim.fault("get", 429, retry_after=2)
    gmi_sim.fault("get", 429)
    async with gmi_session.get(f"{gmi_sim.base_url}/requests/x") as response:
        assert response.status == 429 and response.headers["Retry-After"] == "2"
        assert await response.json() == {"error": "Too Many Requests"}
    async with gmi_session.get(f"{gmi_sim.base_url}/requests/x") as response:
        assert response.status == 429 and "Retry-After" not in response.headers
    assert (await api.get("x"))[0] == 404  # faults used up; the key check comes next


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_fault_on_any_call(api, gmi_sim, status):
    gmi_sim.fault("*", status, times=3)
    assert (await api.call("GET", "/models"))[0] == status
    assert (await api.submit({"prompt": "x"}))[0] == status
    assert (await api.get("x"))[0] == status
    assert (await api.call("GET", "/models"))[0] == 200


async def test_500_wrapping_a_backend_400(api, gmi_sim):
    gmi_sim.fault("submit", 500, body={"error": "Backend error (400). Please try again."})
    status, body = await api.submit({"prompt": "x"})
    assert (status, body) == (500, {"error": "Backend error (400). Please try again."})
    assert gmi_sim.requests == {}


async def test_after_create_fault_creates_the_request_first(api, gmi_sim):
    gmi_sim.fault("submit", 503, after_create=True)
    status, _ = await api.submit({"prompt": "kept"})
    assert status == 503
    (created,) = gmi_sim.requests.values()
    assert created.payload == {"prompt": "kept"}
    assert gmi_sim.calls("submit")[0].request_id == created.request_id


async def test_malformed_json_fault(gmi_sim, gmi_session):
    gmi_sim.fault("models", malformed_json=True)
    async with gmi_session.get(f"{gmi_sim.base_url}/models") as response:
        assert response.status == 200
        with pytest.raises(ValueError):
            await response.json()


async def test_dropped_connection_fault(api, gmi_sim):
    # Two: aiohttp itself retries an idempotent request once when a reused connection drops.
    gmi_sim.fault("list", drop_connection=True, times=2)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.call("GET", "/requests")
    assert {c.fault for c in gmi_sim.calls("list")} == {"drop"}
    assert (await api.call("GET", "/requests"))[0] == 200


async def test_slow_answer_fault(api, gmi_sim, gmi_session):
    gmi_sim.fault("models", delay=5.0)
    with pytest.raises(TimeoutError):
        async with gmi_session.get(
            f"{gmi_sim.base_url}/models", timeout=aiohttp.ClientTimeout(total=0.1)
        ):
            pass
    gmi_sim.fault("models", delay=0.05)
    assert (await api.call("GET", "/models"))[0] == 200


async def test_media_faults(api, gmi_sim):
    request_id = await submit_ok(api)
    url = (await api.get(request_id))[1]["outcome"]["media_urls"][0]["url"]
    gmi_sim.fault("media", 503)
    assert (await api.fetch(url))[0] == 503
    gmi_sim.fault("media", drop_connection=True)
    with pytest.raises(aiohttp.ClientPayloadError):
        await api.fetch(url)
    assert (await api.fetch(url))[0] == 200


async def test_fault_times_and_hits(api, gmi_sim):
    forever = gmi_sim.fault("models", 500, times=None)
    for _ in range(3):
        assert (await api.call("GET", "/models"))[0] == 500
    assert forever.hits == 3
    gmi_sim.clear_faults()
    assert (await api.call("GET", "/models"))[0] == 200


def test_fault_needs_an_effect(gmi_sim):
    with pytest.raises(ValueError):
        gmi_sim.fault("get")
    with pytest.raises(ValueError):
        gmi_sim.fault("upload", 500)


# ---- log, waiting, lifecycle ---------------------------------------------------------------


async def test_log_records_what_was_sent(api, gmi_sim):
    request_id = await submit_ok(api, {"prompt": "logged"})
    await api.get(request_id)
    await api.get(request_id)
    submit, *_ = gmi_sim.log
    assert (submit.method, submit.call, submit.status) == ("POST", "submit", 200)
    assert submit.path == f"{API_PREFIX}/requests"
    assert submit.body_json == {"model": SEEDANCE_MODEL, "payload": {"prompt": "logged"}}
    assert submit.request_id == request_id
    assert len(gmi_sim.calls("get", request_id=request_id)) == 2
    assert all(c.status == 200 for c in gmi_sim.calls(request_id=request_id))


async def test_wait_for_calls_waits_for_the_condition(api, gmi_sim):
    async def poll_later():
        for _ in range(3):
            await asyncio.sleep(0)
            await api.get("x")

    task = asyncio.create_task(poll_later())
    calls = await gmi_sim.wait_for_calls("get", count=3, within=5)
    assert len(calls) == 3 and all(c.status == 404 for c in calls)
    await task
    with pytest.raises(TimeoutError):
        await gmi_sim.wait_for_calls("get", count=4, within=0.05)


async def test_close_does_not_wait_for_slow_handlers(gmi_session):
    sim = await GMISimulator().start()
    sim.fault("models", delay=60)
    pending = asyncio.create_task(gmi_session.get(f"{sim.base_url}/models"))
    await sim.wait_for_calls("models", answered=False)
    started = time.monotonic()
    await sim.close()
    assert time.monotonic() - started < 1
    with pytest.raises(aiohttp.ClientError):
        await pending
    await sim.close()  # idempotent


async def test_control_endpoints_script_a_simulator_in_another_process(api, gmi_sim, gmi_session):
    origin = gmi_sim.base_origin

    async def control(method, path, body=None):
        async with gmi_session.request(method, origin + path, json=body) as response:
            return response.status, await response.json(content_type=None)

    assert (await control("POST", "/_sim/script", {"times": 1, "fail_reason": "nope",
                                                   "timings": {"processing": 5}}))[0] == 200  # fmt: skip
    assert (await control("POST", "/_sim/script", {"explode": True}))[0] == 400
    failing = await submit_ok(api)
    assert gmi_sim.requests[failing].behaviour.fail_reason == "nope"
    assert (await control("POST", f"/_sim/requests/{failing}/cancel"))[1] == {"cancelled": True}
    assert gmi_sim.requests[failing].status == "cancelled"

    gmi_sim.script_next(hold=True)
    held = await submit_ok(api)
    await control("POST", f"/_sim/requests/{held}/release")
    assert gmi_sim.requests[held].status == "success"

    assert (await control("POST", "/_sim/faults", {"call": "models", "status": 503}))[0] == 200
    assert (await api.call("GET", "/models"))[0] == 503
    await control("POST", "/_sim/faults", {"call": "models", "status": 500, "times": None})
    await control("DELETE", "/_sim/faults")
    assert (await api.call("GET", "/models"))[0] == 200

    _, listed = await control("GET", "/_sim/requests")
    assert {r["request_id"] for r in listed["requests"]} == {failing, held}
    _, logged = await control("GET", "/_sim/log")
    assert [c["call"] for c in logged["log"]].count("submit") == 2
    assert not any("/_sim/" in c.path for c in gmi_sim.log)


async def test_standalone_server_prints_its_base_url(tmp_path):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.simulator", "--port", "0", "--processing-seconds", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        base_url = line.strip().rsplit(" ", 1)[-1]
        assert base_url.endswith(API_PREFIX)
        async with aiohttp.ClientSession() as session:
            headers = {"Authorization": "Bearer whatever"}
            async with session.get(f"{base_url}/models", headers=headers) as response:
                assert response.status == 200
                assert (await response.json())["model_ids"] == [SEEDANCE_MODEL]
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 10) == 0
