"""Small files of each format members upload, built in memory for tests.

``png`` is a complete, decodable image (a blank one, deflated); the others carry the real
headers of their format (what `bot.media.sniff` and the provider's first look read) around
a token body, which keeps them a few hundred bytes. ``real_files`` in
``tests/bot/media/test_sniff.py`` checks the sniffer against files ffmpeg encodes.
"""

from __future__ import annotations

import struct
import zlib


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int = 1280, height: int = 720) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = (b"\0" + b"\0" * width) * height  # filter byte + one black pixel per column
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(rows, 9))
        + _png_chunk(b"IEND", b"")
    )


def jpeg(width: int = 1280, height: int = 720, *, metadata: int = 0) -> bytes:
    """SOI, a JFIF APP0, ``metadata`` bytes of APP1 segments (EXIF-like), SOF0, EOI."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"
    app1 = b""
    while metadata > 0:
        body = min(metadata, 65533)
        app1 += b"\xff\xe1" + struct.pack(">H", body + 2) + b"\0" * body
        metadata -= body
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + app1 + sof0 + b"\xff\xd9"


def webp(width: int = 1280, height: int = 720) -> bytes:
    """An extended (VP8X) WebP header, as encoders write for images with alpha."""
    vp8x = b"\0\0\0\0" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    chunk = b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def mp4(brand: bytes = b"isom") -> bytes:
    ftyp = struct.pack(">I", 24) + b"ftyp" + brand + b"\0\0\x02\0" + brand + b"mp41"
    return ftyp + struct.pack(">I", 8) + b"free"


def mov() -> bytes:
    return mp4(b"qt  ")


def mp3() -> bytes:
    """An ID3v2.4 tag, then one MPEG-1 Layer III frame header (128 kbit/s, 44.1 kHz)."""
    return b"ID3\x04\0\0\0\0\0\0" + b"\xff\xfb\x90\x64" + b"\0" * 413


def wav() -> bytes:
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    data = b"\0" * 64
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body
