"""The heartbeat file: how a container's health check knows the bot is alive and connected.

The running bot rewrites a small JSON file next to its database every `INTERVAL` seconds
while its Discord connection is open (a stalled event loop or a lost gateway stops the
beats), and marks it ``stopped`` when it shuts down. ``python -m bot healthcheck`` reads it:
healthy means a beat younger than `STALE_AFTER` from a bot that is running. A provider
outage does not make the bot unhealthy (a restart can't fix a key); it is shown, and
``python -m bot doctor`` says more.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bot.markup import plural

INTERVAL = 15.0
STALE_AFTER = 4 * INTERVAL
RUNNING, STOPPING, STOPPED = "running", "stopping", "stopped"


def heartbeat_path(database_path: Path, shard_ids: Sequence[int] = ()) -> Path:
    """Beside the database, on the same persistent volume: ``data/bot.sqlite3`` ->
    ``data/bot.heartbeat``; a process that serves some shards (``SHARD_IDS``) has its own,
    ``data/bot.shards-0-1.heartbeat``, so processes sharing a folder never mix them up."""
    shards = f".shards-{'-'.join(map(str, shard_ids))}" if shard_ids else ""
    return database_path.with_name(f"{database_path.stem}{shards}.heartbeat")


@dataclass(frozen=True)
class Beat:
    at: float  # Unix seconds
    pid: int
    state: str  # RUNNING, STOPPING or STOPPED
    provider: str  # the provider's state (`bot.provider_health.ProviderState`)
    servers: int


def write(path: Path, beat: Beat) -> None:
    """Replace the file atomically, so a reader never sees half a beat."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(asdict(beat)))
    os.replace(temporary, path)


def read(path: Path) -> Beat | None:
    try:
        data = json.loads(path.read_text())
        return Beat(**data)
    except (OSError, ValueError, TypeError):
        return None


def verdict(beat: Beat | None, now: float) -> tuple[bool, str]:
    """(healthy?, one line saying why)."""
    if beat is None:
        return False, "no heartbeat: the bot is not running (or has not connected yet)"
    age = now - beat.at
    if beat.state != RUNNING:
        return False, f"the bot is {beat.state} (pid {beat.pid}, {age:.0f}s ago)"
    if age > STALE_AFTER:
        return False, (
            f"last heartbeat {age:.0f}s ago (more than {STALE_AFTER:.0f}s): the bot is stuck "
            "or has lost its Discord connection"
        )
    return True, (
        f"running (pid {beat.pid}), connected to Discord {age:.0f}s ago, in "
        f"{plural(beat.servers, 'server')}; video provider {beat.provider}"
    )
