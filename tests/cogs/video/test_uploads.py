"""Reading the first bytes of uploads from a CDN that is slow, failing, or ignores Range."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import aiohttp
import discord
import pytest
from aiohttp import web

from bot.errors import Refused
from bot.media.sniff import HEAD_BYTES
from cogs.video.uploads import inspect_uploads
from tests.support import sample_files


class CDN:
    """A tiny CDN: ``/files/<name>`` serves ``files[name]``; it can stall or fail first."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.stalled: set[str] = set()
        self.fail_first: dict[str, int] = {}
        self.ranges: list[str | None] = []
        self.release = asyncio.Event()
        self.base = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.ranges.append(request.headers.get("Range"))
        if name in self.stalled:
            await self.release.wait()
        if self.fail_first.get(name):
            self.fail_first[name] -= 1
            return web.Response(status=503)
        return web.Response(body=self.files[name])  # ignores Range, as some servers do

    def attachment(self, name: str, content_type: str, **fields) -> discord.Attachment:
        data = {"id": str(len(self.files) + 1), "filename": name, "size": len(self.files[name]),
                "url": f"{self.base}/files/{name}", "proxy_url": "", "content_type": content_type,
                **fields}
        return discord.Attachment(data=data, state=SimpleNamespace(http=None))


@pytest.fixture
async def cdn():
    server = CDN()
    app = web.Application()
    app.router.add_get("/files/{name}", server.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    async with aiohttp.ClientSession() as session:
        server.session = session
        yield server
        server.release.set()
    await runner.cleanup()


async def test_only_the_head_is_read_with_a_range_and_the_real_size_wins(cdn):
    cdn.files["big.png"] = sample_files.png(2000, 1000) + b"\0" * (8 * HEAD_BYTES)
    claimed = cdn.attachment("big.png", "image/png", width=10, height=10)
    (media,) = (await inspect_uploads(cdn.session, [claimed, None])).values()
    assert (media.detected, media.width, media.height) == ("PNG", 2000, 1000)
    assert (media.filename, media.size, media.url) == ("big.png", claimed.size, claimed.url)
    assert cdn.ranges == [f"bytes=0-{HEAD_BYTES - 1}"]


async def test_a_file_of_no_known_format_is_marked_unknown(cdn):
    cdn.files["notes.png"] = b"plain text"
    (media,) = (await inspect_uploads(cdn.session, [cdn.attachment("notes.png", "image/png")])).values()
    assert media.detected == "unknown"


async def test_a_cdn_error_is_retried_once(cdn):
    cdn.files["a.mp4"] = sample_files.mp4()
    cdn.fail_first["a.mp4"] = 1
    (media,) = (await inspect_uploads(cdn.session, [cdn.attachment("a.mp4", "video/mp4")])).values()
    assert media.detected == "MP4" and len(cdn.ranges) == 2


async def test_a_slow_cdn_is_a_refusal_naming_the_file_within_the_timeout(cdn):
    cdn.files["ok.png"] = sample_files.png()
    cdn.files["slow.png"] = sample_files.png()
    cdn.stalled.add("slow.png")
    files = [cdn.attachment("ok.png", "image/png"), cdn.attachment("slow.png", "image/png")]
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(Refused) as refusal:
        await inspect_uploads(cdn.session, files, timeout=0.2)
    assert loop.time() - started < 1.0
    assert refusal.value.message == (
        "I couldn't read `slow.png` from Discord just now, so I can't check it. "
        "Try again in a moment."
    )
