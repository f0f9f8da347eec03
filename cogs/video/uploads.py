"""The files a member sends with a command, checked by their first bytes before a job is
accepted.

Discord derives an attachment's type from its name and passes on the pixel size the
uploader's client claimed, so a text file named ``frame.png`` arrives as a PNG image. The
bot reads the first `HEAD_BYTES` of each attachment that came with the interaction (on
Discord's CDN; never a link a member typed: those the provider fetches itself) and lets
`bot.media.sniff` say what the file really is and how large an image really is.

The read happens before the interaction is answered, inside Discord's 3 s, with a short
timeout for all the files together. Deferring instead would make the answer public
("is thinking...") before the bot knows whether it will refuse, and a refusal must be
private; the public status message must also stay the interaction's own answer. A ranged
read of 64 KiB from Discord's CDN, next to the bot, takes tens of milliseconds; the
emulator's test measures the whole answer with eight attachments well under a second.
When Discord's CDN is slower than `HEAD_READ_TIMEOUT` the member is asked to try again:
the file was not checked, so it is not accepted (and nothing was stored or sent).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import aiohttp
import discord

from bot.errors import Refused
from bot.media.sniff import HEAD_BYTES, sniff
from bot.params import UNKNOWN_FORMAT, MediaInput, quoted

log = logging.getLogger(__name__)

# For every file of one command together, so the answer still comes well within 3 s.
HEAD_READ_TIMEOUT = 1.5
HEAD_READ_ATTEMPTS = 2


async def inspect_uploads(
    session: aiohttp.ClientSession,
    attachments: Sequence[discord.Attachment | None],
    *,
    timeout: float = HEAD_READ_TIMEOUT,
) -> dict[int, MediaInput]:
    """Each attachment (by id) as a `MediaInput` whose format and pixel size come from the
    file itself. Raises `Refused`, naming the files, when Discord's CDN didn't give them."""
    files = [a for a in attachments if a is not None]
    if not files:
        return {}
    heads = await asyncio.gather(*(_read_head(session, a, timeout) for a in files))
    unread = [a.filename for a, head in zip(files, heads, strict=True) if head is None]
    if unread:
        names = ", ".join(quoted(name) for name in unread)
        them = "it" if len(unread) == 1 else "them"
        raise Refused(
            f"I couldn't read {names} from Discord just now, so I can't check {them}. "
            "Try again in a moment."
        )
    return {a.id: upload_media(a, head) for a, head in zip(files, heads, strict=True) if head is not None}


async def _read_head(
    session: aiohttp.ClientSession, attachment: discord.Attachment, timeout: float
) -> bytes | None:
    """The first `HEAD_BYTES` of the file (all of it if smaller); None if Discord's CDN
    failed within ``timeout`` (a connection error is retried once, a refusal is not)."""
    try:
        async with asyncio.timeout(timeout):
            for attempt in range(1, HEAD_READ_ATTEMPTS + 1):
                try:
                    return await _ranged_get(session, attachment.url)
                except aiohttp.ClientResponseError as error:
                    if error.status < 500 or attempt == HEAD_READ_ATTEMPTS:
                        raise
                except aiohttp.ClientConnectionError:
                    if attempt == HEAD_READ_ATTEMPTS:
                        raise
    except (TimeoutError, aiohttp.ClientError) as error:
        log.warning("could not read attachment %d from the CDN: %r", attachment.id, error)
    return None


async def _ranged_get(session: aiohttp.ClientSession, url: str) -> bytes:
    headers = {"Range": f"bytes=0-{HEAD_BYTES - 1}"}
    async with session.get(url, headers=headers, raise_for_status=True) as response:
        # A server that ignores Range sends the whole file: stop reading after the head.
        head = bytearray()
        while len(head) < HEAD_BYTES:
            chunk = await response.content.read(HEAD_BYTES - len(head))
            if not chunk:
                break
            head += chunk
        return bytes(head)


def upload_media(attachment: discord.Attachment, head: bytes) -> MediaInput:
    """The attachment as a model input, its format and pixel size read from ``head``."""
    found = sniff(head)
    width, height = attachment.width, attachment.height
    if found is not None and found.width is not None:
        width, height = found.width, found.height
    return MediaInput(
        url=attachment.url,
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=attachment.size,
        width=width,
        height=height,
        detected=str(found.format) if found is not None else UNKNOWN_FORMAT,
    )
