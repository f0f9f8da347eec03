"""GMIClient against the simulator: every call, outcome shapes, errors, retries, secrecy."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import socket
import time

import aiohttp
import pytest

from bot.gmi import (
    NO_REASON,
    AuthError,
    GMIClient,
    GMIError,
    InvalidRequest,
    ModelDetail,
    NetworkError,
    NotFound,
    Phase,
    ProviderError,
    RateLimited,
    clean_text,
    parse_retry_after,
)
from bot.simulator import BACKEND_400_ERROR, Timings
from tests.support.gmi import GMI_TEST_KEY, SEEDANCE_MODEL

PAYLOAD = {"prompt": "a red fox running through snow", "duration": 5}


# ---- happy paths ------------------------------------------------------------------------


async def test_submit_sends_model_payload_and_auth_headers(gmi_sim, gmi_client_factory):
    client = gmi_client_factory(organization_id="org-42")
    gmi_sim.organization_id = "org-42"
    request = await client.submit(SEEDANCE_MODEL, PAYLOAD)

    assert request.status == "queued"
    assert request.phase is Phase.PENDING
    assert request.payload == PAYLOAD
    assert request.request_id in gmi_sim.requests
    assert isinstance(request.created_at, float)
    (call,) = gmi_sim.calls("submit")
    assert call.body_json == {"model": SEEDANCE_MODEL, "payload": PAYLOAD}
    assert call.headers["Authorization"] == f"Bearer {GMI_TEST_KEY}"
    assert call.headers["X-Organization-ID"] == "org-42"


async def test_no_organization_header_unless_configured(gmi_sim, gmi_client):
    await gmi_client.list_models()
    assert "X-Organization-ID" not in gmi_sim.log[-1].headers


@pytest.mark.parametrize("shape", ["media_urls", "media_urls_str", "flat"])
async def test_get_reads_every_outcome_shape(gmi_sim, gmi_client, shape):
    gmi_sim.script_next(outcome_shape=shape)
    submitted = await gmi_client.submit(SEEDANCE_MODEL, PAYLOAD)
    done = await gmi_client.get(submitted.request_id)

    assert done.phase is Phase.SUCCEEDED and done.phase.terminal
    assert done.video_url.startswith(f"{gmi_sim.base_origin}/media/{submitted.request_id}.mp4?")
    assert done.failure_reason is None
    if shape == "flat":
        assert done.thumbnail_url.startswith(f"{gmi_sim.base_origin}/media/")
    else:
        assert done.thumbnail_url is None


async def test_pending_request_has_no_outcome(gmi_sim, gmi_client):
    gmi_sim.script_next(hold=True)
    submitted = await gmi_client.submit(SEEDANCE_MODEL, PAYLOAD)
    pending = await gmi_client.get(submitted.request_id)
    assert pending.phase is Phase.PENDING
    assert pending.video_url is None
    assert pending.raw["outcome"] is None


@pytest.mark.parametrize("place", ["error", "message", "detail", "outcome", "outcome_dict"])
async def test_failure_reason_found_wherever_the_provider_puts_it(gmi_sim, gmi_client, place):
    gmi_sim.script_next(fail_reason="input image is too small", reason_in=place)
    submitted = await gmi_client.submit(SEEDANCE_MODEL, PAYLOAD)
    failed = await gmi_client.get(submitted.request_id)
    assert failed.phase is Phase.FAILED
    assert failed.failure_reason == "input image is too small"


async def test_failure_without_reason_gets_the_fallback(gmi_sim, gmi_client):
    gmi_sim.script_next(fail_reason="", reason_in="none")
    submitted = await gmi_client.submit(SEEDANCE_MODEL, PAYLOAD)
    failed = await gmi_client.get(submitted.request_id)
    assert failed.phase is Phase.FAILED
    assert failed.failure_reason == NO_REASON == "the provider gave no reason"


async def test_failure_reason_is_cleaned(gmi_sim, gmi_client):
    reason = (
        "could not fetch https://cdn.discordapp.com/attachments/1/2/cat.png?ex=abc&hm=deadbeef "
        f"with key {GMI_TEST_KEY} token=sk-abcdef0123456789 " + "x" * 600
    )
    gmi_sim.script_next(fail_reason=reason, reason_in="outcome")
    submitted = await gmi_client.submit(SEEDANCE_MODEL, PAYLOAD)
    failed = await gmi_client.get(submitted.request_id)

    text = failed.failure_reason
    assert text.startswith("could not fetch https://cdn.discordapp.com/attachments/1/2/cat.png?")
    assert "hm=deadbeef" not in text and "ex=abc" not in text
    assert GMI_TEST_KEY not in text and "sk-abcdef0123456789" not in text
    assert len(text) <= 300 and text.endswith("…")


async def test_cancelled_request(gmi_sim, gmi_client):
    gmi_sim.script_next(hold=True)
    submitted = await gmi_client.submit(SEEDANCE_MODEL, PAYLOAD)
    gmi_sim.cancel(submitted.request_id)
    cancelled = await gmi_client.get(submitted.request_id)
    assert cancelled.phase is Phase.CANCELLED
    assert cancelled.status == "cancelled"


async def test_terminal_status_straight_from_submit(gmi_sim, gmi_client):
    gmi_sim.script_next(terminal_on_submit=True)
    request = await gmi_client.submit(SEEDANCE_MODEL, PAYLOAD)
    assert request.phase is Phase.SUCCEEDED
    assert request.video_url


async def test_unknown_status_is_pending_and_logged_once(gmi_sim, gmi_clock, gmi_client, caplog):
    gmi_sim.script_next(timings=Timings(processing=60), rename_status={"processing": "rendering"})
    submitted = await gmi_client.submit(SEEDANCE_MODEL, PAYLOAD)
    caplog.set_level(logging.DEBUG, logger="bot.gmi")
    first = await gmi_client.get(submitted.request_id)
    second = await gmi_client.get(submitted.request_id)

    assert first.status == second.status == "rendering"
    assert first.phase is Phase.PENDING and not first.known_status
    warnings = [r for r in caplog.records if "unknown status" in r.getMessage()]
    assert len(warnings) == 1
    gmi_clock.advance(60)
    assert (await gmi_client.get(submitted.request_id)).phase is Phase.SUCCEEDED


async def test_list_requests_returns_payloads(gmi_sim, gmi_client):
    first = await gmi_client.submit(SEEDANCE_MODEL, {"prompt": "one"})
    second = await gmi_client.submit(SEEDANCE_MODEL, {"prompt": "two", "seed": 7})
    listed = await gmi_client.list_requests(SEEDANCE_MODEL)

    assert {r.request_id: r.payload for r in listed} == {
        first.request_id: {"prompt": "one"},
        second.request_id: {"prompt": "two", "seed": 7},
    }
    assert gmi_sim.calls("list")[-1].query == {"model_id": SEEDANCE_MODEL}


async def test_list_models_and_model_detail(gmi_sim, gmi_client):
    gmi_sim.extra_models = ["other-model"]
    assert await gmi_client.list_models() == [SEEDANCE_MODEL, "other-model"]

    detail = await gmi_client.model_detail(SEEDANCE_MODEL)
    assert detail.model == SEEDANCE_MODEL
    assert detail.brief_description and detail.detailed_description.startswith("#")
    parameters = {p.name: p for p in detail.parameters}
    assert parameters["prompt"].required is True
    assert parameters["duration"].type == "integer"
    assert detail.price_info.unit == "second"
    assert detail.raw["modalities"]["output"] == ["video"]


def test_model_detail_tolerates_missing_fields():
    detail = ModelDetail.from_json({"parameters": [{"name": "prompt"}, "junk"]}, model_id="m")
    assert detail.model == "m"
    assert detail.price_info is None and detail.tags == () and detail.org_id is None
    assert [p.name for p in detail.parameters] == ["prompt"]


# ---- errors -----------------------------------------------------------------------------


async def test_invalid_payload_is_invalid_request_with_the_providers_message(
    gmi_sim, gmi_client, gmi_sleeps
):
    with pytest.raises(InvalidRequest) as caught:
        await gmi_client.submit(SEEDANCE_MODEL, {"prompt": "x", "duration": 3})
    err = caught.value
    assert err.status == 400
    assert "duration" in err.message
    assert err.ambiguous is False
    assert len(gmi_sim.calls("submit")) == 1 and gmi_sleeps == []


async def test_content_policy_refusal(gmi_client):
    with pytest.raises(InvalidRequest, match="content policy"):
        await gmi_client.submit(SEEDANCE_MODEL, {"prompt": "a policy-violation scene"})


async def test_bad_key_is_auth_error_with_a_generic_message(gmi_sim, gmi_client_factory):
    client = gmi_client_factory(api_key="wrong-key-0000")
    with pytest.raises(AuthError) as caught:
        await client.list_models()
    err = caught.value
    assert err.status == 401
    assert "key" not in err.message.lower()
    assert "invalid API key" in err.detail
    assert len(gmi_sim.calls("models")) == 1


async def test_wrong_organization_is_auth_error(gmi_sim, gmi_client_factory):
    gmi_sim.organization_id = "org-right"
    with pytest.raises(AuthError) as caught:
        await gmi_client_factory(organization_id="org-wrong").list_models()
    assert caught.value.status == 403


@pytest.mark.parametrize(
    ("call", "args"),
    [("get", ("no-such-request",)), ("model_detail", ("Seedance-2-0-Fast-260128",))],
)
async def test_unknown_things_are_not_found(gmi_client, call, args):
    with pytest.raises(NotFound) as caught:
        await getattr(gmi_client, call)(*args)
    assert caught.value.status == 404


async def test_submit_to_wrongly_cased_model_is_not_found(gmi_client):
    with pytest.raises(NotFound):
        await gmi_client.submit(SEEDANCE_MODEL.upper(), PAYLOAD)


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(429, RateLimited), (500, ProviderError), (502, ProviderError), (503, ProviderError),
     (504, ProviderError), (400, InvalidRequest), (401, AuthError), (403, AuthError),
     (404, NotFound), (409, GMIError)],
)  # fmt: skip
async def test_each_status_maps_to_its_error_class(
    gmi_sim, gmi_client_factory, status, error_class
):
    gmi_sim.fault("get", status, times=None)
    client = gmi_client_factory(max_attempts=2)
    with pytest.raises(error_class) as caught:
        await client.get("whatever")
    assert type(caught.value) is error_class
    assert caught.value.status == status
    retried = status in (429, 500, 502, 503, 504)
    assert len(gmi_sim.calls("get")) == (2 if retried else 1)


async def test_5xx_wrapping_a_backend_400_is_retried_a_couple_of_times_then_reported(
    gmi_sim, gmi_client
):
    gmi_sim.fault("submit", 500, body={"error": BACKEND_400_ERROR}, times=None)
    with pytest.raises(ProviderError) as caught:
        await gmi_client.submit(SEEDANCE_MODEL, PAYLOAD)
    error = caught.value
    assert "Backend error (400)" in error.detail and error.wrapped_status == 400
    assert "refused the request: Backend error (400)" in error.message  # the provider's reason
    assert not error.ambiguous  # the backend refused it: nothing to reconcile
    assert len(gmi_sim.calls("submit")) == 3 and gmi_sim.requests == {}


async def test_non_json_error_body_is_kept_as_detail(gmi_sim, gmi_client_factory):
    gmi_sim.fault("models", 502, body="<html>Bad Gateway</html>")
    with pytest.raises(ProviderError) as caught:
        await gmi_client_factory(max_attempts=1).list_models()
    assert "Bad Gateway" in caught.value.detail


# ---- retries ----------------------------------------------------------------------------


async def test_429_retry_after_seconds_is_honoured(gmi_sim, gmi_client, gmi_sleeps):
    gmi_sim.fault("submit", 429, retry_after=2)
    request = await gmi_client.submit(SEEDANCE_MODEL, PAYLOAD)
    assert request.phase is Phase.PENDING
    assert gmi_sleeps == [2.0]
    assert [c.status for c in gmi_sim.calls("submit")] == [429, 200]
    assert len(gmi_sim.requests) == 1


async def test_503_retry_after_http_date_is_honoured(gmi_sim, gmi_client, gmi_sleeps):
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    gmi_sim.fault("get", 503, retry_after=when)
    submitted = await gmi_client.submit(SEEDANCE_MODEL, PAYLOAD)
    await gmi_client.get(submitted.request_id)
    (delay,) = gmi_sleeps
    assert 27 <= delay <= 30


async def test_backoff_is_capped_exponential_with_full_jitter(
    gmi_sim, gmi_client_factory, gmi_sleeps
):
    gmi_sim.fault("models", 500, times=None)
    client = gmi_client_factory(
        max_attempts=6, backoff_base=1.0, backoff_cap=5.0, random=lambda: 0.5
    )
    with pytest.raises(ProviderError) as caught:
        await client.list_models()
    assert gmi_sleeps == [0.5, 1.0, 2.0, 2.5, 2.5]
    assert caught.value.attempts == 6
    assert len(gmi_sim.calls("models")) == 6


async def test_jitter_uses_the_random_source(gmi_sim, gmi_client_factory, gmi_sleeps):
    draws = iter([0.0, 1.0])
    gmi_sim.fault("models", 502, times=2)
    await gmi_client_factory(backoff_base=1.0, random=lambda: next(draws)).list_models()
    assert gmi_sleeps == [0.0, 2.0]


async def test_429_without_retry_after_backs_off_and_gives_up(gmi_sim, gmi_client, gmi_sleeps):
    gmi_sim.fault("get", 429, times=None)
    with pytest.raises(RateLimited) as caught:
        await gmi_client.get("x")
    assert caught.value.retry_after is None
    assert gmi_sleeps == [0.25, 0.5, 1.0]
    assert len(gmi_sim.calls("get")) == 4


async def test_too_long_retry_after_is_raised_not_slept(gmi_sim, gmi_client, gmi_sleeps):
    gmi_sim.fault("submit", 429, retry_after=3600)
    with pytest.raises(RateLimited) as caught:
        await gmi_client.submit(SEEDANCE_MODEL, PAYLOAD)
    assert caught.value.retry_after == 3600.0
    assert gmi_sleeps == []


async def test_timeout_is_a_network_error_and_retried(gmi_sim, gmi_client_factory):
    gmi_sim.fault("get", delay=5.0)
    client = gmi_client_factory(timeout=0.2, max_attempts=2)
    submitted = await client.submit(SEEDANCE_MODEL, PAYLOAD)
    done = await client.get(submitted.request_id)
    assert done.phase is Phase.SUCCEEDED
    assert len(gmi_sim.calls("get")) == 2

    gmi_sim.fault("get", delay=5.0)
    with pytest.raises(NetworkError, match="timed out") as caught:
        await gmi_client_factory(timeout=0.2, max_attempts=1).get(submitted.request_id)
    assert caught.value.ambiguous is False


async def test_malformed_json_is_retried(gmi_sim, gmi_client, gmi_sleeps):
    gmi_sim.fault("models", malformed_json=True)
    assert await gmi_client.list_models() == [SEEDANCE_MODEL]
    assert len(gmi_sleeps) == 1


async def test_malformed_json_when_out_of_attempts(gmi_sim, gmi_client_factory):
    gmi_sim.fault("list", malformed_json=True, times=None)
    with pytest.raises(NetworkError, match="malformed JSON"):
        await gmi_client_factory(max_attempts=2).list_requests(SEEDANCE_MODEL)


async def test_dropped_connection_is_retried(gmi_sim, gmi_client):
    gmi_sim.fault("models", drop_connection=True)
    assert await gmi_client.list_models() == [SEEDANCE_MODEL]
    assert [c.fault for c in gmi_sim.calls("models")] == ["drop", None]


async def test_connection_refused_is_a_network_error_not_ambiguous(gmi_session):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps = []

    async def sleep(delay):
        sleeps.append(delay)

    client = GMIClient(
        gmi_session, f"http://127.0.0.1:{port}/api", "k", sleep=sleep, max_attempts=2
    )
    with pytest.raises(NetworkError) as caught:
        await client.submit(SEEDANCE_MODEL, PAYLOAD)
    assert caught.value.ambiguous is False
    assert len(sleeps) == 1


# ---- ambiguous submits --------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        {"drop_connection": True},
        {"status": 500},
        {"status": 502, "body": {"error": "upstream timeout"}},
        {"malformed_json": True},
    ],
)
async def test_ambiguous_submit_is_raised_at_once_when_asked(gmi_sim, gmi_client, fault):
    gmi_sim.fault("submit", after_create=True, **fault)
    with pytest.raises(GMIError) as caught:
        await gmi_client.submit(SEEDANCE_MODEL, PAYLOAD, retry_ambiguous=False)
    assert caught.value.ambiguous is True
    assert len(gmi_sim.calls("submit")) == 1
    # The request exists upstream; the caller finds it by payload.
    (created,) = gmi_sim.requests.values()
    listed = await gmi_client.list_requests(SEEDANCE_MODEL)
    assert [r.request_id for r in listed if r.payload == PAYLOAD] == [created.request_id]


async def test_ambiguous_timeout_on_submit(gmi_sim, gmi_client_factory):
    gmi_sim.fault("submit", delay=5.0, after_create=True)
    with pytest.raises(NetworkError) as caught:
        await gmi_client_factory(timeout=0.2).submit(SEEDANCE_MODEL, PAYLOAD, retry_ambiguous=False)
    assert caught.value.ambiguous is True
    assert len(gmi_sim.requests) == 1


async def test_ambiguous_submit_is_never_retried_blindly_by_default(gmi_sim, gmi_client):
    gmi_sim.fault("submit", after_create=True, drop_connection=True)
    with pytest.raises(GMIError) as caught:
        await gmi_client.submit(SEEDANCE_MODEL, PAYLOAD)
    assert caught.value.ambiguous and len(gmi_sim.requests) == 1


async def test_ambiguous_submit_retried_when_asked_risks_a_duplicate(gmi_sim, gmi_client):
    gmi_sim.fault("submit", after_create=True, drop_connection=True)
    request = await gmi_client.submit(SEEDANCE_MODEL, PAYLOAD, retry_ambiguous=True)
    # The lost first attempt created a request too: that is the duplicate risk.
    assert len(gmi_sim.requests) == 2
    assert request.request_id in gmi_sim.requests


@pytest.mark.parametrize("status", [429, 400])
async def test_clear_refusals_are_not_ambiguous(gmi_sim, gmi_client_factory, status):
    gmi_sim.fault("submit", status, times=None)
    with pytest.raises(GMIError) as caught:
        await gmi_client_factory(max_attempts=2).submit(
            SEEDANCE_MODEL, PAYLOAD, retry_ambiguous=False
        )
    assert caught.value.ambiguous is False
    assert gmi_sim.requests == {}


async def test_an_earlier_ambiguous_attempt_taints_the_final_error(gmi_sim, gmi_client_factory):
    async def refuse_the_retry(delay):
        gmi_sim.fault("submit", 400, body={"error": "duplicate request"})

    gmi_sim.fault("submit", 500, after_create=True)
    with pytest.raises(InvalidRequest) as caught:
        await gmi_client_factory(sleep=refuse_the_retry).submit(
            SEEDANCE_MODEL, PAYLOAD, retry_ambiguous=True
        )
    assert caught.value.ambiguous is True
    assert caught.value.attempts == 2


async def test_get_failures_are_never_ambiguous(gmi_sim, gmi_client):
    gmi_sim.fault("get", 500, times=None)
    with pytest.raises(ProviderError) as caught:
        await gmi_client.get("x")
    assert caught.value.ambiguous is False


# ---- the key never leaks ---------------------------------------------------------------------


def _assert_no_key(*texts: str) -> None:
    for text in texts:
        assert GMI_TEST_KEY not in text, text


async def test_repr_of_client_and_request_hide_the_key(gmi_client):
    request = await gmi_client.submit(SEEDANCE_MODEL, PAYLOAD)
    _assert_no_key(repr(gmi_client), str(gmi_client), repr(request), str(vars(gmi_client).keys()))


@pytest.mark.parametrize(
    ("status", "echo"),
    [
        (401, "invalid key {key}"),
        (403, "Authorization: Bearer {key} rejected"),
        (400, "bad request for api_key={key}"),
        (500, "upstream said {key}"),
        (429, '{{"error": "slow down {key}"}}'),
    ],
)
async def test_errors_echoing_the_key_are_redacted(
    gmi_sim, gmi_client_factory, caplog, status, echo
):
    caplog.set_level(logging.DEBUG)
    gmi_sim.fault("submit", status, body={"error": echo.format(key=GMI_TEST_KEY)}, times=None)
    with pytest.raises(GMIError) as caught:
        await gmi_client_factory(max_attempts=2).submit(SEEDANCE_MODEL, PAYLOAD)
    err = caught.value
    _assert_no_key(str(err), repr(err), err.message, err.detail, *map(str, err.args))
    assert "[redacted]" in err.detail
    _assert_no_key(caplog.text, *(r.getMessage() for r in caplog.records))


async def test_whole_flow_logs_never_hold_the_key(gmi_sim, gmi_client, caplog):
    caplog.set_level(logging.DEBUG)
    gmi_sim.fault("get", 503, retry_after=1)
    gmi_sim.fault("get", drop_connection=True)
    gmi_sim.script_next(fail_reason=f"failed for key {GMI_TEST_KEY}")
    submitted = await gmi_client.submit(SEEDANCE_MODEL, PAYLOAD)
    failed = await gmi_client.get(submitted.request_id)
    await gmi_client.list_requests(SEEDANCE_MODEL)
    _assert_no_key(failed.failure_reason, caplog.text)
    assert submitted.request_id in caplog.text


async def test_network_error_details_hold_no_key(gmi_sim, gmi_client_factory):
    gmi_sim.fault("get", drop_connection=True, times=None)
    with pytest.raises(NetworkError) as caught:
        await gmi_client_factory(max_attempts=1).get("x")
    err = caught.value
    _assert_no_key(str(err), repr(err))
    assert err.__cause__ is None and err.__suppress_context__


async def test_submit_answer_without_request_id_is_ambiguous(gmi_sim, gmi_client):
    gmi_sim.fault("submit", 200, body={"status": "queued"}, after_create=True)
    with pytest.raises(GMIError) as caught:
        await gmi_client.submit(SEEDANCE_MODEL, PAYLOAD)
    assert caught.value.ambiguous is True
    assert len(gmi_sim.calls("submit")) == 1


async def test_get_answer_without_request_id_keeps_the_asked_id(gmi_sim, gmi_client):
    gmi_sim.fault("get", 200, body={"status": "processing"})
    request = await gmi_client.get("abc-123")
    assert (request.request_id, request.phase) == ("abc-123", Phase.PENDING)


def test_client_refuses_an_empty_key():
    with pytest.raises(ValueError):
        GMIClient(None, "http://x", "")  # type: ignore[arg-type]


# ---- helpers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("", None), ("3", 3.0), (" 1.5 ", 1.5), ("-4", 0.0), ("soon", None),
     ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)  # fmt: skip
def test_parse_retry_after(header, expected):
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date_in_the_future():
    now = 1_700_000_000.0
    header = email.utils.formatdate(now + 12, usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(12, abs=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain words stay", "plain words stay"),
        ("line\nbreaks   squashed", "line breaks squashed"),
        ("see https://storage.googleapis.com/b/v.mp4?X-Goog-Signature=abc",
         "see https://storage.googleapis.com/b/v.mp4?[redacted]"),
        ("https://example.com/plain/path kept", "https://example.com/plain/path kept"),
        ("Bearer abcdef123456", "Bearer [redacted]"),
        ("token: abcdef123456", "token: [redacted]"),
        ("a token limit", "a token limit"),
        ("id 5a7a5466-7948-47d8-8578-cff4b9581feb kept", "id 5a7a5466-7948-47d8-8578-cff4b9581feb kept"),
        ("model seedance-2-0-fast-260128", "model seedance-2-0-fast-260128"),
        ("blob a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8", "blob [redacted]"),
    ],
)  # fmt: skip
def test_clean_text(text, expected):
    assert clean_text(text) == expected


def test_clean_text_removes_named_secrets_and_truncates():
    assert clean_text("key=hunter2 and hunter2", ["hunter2"]) == ("key=[redacted] and [redacted]")
    assert len(clean_text("word " * 200, limit=50)) == 50


async def test_every_call_has_a_timeout(gmi_sim, gmi_session, monkeypatch):
    seen = []
    original = aiohttp.ClientSession.request

    def spy(self, method, url, **kwargs):
        seen.append(kwargs.get("timeout"))
        return original(self, method, url, **kwargs)

    monkeypatch.setattr(aiohttp.ClientSession, "request", spy)
    client = GMIClient(gmi_session, gmi_sim.base_url, GMI_TEST_KEY, timeout=7.0)
    submitted = await client.submit(SEEDANCE_MODEL, PAYLOAD)
    await asyncio.gather(
        client.get(submitted.request_id),
        client.list_requests(SEEDANCE_MODEL),
        client.list_models(),
        client.model_detail(SEEDANCE_MODEL),
    )
    assert len(seen) == 5
    assert all(t is not None and t.total == 7.0 for t in seen)


async def test_the_list_follows_pages_and_keeps_only_this_model_since_a_time(gmi_sim, gmi_client):
    gmi_sim.list_page_size = 2
    for prompt in ("one", "two", "three", "four", "five"):
        await gmi_client.submit(SEEDANCE_MODEL, {**PAYLOAD, "prompt": prompt})
    listed = await gmi_client.list_requests(SEEDANCE_MODEL)
    assert sorted(r.payload["prompt"] for r in listed) == ["five", "four", "one", "three", "two"]
    assert len(gmi_sim.calls("list")) == 3  # pages of 2, 2 and 1
    newest = max(r.created_at for r in listed)
    recent = await gmi_client.list_requests(SEEDANCE_MODEL, created_after=newest + 1)
    assert recent == []
    assert len(gmi_sim.calls("list")) == 4  # the first page was already too old: no more


async def test_the_list_stops_after_a_bounded_number_of_pages(gmi_sim, gmi_client):
    gmi_sim.list_page_size = 1
    for prompt in ("a", "b", "c", "d"):
        await gmi_client.submit(SEEDANCE_MODEL, {**PAYLOAD, "prompt": prompt})
    listed = await gmi_client.list_requests(SEEDANCE_MODEL, max_pages=2)
    assert len(listed) == 2 and len(gmi_sim.calls("list")) == 2
