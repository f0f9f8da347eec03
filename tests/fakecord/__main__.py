"""Run the emulator as its own process, with the default world and the control API.

    python -m tests.fakecord --port 8765 [--token T] [--boost-tier 2] [--no-rate-limits]

Prints one JSON line (API base, gateway URL, control URL, token, ids) and serves until
SIGINT/SIGTERM. Point a bot at it with DISCORD_API_BASE_URL / DISCORD_GATEWAY_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys

from .control import Control, member_json
from .emulator import FakeDiscord
from .seed import seed_default_world


async def serve(args: argparse.Namespace) -> None:
    emu = FakeDiscord(token=args.token, rate_limits=not args.no_rate_limits)
    world = seed_default_world(emu, boost_tier=args.boost_tier)
    emu.extra_routes.extend(Control(emu).routes())
    await emu.start(port=args.port, host=args.host)
    info = {
        "api_base_url": emu.api_base_url, "gateway_url": emu.gateway_url,
        "control_url": emu.base_url + "/_control", "base_url": emu.base_url, "token": emu.token,
        "application_id": str(emu.application_id), "guild_id": str(world.guild.id),
        "channel_id": str(world.channel.id), "thread_id": str(world.thread.id),
        "members": {m.name: member_json(m) for m in (world.alice, world.bob, world.mod, world.owner)},
    }
    print(json.dumps(info), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await emu.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakecord", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--token", default=None, help="the bot token to accept (default: random, printed)")
    parser.add_argument("--boost-tier", type=int, default=0, choices=range(4))
    parser.add_argument("--no-rate-limits", action="store_true",
                        help="answer every request (Discord's rate limits are on by default)")
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
