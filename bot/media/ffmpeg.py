"""Running the bundled ffmpeg (imageio-ffmpeg's static build; there is no system ffmpeg).

Every run is an asyncio subprocess under a timeout, killed if its caller is cancelled, with
its stderr kept to a bounded head; at most ``max_processes`` run at once, because encoding
is CPU-bound and the bot's host has 2 cores. Inputs and outputs go through a scratch
directory that is removed whatever happens, and ffmpeg runs inside it so its messages name
files, not temporary paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import MediaError

log = logging.getLogger(__name__)

STDERR_LIMIT = 64 * 1024  # ffmpeg's header and first errors; the rest is drained unread
REASON_LIMIT = 200  # characters of ffmpeg's own words in a MediaError's reason


def ffmpeg_exe() -> str:
    """The path of the ffmpeg binary inside the imageio-ffmpeg wheel."""
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


@contextlib.contextmanager
def scratch_dir() -> Iterator[Path]:
    """A private temporary directory, removed with everything in it on the way out."""
    with tempfile.TemporaryDirectory(prefix="bot-media-") as name:
        yield Path(name)


async def write_file(path: Path, data: bytes) -> None:
    """Write off the event loop: videos are tens of megabytes."""
    await asyncio.to_thread(path.write_bytes, data)


async def read_file(path: Path) -> bytes:
    return await asyncio.to_thread(path.read_bytes)


@dataclass(frozen=True)
class Finished:
    """What an ffmpeg run left: its exit code and its messages."""

    returncode: int
    log: str  # its first STDERR_LIMIT bytes of messages, as ffmpeg prints them
    first_error: str  # the first message at level "error" or worse, shortened; "" if none

    @property
    def reason(self) -> str:
        """Why it failed, in ffmpeg's words: its first error is the cause, the rest follow."""
        if self.first_error:
            return self.first_error
        lines = [line.strip() for line in self.log.splitlines() if line.strip()]
        return lines[-1][:REASON_LIMIT] if lines else f"exit code {self.returncode}"


# With ``-loglevel level+...`` ffmpeg tags each line: "[h264 @ 0x5a] [error] Invalid data".
_TAGGED = re.compile(
    r"(?P<context>(?:\[[^\]]* @ 0x[0-9a-f]+\] )*)\[(?P<level>[a-z]+)\] (?P<text>.*)"
)
_ERROR_LEVELS = frozenset({"error", "fatal", "panic"})


def _finished(returncode: int, stderr: str) -> Finished:
    lines: list[str] = []
    first_error = ""
    for line in stderr.splitlines():
        tagged = _TAGGED.fullmatch(line)
        if tagged is None:
            lines.append(line)
            continue
        lines.append(tagged["context"] + tagged["text"])
        if not first_error and tagged["level"] in _ERROR_LEVELS:
            first_error = tagged["text"].strip()[:REASON_LIMIT]
    return Finished(returncode, "\n".join(lines), first_error)


class FFmpeg:
    """The ffmpeg the bot runs, with a bound on how many processes run at once.

    Build one per process and share it: the bound is per instance. A run's timeout counts
    the process only, not the wait for a free slot.
    """

    def __init__(self, exe: str | None = None, *, max_processes: int = 2) -> None:
        self._exe = exe
        self._slots = asyncio.Semaphore(max_processes)

    @property
    def exe(self) -> str:
        if self._exe is None:
            self._exe = ffmpeg_exe()
        return self._exe

    async def run(
        self, args: Sequence[str], *, cwd: Path, timeout: float, loglevel: str = "error"
    ) -> Finished:
        """Run ``ffmpeg <args>`` in ``cwd``, printing messages at ``loglevel`` and worse.

        A run that outlives ``timeout`` seconds is killed and raises `MediaError`.
        """
        cmd = [self.exe, "-hide_banner", "-nostdin", "-nostats", "-loglevel", f"level+{loglevel}"]
        cmd += args
        async with self._slots:
            proc = await asyncio.create_subprocess_exec(
                *cmd,
                cwd=cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                async with asyncio.timeout(timeout):
                    stderr = await _bounded_read(proc)
                    returncode = await proc.wait()
            except TimeoutError:
                raise MediaError(f"ffmpeg took longer than {timeout:g} s") from None
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
        return _finished(returncode, stderr)

    async def check(self, args: Sequence[str], *, cwd: Path, timeout: float, what: str) -> None:
        """`run`, raising `MediaError` ("<what> failed: <ffmpeg's reason>") on failure."""
        finished = await self.run(args, cwd=cwd, timeout=timeout)
        if finished.returncode != 0:
            log.debug("ffmpeg %s failed (%d): %s", what, finished.returncode, finished.log)
            raise MediaError(f"{what} failed: {finished.reason}")


async def _bounded_read(proc: asyncio.subprocess.Process) -> str:
    """All of ``proc``'s stderr read, its first `STDERR_LIMIT` bytes kept."""
    assert proc.stderr is not None
    kept = bytearray()
    while chunk := await proc.stderr.read(64 * 1024):
        if len(kept) < STDERR_LIMIT:
            kept += chunk[: STDERR_LIMIT - len(kept)]
    return kept.decode(errors="replace")
