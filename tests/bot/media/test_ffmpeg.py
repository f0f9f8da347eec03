"""The ffmpeg runner: timeouts, cancellation, the bound on processes, bounded stderr, and
no temporary file left behind. A shell script stands in for ffmpeg where ffmpeg's own work
doesn't matter."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import pytest

from bot.media import FFmpeg, MediaError, last_frame, probe
from bot.media.ffmpeg import STDERR_LIMIT
from bot.simulator import RenderSpec


def fake_ffmpeg(tmp_path: Path, body: str) -> str:
    script = tmp_path / "ffmpeg"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def pid_in(pid_file: Path) -> int | None:
    text = pid_file.read_text().strip() if pid_file.exists() else ""
    return int(text) if text else None


async def started_pid(pid_file: Path) -> int:
    """The fake ffmpeg's pid, once it has written it (within 10 s)."""
    async with asyncio.timeout(10):
        while True:
            if (pid := await asyncio.to_thread(pid_in, pid_file)) is not None:
                return pid
            await asyncio.sleep(0.01)


async def test_a_run_over_its_timeout_is_killed(tmp_path):
    pid_file = tmp_path / "pid"
    ffmpeg = FFmpeg(fake_ffmpeg(tmp_path, f"echo $$ > {pid_file}; exec sleep 30"))

    with pytest.raises(MediaError, match="took longer than 0.5 s"):
        await ffmpeg.run([], cwd=tmp_path, timeout=0.5)

    assert not alive(await started_pid(pid_file))


async def test_cancelling_the_caller_kills_ffmpeg(tmp_path):
    pid_file = tmp_path / "pid"
    ffmpeg = FFmpeg(fake_ffmpeg(tmp_path, f"echo $$ > {pid_file}; exec sleep 30"))
    run = asyncio.create_task(ffmpeg.run([], cwd=tmp_path, timeout=60))
    pid = await started_pid(pid_file)

    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run

    assert not alive(pid)


async def test_no_more_than_max_processes_run_at_once(tmp_path):
    log = tmp_path / "log"
    ffmpeg = FFmpeg(
        fake_ffmpeg(tmp_path, f"echo start >> {log}; sleep 0.2; echo end >> {log}"),
        max_processes=2,
    )

    await asyncio.gather(*(ffmpeg.run([], cwd=tmp_path, timeout=30) for _ in range(5)))

    running, most = 0, 0
    for line in log.read_text().split():
        running += 1 if line == "start" else -1
        most = max(most, running)
    assert most == 2


async def test_stderr_is_kept_to_a_bounded_head(tmp_path):
    ffmpeg = FFmpeg(fake_ffmpeg(tmp_path, "head -c 2000000 /dev/zero | tr '\\0' x >&2; exit 3"))
    finished = await ffmpeg.run([], cwd=tmp_path, timeout=30)
    assert (finished.returncode, len(finished.log)) == (3, STDERR_LIMIT)


async def test_a_failed_run_is_one_media_error_with_ffmpegs_first_error(tmp_path):
    messages = [
        "[info] Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'in':",
        "[h264 @ 0x5a] [error] Invalid NAL unit size (0 > 2153).",
        "[vf#0:0 @ 0x5b] [error] Task finished with error code: -22 (Invalid argument)",
        "[fatal] Conversion failed!",
    ]
    printf = "printf '%s\\n' " + " ".join(f'"{line}"' for line in messages)
    ffmpeg = FFmpeg(fake_ffmpeg(tmp_path, f"{printf} >&2; exit 1"))
    with pytest.raises(MediaError) as raised:
        await ffmpeg.check([], cwd=tmp_path, timeout=30, what="reading")
    assert raised.value.reason == "reading failed: Invalid NAL unit size (0 > 2153)."


async def test_no_temporary_file_outlives_a_call(ffmpeg, renderer, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    clip = await renderer.video(RenderSpec(160, 90, 12, 1.0, audio=True))
    await probe(ffmpeg, clip)
    await last_frame(ffmpeg, clip)
    with pytest.raises(MediaError):
        await last_frame(ffmpeg, clip[:-100])  # truncated: refused before any ffmpeg
    broken = bytearray(clip)
    media = broken.find(b"mdat") + 4
    broken[media:] = bytes(len(broken) - media)  # a valid layout, nothing decodable
    with pytest.raises(MediaError, match="failed"):
        await last_frame(ffmpeg, bytes(broken))
    assert list(tmp_path.iterdir()) == []
