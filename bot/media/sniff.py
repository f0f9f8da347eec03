"""What a file really is, from its first bytes: its format and, for an image, its pixel size.

Discord reports an upload's type from its name and its size from the uploader's claim, so a
text file named ``frame.png`` arrives as ``image/png``. The provider would fetch it, fail, and
the member would have paid for nothing; these few bytes settle it before the job is stored.

Pure functions on bytes (no I/O): the caller reads the first `HEAD_BYTES` of the file. Every
format the provider takes is read here (PNG, JPEG, WebP; MP4, MOV; MP3, WAV), plus a few it
does not take but members often upload (GIF, HEIC, AVIF, WebM, M4A, Ogg, FLAC), so a refusal
can say what the file is instead of only what it is not.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

MediaKind = Literal["image", "video", "audio"]

# Enough for every signature and for a JPEG's frame header behind the usual metadata (EXIF,
# an ICC profile, XMP). A JPEG whose frame header comes later still sniffs as a JPEG, with
# no pixel size.
HEAD_BYTES = 64 * 1024


class Format(StrEnum):
    """A file format by the name members know it by."""

    PNG = "PNG"
    JPEG = "JPEG"
    WEBP = "WebP"
    GIF = "GIF"
    HEIC = "HEIC"
    AVIF = "AVIF"
    MP4 = "MP4"
    MOV = "MOV"
    WEBM = "WebM"
    MP3 = "MP3"
    WAV = "WAV"
    M4A = "M4A"
    OGG = "Ogg"
    FLAC = "FLAC"

    @property
    def kind(self) -> MediaKind:
        return _KINDS[self]


_KINDS: dict[Format, MediaKind] = {
    **dict.fromkeys(
        (Format.PNG, Format.JPEG, Format.WEBP, Format.GIF, Format.HEIC, Format.AVIF), "image"
    ),
    **dict.fromkeys((Format.MP4, Format.MOV, Format.WEBM), "video"),
    **dict.fromkeys((Format.MP3, Format.WAV, Format.M4A, Format.OGG, Format.FLAC), "audio"),
}


@dataclass(frozen=True)
class Sniffed:
    """A recognised file: its format, and its pixel size when it is an image whose header
    was within the bytes read."""

    format: Format
    width: int | None = None
    height: int | None = None


def sniff(head: bytes) -> Sniffed | None:
    """The format (and an image's size) of the file that starts with ``head``; None when
    the bytes are none of the formats above (text, an empty file, a broken header)."""
    for reader in (_png, _jpeg, _riff, _iso_media, _mp3, _simple):
        found = reader(head)
        if found is not None:
            return found
    return None


# -- images ------------------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png(head: bytes) -> Sniffed | None:
    """A PNG starts with its signature and then, always first, the IHDR chunk."""
    if not head.startswith(_PNG_SIGNATURE) or head[12:16] != b"IHDR" or len(head) < 24:
        return None
    width, height = struct.unpack(">II", head[16:24])
    return Sniffed(Format.PNG, width, height)


# SOF0-SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but don't.
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})  # TEM, RST0-7, SOI: no length


def _jpeg(head: bytes) -> Sniffed | None:
    """A JPEG is SOI then segments, each with its length; the frame header (SOFn) holds the
    size. Walk the segments; stop at the start of the image data or the end of ``head``."""
    if not head.startswith(b"\xff\xd8\xff"):
        return None
    at = 2
    while at + 4 <= len(head):
        if head[at] != 0xFF:
            break  # not a marker: a broken file, or metadata we misread; size unknown
        marker = head[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        if marker in _JPEG_STANDALONE:
            at += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header before
            break
        (length,) = struct.unpack(">H", head[at + 2 : at + 4])
        if marker in _JPEG_FRAMES:
            if at + 9 > len(head):
                break
            height, width = struct.unpack(">HH", head[at + 5 : at + 9])
            return Sniffed(Format.JPEG, width, height)
        if length < 2:
            break
        at += 2 + length
    return Sniffed(Format.JPEG)


def _riff(head: bytes) -> Sniffed | None:
    """RIFF containers: WAVE audio, or a WebP image whose first chunk says how it is coded."""
    if head[:4] != b"RIFF" or len(head) < 12:
        return None
    form = head[8:12]
    if form == b"WAVE":
        return Sniffed(Format.WAV)
    if form != b"WEBP":
        return None
    chunk = head[12:16]
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a" and len(head) >= 30:
        width, height = struct.unpack("<HH", head[26:30])
        return Sniffed(Format.WEBP, width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L" and head[20:21] == b"\x2f" and len(head) >= 25:
        (bits,) = struct.unpack("<I", head[21:25])
        return Sniffed(Format.WEBP, (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X" and len(head) >= 30:
        width = int.from_bytes(head[24:27], "little") + 1
        height = int.from_bytes(head[27:30], "little") + 1
        return Sniffed(Format.WEBP, width, height)
    return None


# -- video (and the image and audio formats that share its container) --------------------

_BRANDS: dict[bytes, Format] = {
    b"qt  ": Format.MOV,
    **dict.fromkeys(
        (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"), Format.HEIC
    ),
    **dict.fromkeys((b"avif", b"avis"), Format.AVIF),
    **dict.fromkeys((b"M4A ", b"M4B ", b"M4P "), Format.M4A),
}
# Old QuickTime files have no ftyp box and start with one of these.
_QUICKTIME_FIRST_BOXES = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})


def _iso_media(head: bytes) -> Sniffed | None:
    """MP4 and MOV (and HEIC, AVIF, M4A): an ``ftyp`` box first, whose major brand says which."""
    if len(head) < 12:
        return None
    (size,) = struct.unpack(">I", head[:4])
    box = head[4:8]
    if box == b"ftyp" and (size >= 12 or size in (0, 1)):
        return Sniffed(_BRANDS.get(head[8:12], Format.MP4))
    if box in _QUICKTIME_FIRST_BOXES and size >= 8:
        return Sniffed(Format.MOV)
    return None


# -- audio -------------------------------------------------------------------------------


def _mp3(head: bytes) -> Sniffed | None:
    """An ID3v2 tag, or an MPEG audio Layer III frame header (a sync word and valid fields)."""
    if head[:3] == b"ID3" and len(head) >= 10 and head[3] in (2, 3, 4):
        if all(byte < 0x80 for byte in head[6:10]):  # the tag size is "synchsafe"
            return Sniffed(Format.MP3)
        return None
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, sample_rate = head[2] >> 4, (head[2] >> 2) & 3
    if version != 1 and layer == 1 and bitrate not in (0, 15) and sample_rate != 3:
        return Sniffed(Format.MP3)
    return None


_SIGNATURES: tuple[tuple[bytes, Format], ...] = (
    (b"GIF87a", Format.GIF),
    (b"GIF89a", Format.GIF),
    (b"\x1a\x45\xdf\xa3", Format.WEBM),  # Matroska / WebM
    (b"OggS", Format.OGG),
    (b"fLaC", Format.FLAC),
)


def _simple(head: bytes) -> Sniffed | None:
    """Formats the provider does not take, known by a fixed signature."""
    for signature, found in _SIGNATURES:
        if head.startswith(signature):
            return Sniffed(found)
    return None
