"""Does a long call stay flat? One stream of a two-speaker call, looped to `--hours`, through the
real session and models on the virtual clock (`streamer.tools.simulation`): every simulated
minute, the process RSS, the work that minute of audio took (models, and the session's own),
and the speaker labels sent.

    nice -n 19 .venv/bin/python load_tests/soak.py --hours 3 --json soak.json --plot soak.png

The call is pyannote.audio's telephone sample (30 s, two speakers) unless a file is given; it
is looped chunk by chunk, so the run never holds more than a minute of it. Prints one row per
minute: RSS (it should stop rising after the first minutes), the CPU seconds the models and
the session took for that minute of audio (CPU time of the process, so other work on the
machine neither inflates them nor makes the stream fall behind), how far the decodes ran
behind the audio, and the labels sent so far (more than the call's two: a voice was split).
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from streamer.api.inference import StreamingInference
from streamer.config import settings_from_env
from streamer.core.arrays import Float32Array
from streamer.core.audio import MODEL_SAMPLE_RATE
from streamer.files.media import decode_file
from streamer.models.loader import load_models
from streamer.models.manifest import package_file
from streamer.streaming.config import StreamConfig
from streamer.streaming.events import SessionEvent, SpeakerRevision, TurnUpdate
from streamer.tools.simulation import SimulatedStream

MINUTE = 60 * MODEL_SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class Minute:
    minute: int
    rss_mb: float
    compute_s: float
    """model compute this minute of audio took (seconds per audio minute)"""
    session_s: float
    """the session's own work that minute (a server does it on its event loop)"""
    lag_s: float
    """how far the decodes ran behind the audio at the minute's end: a stream that falls
    behind queues its decodes, and the memory it measures is then that queue's"""
    labels: int
    """distinct speaker labels sent so far"""
    turns: int
    """final turns sent so far"""


def rss_mb() -> float:
    """The process's resident memory now (VmRSS), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def looped(audio: Float32Array, start: int, length: int) -> Float32Array:
    """Samples [start, start + length) of `audio` repeated without end."""
    return audio[np.arange(start, start + length) % len(audio)]


def labels_of(event: SessionEvent) -> set[str]:
    if isinstance(event, TurnUpdate):
        words = event.words
    elif isinstance(event, SpeakerRevision):
        words = tuple(w for turn in event.turns for w in turn.words)
    else:
        return set()
    return {w.speaker for w in words if w.speaker is not None}


def soak(
    stream: SimulatedStream, audio: Float32Array, minutes: int
) -> tuple[list[Minute], dict[str, float]]:
    """Feed `minutes` of looped `audio`, a minute at a time; the rows, and the call minute each
    label was first sent at."""
    rows: list[Minute] = []
    first_seen: dict[str, float] = {}
    turns = 0
    print("| minute | RSS MB | model s | session s | lag s | labels | turns |")
    print("|---|---|---|---|---|---|---|")
    for minute in range(1, minutes + 1):
        compute, session = stream.compute_s, stream.session_s
        stream.feed(looped(audio, (minute - 1) * MINUTE, MINUTE))
        if minute == minutes:
            stream.finish()
        for at, event in stream.take_sent():
            for label in labels_of(event):
                first_seen.setdefault(label, round(at / 60, 2))
            turns += isinstance(event, TurnUpdate) and event.end_of_turn
        gc.collect()  # what stays, not what the collector has yet to free
        row = Minute(
            minute,
            rss_mb(),
            stream.compute_s - compute,
            stream.session_s - session,
            stream.lag_s,
            len(first_seen),
            turns,
        )
        rows.append(row)
        print(
            f"| {row.minute} | {row.rss_mb:.1f} | {row.compute_s:.2f} | {row.session_s:.3f} | "
            f"{row.lag_s:.1f} | {row.labels} | {row.turns} |",
            flush=True,
        )
    return rows, first_seen


def plot(rows: list[Minute], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot")
        return
    minutes = [r.minute for r in rows]
    figure, (memory, work) = plt.subplots(2, 1, sharex=True, figsize=(8, 6))
    memory.plot(minutes, [r.rss_mb for r in rows], marker=".")
    memory.set_ylabel("RSS (MB)")
    work.plot(minutes, [r.compute_s for r in rows], marker=".", label="models")
    work.plot(minutes, [r.session_s for r in rows], marker=".", label="session")
    work.set_ylabel("s per audio minute")
    work.legend()
    work.set_xlabel("call minute")
    figure.tight_layout()
    figure.savefig(path)
    print(f"plot: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, nargs="?", help="the call to loop")
    parser.add_argument("--hours", type=float, default=3.0)
    parser.add_argument("--json", type=Path, help="write the rows and first labels here")
    parser.add_argument("--plot", type=Path, help="draw RSS and compute per minute (matplotlib)")
    args = parser.parse_args()
    audio = decode_file(args.file or package_file("pyannote.audio", "sample/sample.wav"))
    inference = StreamingInference(load_models(settings_from_env().with_overrides(asr_workers=1)))
    # CPU time, not wall time: the soak runs niced beside other work, which must not make it
    # fall behind real time (a stream that keeps up is what it measures)
    stream = SimulatedStream(
        inference, StreamConfig(sample_rate=MODEL_SAMPLE_RATE), clock=time.process_time
    )
    started = time.perf_counter()
    try:
        rows, first_seen = soak(stream, audio, max(1, round(args.hours * 60)))
    finally:
        inference.close()
    print(f"first sent (call minute): {first_seen}")
    print(f"wall time {time.perf_counter() - started:.0f} s")
    if args.json:
        report = {"minutes": [asdict(r) for r in rows], "first_seen_min": first_seen}
        args.json.write_text(json.dumps(report, indent=1))
    if args.plot:
        plot(rows, args.plot)


if __name__ == "__main__":
    main()
