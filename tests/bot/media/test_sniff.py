"""What a file really is, from its first bytes: against files a real encoder wrote, against
the test builders, and against the lies and breakage members upload."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.media.ffmpeg import ffmpeg_exe
from bot.media.sniff import HEAD_BYTES, Format, Sniffed, sniff
from tests.support import sample_files

# Output name -> (its ffmpeg arguments, before the name; what sniff must say).
ENCODED: dict[str, tuple[list[str], Sniffed]] = {
    "a.png": (["-map", "0:v", "-frames:v", "1"], Sniffed(Format.PNG, 640, 360)),
    "a.jpg": (["-map", "0:v", "-frames:v", "1"], Sniffed(Format.JPEG, 640, 360)),
    "lossy.webp": (["-map", "0:v", "-frames:v", "1"], Sniffed(Format.WEBP, 640, 360)),
    "lossless.webp": (
        ["-map", "0:v", "-frames:v", "1", "-lossless", "1"], Sniffed(Format.WEBP, 640, 360)
    ),
    "alpha.webp": (["-map", "2:v", "-frames:v", "1"], Sniffed(Format.WEBP, 640, 360)),
    "a.gif": (["-map", "0:v", "-frames:v", "1"], Sniffed(Format.GIF)),
    "a.mp4": (["-map", "0:v", "-map", "1:a"], Sniffed(Format.MP4)),
    "a.mov": (["-map", "0:v", "-map", "1:a"], Sniffed(Format.MOV)),
    "a.webm": (["-map", "0:v", "-map", "1:a"], Sniffed(Format.WEBM)),
    "tagged.mp3": (["-map", "1:a"], Sniffed(Format.MP3)),
    "bare.mp3": (["-map", "1:a", "-write_xing", "0", "-id3v2_version", "0"], Sniffed(Format.MP3)),
    "a.wav": (["-map", "1:a"], Sniffed(Format.WAV)),
    "a.flac": (["-map", "1:a"], Sniffed(Format.FLAC)),
    "a.ogg": (["-map", "1:a"], Sniffed(Format.OGG)),
    "a.m4a": (["-map", "1:a"], Sniffed(Format.M4A)),
}


@pytest.fixture(scope="module")
def real_files(tmp_path_factory) -> dict[str, bytes]:
    """Every file in ENCODED, written by one ffmpeg run (about half a second)."""
    folder: Path = tmp_path_factory.mktemp("encoded")
    command = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", "testsrc=size=640x360:duration=1:rate=12",
        "-f", "lavfi", "-i", "sine=duration=1",
        "-f", "lavfi", "-i", "color=c=red@0.5:size=640x360,format=rgba",
    ]
    for name, (arguments, _) in ENCODED.items():
        command += [*arguments, str(folder / name)]
    subprocess.run(command, check=True, timeout=60, capture_output=True)
    return {name: (folder / name).read_bytes() for name in ENCODED}


@pytest.mark.parametrize("name", sorted(ENCODED))
def test_files_an_encoder_wrote_are_recognised_with_their_size(real_files, name):
    assert sniff(real_files[name][:HEAD_BYTES]) == ENCODED[name][1]


def test_each_webp_coding_is_read(real_files):
    chunks = {real_files[n][12:16] for n in ("lossy.webp", "lossless.webp", "alpha.webp")}
    assert chunks == {b"VP8 ", b"VP8L", b"VP8X"}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (sample_files.png(1000, 500), Sniffed(Format.PNG, 1000, 500)),
        (sample_files.jpeg(4000, 3000), Sniffed(Format.JPEG, 4000, 3000)),
        (sample_files.webp(16383, 1), Sniffed(Format.WEBP, 16383, 1)),
        (sample_files.mp4(), Sniffed(Format.MP4)),
        (sample_files.mov(), Sniffed(Format.MOV)),
        (sample_files.mp3(), Sniffed(Format.MP3)),
        (sample_files.wav(), Sniffed(Format.WAV)),
        (sample_files.mp4(b"heic"), Sniffed(Format.HEIC)),
        (sample_files.mp4(b"avif"), Sniffed(Format.AVIF)),
        (b"\0\0\0\x08moov" + b"\0" * 8, Sniffed(Format.MOV)),  # QuickTime before ftyp
    ],
)
def test_the_builders_write_what_they_say(data, expected):
    assert sniff(data) == expected


def test_a_jpeg_size_is_found_behind_its_metadata_within_the_head():
    assert sniff(sample_files.jpeg(800, 600, metadata=60_000)[:HEAD_BYTES]) == Sniffed(
        Format.JPEG, 800, 600
    )
    # Further in, it is still a JPEG, of a size the bot can't know from the head.
    assert sniff(sample_files.jpeg(800, 600, metadata=200_000)[:HEAD_BYTES]) == Sniffed(Format.JPEG)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"just some text, named frame.png",
        b"<html><body>404</body></html>",
        b"\x89PNG\r\n\x1a\n" + b"\0" * 64,  # a signature, but no IHDR
        sample_files.png()[:20],  # cut inside the IHDR
        b"RIFF\0\0\0\0AVI LIST",
        b"RIFF\0\0\0\0WEBPJUNK" + b"\0" * 20,
        b"\xff\xff\xff\xff" * 4,  # a sync word with a bad bitrate: not MP3
        b"\xff\xf1\x50\x80" * 4,  # ADTS AAC: a sync word, but not Layer III
        b"ID3\x04\0\0\x80\0\0\0",  # an ID3 size that isn't synchsafe
        b"\0\0\0\x04ftyp",  # a box too small to hold a brand
    ],
)
def test_what_is_no_known_format_is_none(data):
    assert sniff(data) is None
