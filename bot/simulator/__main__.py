"""Run the GMI simulator on its own, so the whole bot can be dry-run without spending credits.

python -m bot.simulator --port 8089
GMI_API_BASE_URL=<printed URL> python -m bot
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import random
import signal

from .app import DEFAULT_MODEL, GMISimulator, Timings
from .media import VideoSpec
from .timings import realistic_timings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot.simulator",
        description="A local stand-in for GMI Cloud's request-queue API (Seedance videos).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument(
        "--api-key", default=None, help="accept only this key (default: accept any key)"
    )
    parser.add_argument("--organization-id", default=None)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--queue-seconds", type=float, default=3.0)
    parser.add_argument("--dispatched-seconds", type=float, default=1.0)
    parser.add_argument("--processing-seconds", type=float, default=10.0)
    parser.add_argument("--url-ttl", type=float, default=3600.0, help="result URLs expire after")
    parser.add_argument("--reject-1080p", action="store_true", help="refuse resolution 1080p")
    parser.add_argument("--max-prompt-chars", type=int, default=5000)
    parser.add_argument(
        "--banned-word",
        action="append",
        default=None,
        help="a prompt containing it gets a content-policy 400 (repeatable; "
        "default: policy-violation)",
    )
    parser.add_argument(
        "--public-origin",
        default=None,
        help="origin put in result URLs, e.g. http://sim:8089 when the bot runs elsewhere",
    )
    parser.add_argument("--max-video-seconds", type=float, default=10.0)
    parser.add_argument(
        "--realistic",
        action="store_true",
        help="draw each request's queue and generation times like real Seedance jobs "
        "(long-tailed queue, 20-150 s in all); overrides the three *-seconds options",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for --realistic timings")
    parser.add_argument(
        "--list-page-size", type=int, default=None, help="answer the list endpoint in pages"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    spec = dataclasses.replace(VideoSpec.dry_run(), max_duration=args.max_video_seconds)
    options = {}
    if args.banned_word:
        options["banned_words"] = args.banned_word
    if args.realistic:
        options["timing_profile"] = realistic_timings(random.Random(args.seed))
    sim = GMISimulator(
        api_key=args.api_key,
        model=args.model,
        timings=Timings(
            queued=args.queue_seconds,
            dispatched=args.dispatched_seconds,
            processing=args.processing_seconds,
        ),
        video=spec,
        organization_id=args.organization_id,
        reject_1080p=args.reject_1080p,
        max_prompt_chars=args.max_prompt_chars,
        url_ttl=args.url_ttl,
        public_origin=args.public_origin,
        list_page_size=args.list_page_size,
        **options,
    )
    await sim.start(host=args.host, port=args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    print(f"GMI simulator serving {args.model} at {sim.base_url}", flush=True)
    print(f"Point the bot at it: GMI_API_BASE_URL={sim.base_url}", flush=True)
    key_note = "only the configured API key" if args.api_key else "any API key"
    print(f"Accepting {key_note}. Ctrl-C to stop.", flush=True)
    print(
        f"Script it over HTTP: POST {sim.base_origin}/_sim/script "
        '{"fail_reason": "..."} | POST /_sim/faults {"call": "get", "status": 429} | '
        "POST /_sim/requests/<id>/cancel | GET /_sim/log",
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        await sim.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
