"""Memory of a long file: a FLAC of `--hours` of silence with a dev recording at the start of
every `--every` seconds is uploaded to a real server and transcribed, while the server's
memory is sampled; the job's words at each mark are checked against the recording's own.

    .venv/bin/python load_tests/long_file.py --hours 10 --json long_file.json

It starts its own server, open, on a free loopback port. A short job first (the recording
alone) brings the models' first-call buffers in; then the idle RSS, and the peak while the
long job runs. Prints hours, FLAC size, wall time, idle / peak RSS and the words found at
each mark. Sends traffic to loopback only.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import psutil

from streamer.core.arrays import Float32Array
from streamer.core.audio import MODEL_SAMPLE_RATE
from streamer.files.media import decode_file
from streamer.tools.local_server import LocalServer

DEV = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "dev"
BLOCK_S = 60


def write_sparse_flac(path: Path, hours: float, speech: Float32Array, every_s: float) -> Path:
    """16 kHz mono FLAC of `hours` of digital silence with `speech` starting at 0, every_s,
    2 * every_s, ...; written a minute at a time (never held whole)."""
    total = round(hours * 3600 * MODEL_SAMPLE_RATE)
    every = round(every_s * MODEL_SAMPLE_RATE)
    with av.open(str(path), mode="w", format="flac") as container:
        stream = container.add_stream("flac", rate=MODEL_SAMPLE_RATE, layout="mono")
        for start in range(0, total, BLOCK_S * MODEL_SAMPLE_RATE):
            block = np.zeros(min(BLOCK_S * MODEL_SAMPLE_RATE, total - start), dtype=np.float32)
            mark = start // every * every
            for origin in (mark, mark + every):  # the marks that may reach into this block
                a, b = max(start, origin), min(start + len(block), origin + len(speech))
                if a < b:
                    block[a - start : b - start] = speech[a - origin : b - origin]
            pcm = np.round(np.clip(block, -1, 1) * 32767).astype(np.int16)[None, :]
            frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            frame.sample_rate, frame.pts = MODEL_SAMPLE_RATE, start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


@dataclass(frozen=True, slots=True)
class LongFileRun:
    hours: float
    flac_mb: float
    wall_s: float
    idle_rss_mb: float
    peak_rss_mb: float
    words_per_mark: list[int]
    """words of the long job that start within the recording's span after each mark"""
    words_alone: int
    """words of the recording transcribed on its own"""
    speakers: list[str]

    @property
    def growth_mb(self) -> float:
        return self.peak_rss_mb - self.idle_rss_mb


def transcribe(client: httpx.Client, audio: Path) -> dict[str, Any]:
    upload = client.post("/v2/upload", content=audio.read_bytes()).json()["upload_url"]
    job = client.post("/v2/transcript", json={"audio_url": upload, "speaker_labels": True})
    job.raise_for_status()
    while True:
        body: dict[str, Any] = client.get(f"/v2/transcript/{job.json()['id']}").json()
        if body["status"] in ("completed", "error"):
            return body
        time.sleep(0.5)


def run(server: LocalServer, hours: float, every_s: float, recording: Path) -> LongFileRun:
    speech = decode_file(recording)
    with (
        tempfile.TemporaryDirectory() as scratch,
        httpx.Client(base_url=server.url, timeout=600) as client,
    ):
        long = write_sparse_flac(Path(scratch) / "long.flac", hours, speech, every_s)
        alone = transcribe(client, recording)  # the models' first-call buffers come in
        process = psutil.Process(server.process.pid)
        idle = peak = process.memory_info().rss / 2**20
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(0.25):
                peak = max(peak, process.memory_info().rss / 2**20)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.monotonic()
        body = transcribe(client, long)
        wall_s = time.monotonic() - started
        done.set()
        sampler.join()
        if body["status"] != "completed":
            raise RuntimeError(f"the long job failed: {body.get('error')}")
        span_ms = len(speech) * 1000 // MODEL_SAMPLE_RATE
        marks = range(0, round(hours * 3600 * 1000), round(every_s * 1000))
        words = body["words"]
        return LongFileRun(
            hours=hours,
            flac_mb=round(long.stat().st_size / 2**20, 2),
            wall_s=round(wall_s, 1),
            idle_rss_mb=round(idle, 1),
            peak_rss_mb=round(peak, 1),
            words_per_mark=[sum(m <= w["start"] < m + span_ms for w in words) for m in marks],
            words_alone=len(alone["words"]),
            speakers=sorted({str(w["speaker"]) for w in words}),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=3600.0, help="seconds between marks")
    parser.add_argument("--recording", type=Path, default=DEV / "ami_trn03.wav")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with LocalServer({"STREAMER_API_KEYS": "", "STREAMER_MAX_UPLOAD_BYTES": str(2**31)}) as server:
        result = run(server, args.hours, args.every, args.recording)
    print(
        f"{result.hours:g} h ({result.flac_mb} MB of FLAC) transcribed in {result.wall_s} s: "
        f"RSS {result.idle_rss_mb} MB idle, {result.peak_rss_mb} MB at its peak "
        f"(+{result.growth_mb:.1f} MB); words at each mark {result.words_per_mark} "
        f"(the recording alone: {result.words_alone}); speakers {result.speakers}"
    )
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=2))


if __name__ == "__main__":
    main()
