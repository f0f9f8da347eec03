"""A testing aid: the process kills itself with SIGKILL at a named instant of a job's life.

The chaos suite (``python -m bench.chaos``) proves that a job survives a crash at any
instant; "any instant" includes the awkward ones, which random kills from outside rarely
hit. Each is marked in the code by one `crash_point` call, which does nothing unless the
process was started with ``CHAOS_KILL_AT=<point>[:<n>]`` (`bot.settings`): then the n-th
time (default 1) the named point is reached, the process dies on the spot, as it would
under ``kill -9`` or a power cut, with no cleanup of any kind.

Only ``python -m bot`` arms it (`bot.cli`), never a bot built in a test's own process.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

# Where each sits: the flow that starts a job (cogs/video/flows.py) for the first two, the
# steps (bot/jobs/steps.py) for the next two, delivery (bot/jobs/delivery.py) and the
# status editor (cogs/video/status_edits.py) for the last two.
POINTS = (
    "after_storing",  # the job is stored, the member not answered yet
    "after_status_message",  # the status message is posted, its id not recorded
    "after_submit",  # the provider created the request, its id not recorded
    "after_provider_finished",  # the outcome is recorded, not posted
    "after_posting",  # the result is in the chat, the job not marked delivered
    "during_status_edits",  # a status message was edited, the edit not recorded
)


@dataclass(frozen=True)
class KillAt:
    """``CHAOS_KILL_AT``: die the ``nth`` time ``point`` is reached."""

    point: str
    nth: int = 1

    @classmethod
    def parse(cls, text: str) -> KillAt:
        point, _, nth = text.strip().partition(":")
        if point not in POINTS:
            raise ValueError(f"the point must be one of {', '.join(POINTS)}")
        if nth and not (nth.isdigit() and int(nth) >= 1):
            raise ValueError("the count after ':' must be a whole number, 1 or more")
        return cls(point, int(nth or 1))

    def __str__(self) -> str:
        return f"{self.point}:{self.nth}"


_armed: KillAt | None = None
_reached = 0


def arm(kill_at: KillAt | None) -> None:
    """Set (or, with ``None``, clear) the point this process dies at."""
    global _armed, _reached
    _armed, _reached = kill_at, 0


def crash_point(point: str) -> None:
    """Mark a named instant; SIGKILL this process here if it is the armed one."""
    global _reached
    if _armed is None or point != _armed.point:
        return
    _reached += 1
    if _reached == _armed.nth:
        os.write(2, f"chaos: SIGKILL at {_armed}\n".encode())
        os.kill(os.getpid(), signal.SIGKILL)
