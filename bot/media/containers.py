"""Is the whole video there: a video container (MP4/MOV ``ftyp``, WebM/Matroska EBML) whose
structure reaches exactly to the end of the file.

Cheap checks that need no ffmpeg and catch what a download goes wrong with: an HTML or JSON
error page saved under a video's name, and a file cut short (an MP4 box, or a Matroska
segment, that runs past the end of the file).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Literal

from .errors import MediaError

Container = Literal["mp4", "matroska"]

EBML_MAGIC = b"\x1a\x45\xdf\xa3"
EBML_DOCTYPE = 0x4282
MATROSKA_SEGMENT = 0x18538067


def iter_boxes(
    data: bytes, start: int = 0, end: int | None = None
) -> Iterator[tuple[str, int, int, int]]:
    """Yield (type, offset, size, header_size) for the MP4 boxes between ``start`` and ``end``.

    Raises ValueError for a box that runs past ``end`` (a truncated or corrupt file).
    """
    end = len(data) if end is None else end
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:
            if offset + 16 > end:
                raise ValueError(f"corrupt box {kind!r} at {offset}")
            (size,) = struct.unpack_from(">Q", data, offset + 8)
            header = 16
        elif size == 0:
            size = end - offset
        if size < header or offset + size > end:
            raise ValueError(f"corrupt box {kind!r} at {offset}")
        yield kind.decode("latin-1"), offset, size, header
        offset += size


def check_container(data: bytes) -> Container:
    """The container ``data`` is in, or `MediaError` saying what it is instead or where it
    is cut short."""
    if data[4:8] == b"ftyp":
        _check_mp4(data)
        return "mp4"
    if data.startswith(EBML_MAGIC):
        _check_matroska(data)
        return "matroska"
    raise MediaError(_not_a_video(data))


def _not_a_video(data: bytes) -> str:
    if not data:
        return "the file is empty"
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<") and (b"<html" in head or b"<!doctype html" in head):
        return "not a video: an HTML page"
    if head[:1] in (b"{", b"["):
        return "not a video: a JSON document"
    if head.startswith(b"<"):
        return "not a video: an XML or HTML document"
    return "not a video: no MP4, MOV, WebM or Matroska signature"


def _check_mp4(data: bytes) -> None:
    kinds: list[str] = []
    end = 0  # where the last whole box ends
    try:
        for kind, offset, size, _ in iter_boxes(data):
            kinds.append(kind)
            end = offset + size
    except ValueError:
        broken = data[end + 4 : end + 8].decode("latin-1")
        raise MediaError(f"truncated MP4: its {broken!r} box runs past the end") from None
    if end != len(data):
        raise MediaError("truncated MP4: it ends inside a box header")
    for box, holds in (("moov", "the video's index"), ("mdat", "the video's data")):
        if box not in kinds:
            raise MediaError(f"truncated or unfinished MP4: no {box!r} box ({holds})")


def _check_matroska(data: bytes) -> None:
    try:
        _, header_size, header_start = _element(data, 0)
        if header_size is None:
            raise MediaError("corrupt WebM/Matroska: its header has no size")
        doctype = _doctype(data, header_start, header_start + header_size)
        if doctype not in (b"webm", b"matroska"):
            raise MediaError(f"not a video: an EBML file of type {doctype!r}")
        segment_id, segment_size, segment_start = _element(data, header_start + header_size)
    except IndexError:
        raise MediaError("truncated WebM/Matroska: it ends inside its header") from None
    if segment_id != MATROSKA_SEGMENT:
        raise MediaError("corrupt WebM/Matroska: no segment after the header")
    if segment_size is not None and segment_start + segment_size > len(data):
        raise MediaError(
            f"truncated WebM/Matroska: {len(data):,} of {segment_start + segment_size:,} bytes"
        )


def _doctype(data: bytes, start: int, end: int) -> bytes:
    offset = start
    while offset < end:
        element_id, size, body = _element(data, offset)
        if size is None:
            break
        if element_id == EBML_DOCTYPE:
            return data[body : body + size].rstrip(b"\x00")
        offset = body + size
    return b""


def _element(data: bytes, offset: int) -> tuple[int, int | None, int]:
    """(id, size or None when unknown, where the body starts) of the EBML element at offset."""
    id_length = _vint_length(data[offset])
    element_id = int.from_bytes(data[offset : offset + id_length], "big")
    offset += id_length
    size_length = _vint_length(data[offset])
    if offset + size_length > len(data):
        raise IndexError("the element's size runs past the end")
    size = data[offset] & (0xFF >> size_length)
    for byte in data[offset + 1 : offset + size_length]:
        size = size << 8 | byte
    unknown = size == (1 << (7 * size_length)) - 1
    return element_id, None if unknown else size, offset + size_length


def _vint_length(first: int) -> int:
    """An EBML variable-length integer's length, from the leading zeros of its first byte."""
    if first == 0:
        raise MediaError("corrupt WebM/Matroska: an invalid element header")
    return 9 - first.bit_length()
