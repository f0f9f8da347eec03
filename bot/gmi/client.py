"""Async client for GMI Cloud's request-queue API (submit, poll, list, model info).

Retries are bounded, with capped exponential backoff and full jitter, honouring ``Retry-After``.
A submit whose failure is *ambiguous* (the request may exist upstream) is retried only when the
caller allows it; otherwise the error carries ``ambiguous=True`` and the caller reconciles
through :meth:`GMIClient.list_requests`. The API key never reaches a log line, an exception or a
repr: every provider string is cleaned with the key listed as a secret.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import json
import logging
import random as _random
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.backoff import full_jitter

from .errors import (
    AuthError,
    GMIError,
    InvalidRequest,
    NetworkError,
    NotFound,
    ProviderError,
    RateLimited,
    clean_text,
)
from .models import GMIRequest, ModelDetail

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
# A 5xx whose message wraps a backend client error ("Backend error (400). Please try
# again."): the request was refused, so retrying rarely helps; a couple of times at most.
WRAPPED_CLIENT_ERROR = re.compile(r"backend error \((4\d\d)\)", re.IGNORECASE)
WRAPPED_CLIENT_ERROR_ATTEMPTS = 3
MAX_LIST_PAGES = 20


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


class _Attempt(Exception):
    """Internal: one attempt failed with ``error``; ``retryable`` says whether to try again."""

    def __init__(self, error: GMIError, retryable: bool, retry_after: float | None = None):
        super().__init__(error.message)
        self.error = error
        self.retryable = retryable
        self.retry_after = retry_after


class GMIClient:
    """Talks to ``{base_url}/requests`` and ``{base_url}/models`` over a caller-owned session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        api_key: str,
        *,
        organization_id: str | None = None,
        timeout: float = 30.0,
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        max_retry_after: float = 120.0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        if not api_key:
            raise ValueError("GMIClient needs an API key")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._session = session
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.organization_id = organization_id
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._random = random
        self._unknown_statuses_logged: set[str] = set()

    def __repr__(self) -> str:
        return (
            f"GMIClient(base_url={self.base_url!r}, organization_id={self.organization_id!r}, "
            f"timeout={self.timeout!r}, max_attempts={self.max_attempts!r})"
        )

    # ---- public calls -------------------------------------------------------------------

    async def submit(
        self, model: str, payload: dict[str, Any], *, retry_ambiguous: bool = False
    ) -> GMIRequest:
        """Create a generation. Raises :class:`GMIError`; check ``.ambiguous`` on failure.

        Only failures that certainly created nothing are retried here (a refused connection,
        a 429); an ambiguous one is raised at once unless ``retry_ambiguous``, because a
        blind retry can create a second, billed request. The caller reconciles."""
        data = await self._call(
            "submit",
            "POST",
            "/requests",
            body={"model": model, "payload": payload},
            retry_ambiguous=retry_ambiguous,
        )
        request = self._request_from(data, payload=payload)
        if not request.request_id:
            # Retrying could duplicate a request we cannot name; the caller reconciles.
            raise GMIError(
                detail=f"submit answer had no request_id: {self._clean(data, 200)}",
                status=200,
                ambiguous=True,
                call="submit",
            )
        log.info("GMI submit accepted: request %s status %s", request.request_id, request.status)
        return request

    async def get(self, request_id: str) -> GMIRequest:
        """One request's current status (and outcome once done)."""
        if not request_id:
            raise ValueError("request_id is empty")
        data = await self._call("get", "GET", f"/requests/{quote(request_id, safe='')}")
        request = self._request_from(data)
        if not request.request_id:
            request = dataclasses.replace(request, request_id=request_id)
        log.debug("GMI request %s is %s", request.request_id, request.status)
        return request

    async def list_requests(
        self, model: str, *, created_after: float | None = None, max_pages: int = MAX_LIST_PAGES
    ) -> list[GMIRequest]:
        """The account's requests for ``model`` (created at or after ``created_after``).

        No paging is documented, but an answer that carries any (``next``, ``page`` with
        ``total`` larger than what came back) is followed, at most ``max_pages`` pages. The
        list is assumed newest first when it is paged, so paging stops at the first page
        older than ``created_after``."""
        found: list[GMIRequest] = []
        params = {"model_id": model}
        seen: set[str] = set()
        for _ in range(max_pages):
            data = await self._call("list", "GET", "/requests", params=params)
            items = data.get("requests")
            page = [
                self._request_from(item)
                for item in (items if isinstance(items, list) else [])
                if isinstance(item, dict)
            ]
            fresh = [r for r in page if r.request_id not in seen]
            seen.update(r.request_id for r in fresh)
            found.extend(
                r
                for r in fresh
                if (r.model is None or r.model == model)
                and (created_after is None or r.created_at is None or r.created_at >= created_after)
            )
            following = _next_page(data, params, len(seen))
            too_old = created_after is not None and all(
                r.created_at is not None and r.created_at < created_after for r in fresh
            )
            if following is None or not fresh or too_old:
                break
            params = following
        return found

    async def list_models(self) -> list[str]:
        data = await self._call("models", "GET", "/models")
        ids = data.get("model_ids")
        return [m for m in ids if isinstance(m, str)] if isinstance(ids, list) else []

    async def model_detail(self, model_id: str) -> ModelDetail:
        data = await self._call("model", "GET", f"/models/{quote(model_id, safe='')}")
        return ModelDetail.from_json(data, model_id=model_id)

    # ---- plumbing -----------------------------------------------------------------------

    def _request_from(
        self, data: dict[str, Any], *, payload: dict[str, Any] | None = None
    ) -> GMIRequest:
        request = GMIRequest.from_json(data, payload=payload, secrets=(self._api_key,))
        if not request.known_status and request.status not in self._unknown_statuses_logged:
            self._unknown_statuses_logged.add(request.status)
            log.warning(
                "GMI returned unknown status %r (request %s); treating it as pending",
                self._clean(request.status),
                request.request_id,
            )
        return request

    def _clean(self, text: object, limit: int = 300) -> str:
        return clean_text(text, (self._api_key,), limit)

    def _headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"}
        if self.organization_id:
            headers["X-Organization-ID"] = self.organization_id
        return headers

    def _backoff(self, attempt: int) -> float:
        return full_jitter(attempt, base=self.backoff_base, cap=self.backoff_cap, rng=self._random)

    async def _call(
        self,
        call: str,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        retry_ambiguous: bool = True,
    ) -> dict[str, Any]:
        any_ambiguous = False
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._attempt(call, method, path, body=body, params=params)
            except _Attempt as failed:
                error = failed.error
                any_ambiguous = any_ambiguous or error.ambiguous
                # An earlier attempt may have created the request even if this one clearly failed.
                error.ambiguous = any_ambiguous
                error.attempts = attempt
                stop_reason = None
                if not failed.retryable:
                    stop_reason = "not retryable"
                elif attempt >= self.max_attempts:
                    stop_reason = "out of attempts"
                elif (
                    isinstance(error, ProviderError)
                    and error.wrapped_status is not None
                    and attempt >= WRAPPED_CLIENT_ERROR_ATTEMPTS
                ):
                    stop_reason = f"the backend keeps refusing ({error.wrapped_status})"
                elif error.ambiguous and not retry_ambiguous:
                    stop_reason = "ambiguous submit, caller reconciles"
                elif failed.retry_after is not None and failed.retry_after > self.max_retry_after:
                    stop_reason = f"Retry-After {failed.retry_after:.0f}s is too long"
                if stop_reason:
                    log.info(
                        "GMI %s failed after %d attempt(s) (%s): %s",
                        call,
                        attempt,
                        stop_reason,
                        error,
                    )
                    raise error from None
                delay = (
                    failed.retry_after if failed.retry_after is not None else self._backoff(attempt)
                )
                log.info(
                    "GMI %s attempt %d/%d failed (%s); retrying in %.2fs",
                    call,
                    attempt,
                    self.max_attempts,
                    error,
                    delay,
                )
                await self._sleep(delay)

    async def _attempt(
        self,
        call: str,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None,
        params: dict[str, str] | None,
    ) -> dict[str, Any]:
        is_submit = call == "submit"
        url = self.base_url + path
        started = time.monotonic()
        try:
            async with self._session.request(
                method,
                url,
                headers=self._headers(),
                json=body,
                params=params,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                allow_redirects=False,
            ) as response:
                status = response.status
                text = await response.text(errors="replace")
                headers = response.headers
        except aiohttp.InvalidURL as exc:
            raise _Attempt(
                GMIError(
                    "The video service address is misconfigured.",
                    detail=f"invalid URL: {self._clean(exc)}",
                    call=call,
                ),
                retryable=False,
            ) from None
        except aiohttp.ClientConnectorError as exc:
            # Never connected: nothing can have been created upstream.
            raise _Attempt(
                NetworkError(detail=f"cannot connect: {self._clean(exc)}", call=call),
                retryable=True,
            ) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            kind = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
            raise _Attempt(
                NetworkError(
                    detail=f"{kind} after {time.monotonic() - started:.2f}s: {self._clean(exc)}",
                    ambiguous=is_submit,
                    call=call,
                ),
                retryable=True,
            ) from None

        log.debug(
            "GMI %s %s -> HTTP %d in %.3fs",
            method,
            path,
            status,
            time.monotonic() - started,
        )
        if 200 <= status < 300:
            try:
                data = json.loads(text)
            except ValueError:
                data = None
            if not isinstance(data, dict):
                raise _Attempt(
                    NetworkError(
                        detail=f"malformed JSON in HTTP {status} answer: {self._clean(text, 120)!r}",
                        status=status,
                        ambiguous=is_submit,
                        call=call,
                    ),
                    retryable=True,
                )
            return data
        raise self._status_error(call, status, text, headers)

    def _status_error(self, call: str, status: int, text: str, headers: Any) -> _Attempt:
        provider_message = self._error_message(text)
        detail = provider_message or f"HTTP {status} with no message"
        retry_after = parse_retry_after(headers.get("Retry-After"))
        if status == 400:
            return _Attempt(
                InvalidRequest(provider_message or None, status=status, detail=detail, call=call),
                retryable=False,
            )
        if status in (401, 403):
            log.error("GMI rejected the credentials (HTTP %d on %s): %s", status, call, detail)
            return _Attempt(AuthError(status=status, detail=detail, call=call), retryable=False)
        if status == 404:
            return _Attempt(NotFound(status=status, detail=detail, call=call), retryable=False)
        if status == 429:
            return _Attempt(
                RateLimited(status=status, detail=detail, retry_after=retry_after, call=call),
                retryable=True,
                retry_after=retry_after,
            )
        if status >= 500:
            wrapped = WRAPPED_CLIENT_ERROR.search(provider_message or "")
            if wrapped:
                # The backend refused the request: nothing was created, and the provider's
                # own words are what the member should read.
                return _Attempt(
                    ProviderError(
                        f"The video service refused the request: {provider_message}",
                        status=status,
                        detail=detail,
                        wrapped_status=int(wrapped[1]),
                        call=call,
                    ),
                    retryable=True,
                )
            return _Attempt(
                ProviderError(
                    status=status,
                    detail=detail,
                    retry_after=retry_after,
                    ambiguous=call == "submit",
                    call=call,
                ),
                retryable=status in RETRYABLE_STATUSES,
                retry_after=retry_after if status == 503 else None,
            )
        return _Attempt(
            GMIError(status=status, detail=f"unexpected HTTP {status}: {detail}", call=call),
            retryable=False,
        )

    def _error_message(self, text: str) -> str:
        """The provider's message from ``{"error"|"message"|"detail": ...}``, cleaned."""
        try:
            data = json.loads(text)
        except ValueError:
            return self._clean(text, 200)
        if isinstance(data, dict):
            for key in ("error", "message", "detail"):
                value = data.get(key)
                if isinstance(value, dict):
                    value = value.get("message") or value.get("error") or json.dumps(value)
                if value:
                    return self._clean(value)
            return self._clean(json.dumps(data), 200)
        return self._clean(text, 200)


def _next_page(data: dict[str, Any], params: dict[str, str], received: int) -> dict[str, str] | None:
    """The parameters of the next page, if the answer says there is one."""
    following = data.get("next")
    if isinstance(following, str | int) and str(following):
        key = "cursor" if not str(following).isdigit() else "page"
        return {**params, key: str(following)}
    page = data.get("page")
    total = data.get("total")
    if isinstance(page, int) and isinstance(total, int) and total > received:
        return {**params, "page": str(page + 1)}
    return None
