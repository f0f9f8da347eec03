"""Requests straight to the emulator, past discord.py's own client-side checks and limiter."""

from __future__ import annotations

from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

from tests.fakecord import FakeDiscord


async def exchange(emu: FakeDiscord, method: str, path: str, body: Any = None, *,
                   auth: bool = True) -> tuple[int, Any, CIMultiDictProxy[str]]:
    """``(status, JSON or text, headers)`` of one request to ``/api/v10`` + ``path``."""
    headers = {"Authorization": f"Bot {emu.token}"} if auth else {}
    async with aiohttp.ClientSession() as session, session.request(
            method, emu.api_base_url + path, json=body, headers=headers) as resp:
        data = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, data, resp.headers


async def raw(emu: FakeDiscord, method: str, path: str, body: Any = None, *,
              auth: bool = True) -> tuple[int, Any]:
    status, data, _ = await exchange(emu, method, path, body, auth=auth)
    return status, data
