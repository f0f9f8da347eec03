"""Benchmark: fitting a realistic 15 s 1080p result under Discord's unboosted 10 MiB limit.

    python -m bench.fit [--repeat 5]

The input is the simulator's realistic footage (moving test pattern with temporal grain,
H.264 at the provider-like 8 Mbit/s, AAC audio): genuinely over the limit, and as hard to
compress as its bitrate says. Reports the input, then the fit's min and median wall-clock
time over the runs, the output's size, resolution and bitrate, the CPU time ffmpeg used
(which other work on the machine does not change), and the machine's cores and load (the
wall-clock figures only mean something on an otherwise idle machine). Not part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics

from bot.media import FFmpeg, fit, probe
from bot.simulator.media import MediaRenderer, RenderSpec

LIMIT = 10 * 1024 * 1024
SOURCE = RenderSpec(width=1920, height=1080, fps=24, duration=15.0, audio=True, footage="realistic")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    ffmpeg = FFmpeg()
    renderer = MediaRenderer()
    try:
        source = await renderer.video(SOURCE)
    finally:
        await renderer.close()
    info = await probe(ffmpeg, source)
    print(
        f"cores {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}; input "
        f"{info.width}x{info.height} {info.fps:g} fps {info.duration:g} s {info.video_codec}"
        f"{' + audio' if info.has_audio else ''}, {len(source) / 2**20:.2f} MiB "
        f"({len(source) * 8 / info.duration / 1e6:.2f} Mbit/s); limit {LIMIT / 2**20:g} MiB",
        flush=True,
    )
    times, cpu_times = [], []
    for run in range(1, args.repeat + 1):
        cpu_before = children_cpu_seconds()
        fitted = await fit(ffmpeg, source, LIMIT)
        times.append(fitted.seconds)
        cpu_times.append(children_cpu_seconds() - cpu_before)
        print(
            f"run {run}: {fitted.seconds:.2f} s (ffmpeg CPU {cpu_times[-1]:.1f} s, load "
            f"{os.getloadavg()[0]:.2f}), {fitted.size / 2**20:.2f} MiB, "
            f"{fitted.width}x{fitted.height}, video {fitted.video_bitrate / 1e6:.2f} Mbit/s + "
            f"audio {fitted.audio_bitrate / 1e3:g} kbit/s, {fitted.encodes} second pass(es)",
            flush=True,
        )
    print(
        f"fit: min {min(times):.2f} s, median {statistics.median(times):.2f} s over "
        f"{len(times)} runs; ffmpeg CPU min {min(cpu_times):.1f} s, "
        f"median {statistics.median(cpu_times):.1f} s"
    )


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    asyncio.run(main())
