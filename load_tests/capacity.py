"""How many live streams one server holds: ramp N concurrent real-time `/v3/ws` sessions and
report, for each N, the latencies a caller feels and what the server spent.

    .venv/bin/python load_tests/capacity.py --streams 1 2 4 6 8 12 \\
        --json capacity.json --plot capacity.png

It starts its own server, open, on a free loopback port (`STREAMER_*` variables of this shell pass
through, e.g. `STREAMER_ASR_WORKERS=2 STREAMER_THREADS=1`), so that it can read the server's
CPU time and memory. Stream k starts `--stagger` seconds after stream k-1 and plays
`--seconds` of a dev recording, cycling through a telephone call and a meeting, each as
16 kHz `pcm_s16le` and as 8 kHz `pcm_mulaw`, from a different offset per stream.

For each N: first partial after its turn's speech started, final after the turn's last word
(turns ended by a pause; those the next speaker ended, end-of-turn confidence 1.0, apart: their
final waits for the next speaker's words), word final lag (a word's first final, after it was
spoken), p50 / p95 / p99 in seconds;
partials skipped, errors and close codes; server CPU (cores busy), RSS in all and per session
over the idle server; ASR-worker busy seconds per stream-second (what one stream costs the
workers: 1 / that is how many streams the workers hold, before latency). It prints the
largest N holding p95 first partial <= 0.8 s and p95 final <= 1.5 s with no errors
(1.5 s and 2 s with `--multilingual`).
`--multilingual` streams real Spanish and Swedish speech (`streamer.tools.speech_samples`, each
looped with a 1.5 s pause) with `speech_model=universal-streaming-multilingual`: every
session finds its language and is decoded by Whisper, at Whisper's partial pace.
`--jobs` keeps the job pool busy beside the streams (a dev recording queued as a transcript
whenever fewer than two wait) and reports the audio it transcribed per second.
Sends traffic to loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlencode

import httpx
import numpy as np
import psutil
import soxr
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from streamer.api.wire import Begun, Refused, Terminated, read_server_message, terminate_message
from streamer.core.arrays import Float32Array
from streamer.core.audio import MODEL_SAMPLE_RATE, float_to_pcm_s16le, pcm_s16le_to_mulaw
from streamer.files.media import decode_file
from streamer.streaming.events import SessionEvent
from streamer.streaming.protocol import CloseCode
from streamer.streaming.turns import TurnParams
from streamer.tools.figures import Percentiles, format_percentiles, percentile_figures
from streamer.tools.local_server import LocalServer
from streamer.tools.simulation import StreamStats, measure
from streamer.tools.speech_samples import SPANISH, SWEDISH

DEV = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "dev"
TELEPHONE, MEETING = "fisher_sample.wav", "ami_meeting_a_2min.wav"
TELEPHONE_RATE = 8000
CHUNK_S = 0.1


class Targets(NamedTuple):
    """The p95 latencies (s) a step must keep to hold its streams."""

    first_partial_s: float
    final_s: float


ENGLISH_TARGETS = Targets(first_partial_s=0.8, final_s=1.5)
MULTILINGUAL_TARGETS = Targets(first_partial_s=1.5, final_s=2.0)
"""Whisper's pace: the multilingual streaming targets"""
MULTILINGUAL = (("speech_model", "universal-streaming-multilingual"),)
PAUSE_S = 1.5
PERCENTILES = (50, 95, 99)


@dataclass(frozen=True, slots=True)
class Source:
    name: str
    audio: Float32Array
    """16 kHz"""
    encoding: str
    sample_rate: int
    params: tuple[tuple[str, str], ...] = ()
    """more query parameters of its sessions"""

    def chunks(self, offset_s: float, seconds: float) -> list[bytes]:
        """`seconds` of the recording from `offset_s` on (wrapping), as this source's chunks."""
        start = round(offset_s * MODEL_SAMPLE_RATE) % len(self.audio)
        length = round(seconds * MODEL_SAMPLE_RATE)
        rolled = np.roll(self.audio, -start)
        audio = np.tile(rolled, length // len(rolled) + 1)[:length]
        if self.sample_rate != MODEL_SAMPLE_RATE:
            audio = soxr.resample(audio, MODEL_SAMPLE_RATE, self.sample_rate).astype(np.float32)
        pcm = float_to_pcm_s16le(audio)
        data = pcm_s16le_to_mulaw(pcm) if self.encoding == "pcm_mulaw" else pcm
        step = round(CHUNK_S * self.sample_rate) * (1 if self.encoding == "pcm_mulaw" else 2)
        return [data[i : i + step] for i in range(0, len(data) - step + 1, step)]


@dataclass(slots=True)
class StreamLog:
    source: str
    sent: list[tuple[float, SessionEvent]] = field(default_factory=list)
    """each message as it arrived: seconds on the caller's clock since the audio began"""
    errors: list[str] = field(default_factory=list)
    close_code: int | None = None
    refused: bool = False
    """the server was full: refused with 3009 before the first Turn"""

    def stats(self) -> StreamStats:
        return measure(self.sent, TurnParams().end_of_turn_confidence_threshold)


async def one_stream(url: str, source: Source, offset_s: float, seconds: float) -> StreamLog:
    """One caller: chunks at real time, each sent once it was spoken."""
    log = StreamLog(source.name)
    chunks = source.chunks(offset_s, seconds)
    query = urlencode(
        {"sample_rate": source.sample_rate, "encoding": source.encoding, **dict(source.params)}
    )
    try:
        async with connect(f"{url}/v3/ws?{query}") as ws:
            first = read_server_message(json.loads(await ws.recv()))
            if not isinstance(first, Begun):  # a full server says why, then closes
                _refused(log, first)
                return log
            started = time.monotonic()
            receiver = asyncio.create_task(_receive(ws, started, log))
            for index, chunk in enumerate(chunks):
                await asyncio.sleep(max(0.0, started + (index + 1) * CHUNK_S - time.monotonic()))
                await ws.send(chunk)
            await ws.send(json.dumps(terminate_message()))
            await asyncio.wait_for(receiver, timeout=120)
            log.close_code = ws.close_code
    except ConnectionClosed as error:
        log.refused = log.refused or (
            error.rcvd is not None and error.rcvd.code == CloseCode.TOO_MANY_SESSIONS
        )
        if not log.refused:
            log.errors.append(f"{type(error).__name__}: {error}")
    except (OSError, TimeoutError) as error:
        log.errors.append(f"{type(error).__name__}: {error}")
    return log


def _refused(log: StreamLog, message: object) -> None:
    if isinstance(message, Refused) and message.code == CloseCode.TOO_MANY_SESSIONS:
        log.refused = True
    else:
        log.errors.append(message.error if isinstance(message, Refused) else f"{message}")


async def _receive(ws: ClientConnection, started: float, log: StreamLog) -> None:
    """Every message until Termination; a close is the sender's to report."""
    try:
        async for raw in ws:
            message = read_server_message(json.loads(raw))
            if isinstance(message, Refused):
                _refused(log, message)
            elif isinstance(message, Terminated):
                return
            elif message is not None and not isinstance(message, Begun):
                log.sent.append((time.monotonic() - started, message))
    except ConnectionClosed:
        return


class Server(LocalServer):
    """The server under test, open (no key), with what the harness reads of it."""

    def __init__(self, max_sessions: int) -> None:
        super().__init__({"STREAMER_MAX_SESSIONS": str(max_sessions), "STREAMER_API_KEYS": ""})
        self.ps = psutil.Process(self.process.pid)

    def metrics(self) -> dict[str, float]:
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        values: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                values[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
        return values

    def cpu_s(self) -> float:
        times = self.ps.cpu_times()
        return float(times.user + times.system)

    def rss_mb(self) -> float:
        return float(self.ps.memory_info().rss) / 2**20


@dataclass(frozen=True, slots=True)
class Step:
    """One load level: latencies (seconds) and what the server spent."""

    streams: int
    first_partial_s: Percentiles
    final_s: Percentiles
    """turns ended by a pause"""
    speaker_change_final_s: Percentiles
    """turns the next speaker ended"""
    word_final_lag_s: Percentiles
    partials_skipped: int
    refused: int
    """streams the server refused as full (3009): with `--max-sessions` below the streams"""
    errors: list[str]
    close_codes: dict[str, int]
    server_cores_busy: float
    rss_mb: float
    rss_per_session_mb: float
    asr_busy_per_stream_s: float | None
    vad_busy_per_stream_s: float | None
    asr_batches: int
    asr_rows: int
    job_audio_per_s: float | None
    """audio seconds the job pool transcribed per second of the step (`--jobs`)"""

    def holds(self, targets: Targets) -> bool:
        first, final = self.first_partial_s["p95"], self.final_s["p95"]
        return (
            not self.errors
            and first is not None
            and first <= targets.first_partial_s
            and final is not None
            and final <= targets.final_s
        )

    def row(self) -> str:
        def fmt(value: Percentiles) -> str:
            return format_percentiles(value.values())

        codes = ", ".join(f"{code}: {n}" for code, n in sorted(self.close_codes.items()))
        return (
            f"| {self.streams} | {fmt(self.first_partial_s)} | {fmt(self.final_s)} | "
            f"{fmt(self.speaker_change_final_s)} | "
            f"{fmt(self.word_final_lag_s)} | {self.partials_skipped} | {self.refused} | "
            f"{len(self.errors)} | "
            f"{codes} | {self.server_cores_busy} | {self.rss_mb:.0f} / "
            f"{self.rss_per_session_mb} | {self.asr_busy_per_stream_s} | "
            f"{'-' if self.job_audio_per_s is None else self.job_audio_per_s} |"
        )


class JobLoad:
    """Keeps the server's job pool busy: a recording queued whenever fewer than two wait."""

    def __init__(self, server: Server, files: list[Path]) -> None:
        self._server = server
        self._files = files
        self.audio_s = 0.0
        """audio of the jobs completed so far"""

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(base_url=self._server.url, timeout=60) as client:
            uploads = [
                (await client.post("/v2/upload", content=f.read_bytes())).json()["upload_url"]
                for f in self._files
            ]
            pending: list[str] = []
            queued = 0
            while not stop.is_set():
                while len(pending) < 2:
                    body = {"audio_url": uploads[queued % len(uploads)], "speaker_labels": True}
                    job = (await client.post("/v2/transcript", json=body)).json()
                    pending.append(job["id"])
                    queued += 1
                for job_id in list(pending):
                    job = (await client.get(f"/v2/transcript/{job_id}")).json()
                    if job["status"] in ("completed", "error"):
                        pending.remove(job_id)
                        self.audio_s += job.get("audio_duration") or 0.0
                await asyncio.sleep(0.5)
            for job_id in pending:  # the next step starts with an empty pool
                await client.delete(f"/v2/transcript/{job_id}")


async def run_step(
    server: Server,
    sources: list[Source],
    count: int,
    seconds: float,
    stagger_s: float,
    jobs: JobLoad | None,
) -> Step:
    stop_jobs = asyncio.Event()
    job_task = asyncio.create_task(jobs.run(stop_jobs)) if jobs is not None else None
    job_audio_before = jobs.audio_s if jobs is not None else 0.0
    before, cpu_before, wall_before = server.metrics(), server.cpu_s(), time.monotonic()
    rss_idle = server.rss_mb()
    peak_rss = rss_idle
    sampling = True

    async def sample_rss() -> None:
        nonlocal peak_rss
        while sampling:
            peak_rss = max(peak_rss, server.rss_mb())
            await asyncio.sleep(0.5)

    sampler = asyncio.create_task(sample_rss())

    async def staggered(k: int) -> StreamLog:
        await asyncio.sleep(k * stagger_s)
        return await one_stream(server.ws_url, sources[k % len(sources)], 7.0 * k, seconds)

    logs = await asyncio.gather(*(staggered(k) for k in range(count)))
    sampling = False
    await sampler
    after, cpu_after, wall_after = server.metrics(), server.cpu_s(), time.monotonic()
    job_audio_per_s = None
    if jobs is not None and job_task is not None:
        job_audio_per_s = round((jobs.audio_s - job_audio_before) / (wall_after - wall_before), 2)
        stop_jobs.set()
        await job_task

    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    stream_s = delta("streamer_stream_audio_seconds_total") or float("nan")
    prefix = "streamer_stream_sessions_closed_total{code="
    codes = {
        name.removeprefix(prefix).rstrip("}"): int(delta(name))
        for name in after
        if name.startswith(prefix) and delta(name) > 0
    }
    stats = [log.stats() for log in logs]
    return Step(
        streams=count,
        first_partial_s=percentile_figures(
            [v for s in stats for v in s.first_partial_s], PERCENTILES
        ),
        final_s=percentile_figures([v for s in stats for v in s.final_after_speech_s], PERCENTILES),
        speaker_change_final_s=percentile_figures(
            [v for s in stats for v in s.speaker_change_final_s], PERCENTILES
        ),
        word_final_lag_s=percentile_figures(
            [v for s in stats for v in s.word_final_lag_s], PERCENTILES
        ),
        partials_skipped=int(delta("streamer_stream_partials_skipped_total")),
        refused=sum(log.refused for log in logs),
        errors=[f"{log.source}: {error}" for log in logs for error in log.errors],
        close_codes=codes,
        server_cores_busy=round((cpu_after - cpu_before) / (wall_after - wall_before), 2),
        rss_mb=round(peak_rss, 1),
        rss_per_session_mb=round((peak_rss - rss_idle) / count, 1),
        asr_busy_per_stream_s=round(delta("streamer_asr_busy_seconds_total") / stream_s, 3),
        vad_busy_per_stream_s=round(delta("streamer_vad_busy_seconds_total") / stream_s, 4),
        asr_batches=int(delta("streamer_asr_batch_rows_count")),
        asr_rows=int(delta("streamer_asr_batch_rows_sum")),
        job_audio_per_s=job_audio_per_s,
    )


def plot(steps: list[Step], targets: Targets, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = [step.streams for step in steps]
    figure, axis = plt.subplots(figsize=(7, 4))
    for key, label in (("first_partial_s", "first partial"), ("final_s", "final")):
        for pct, style in (("p50", "-o"), ("p95", "--s")):
            values = [getattr(step, key)[pct] for step in steps]
            axis.plot(counts, values, style, label=f"{label} {pct}")
    axis.axhline(targets.first_partial_s, color="grey", linewidth=0.8, linestyle=":")
    axis.axhline(targets.final_s, color="black", linewidth=0.8, linestyle=":")
    axis.set_xlabel("concurrent real-time streams")
    axis.set_ylabel("seconds after the audio")
    axis.set_title(title)
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def _sources(dev: Path) -> list[Source]:
    """The telephone call and a meeting, each as 16 kHz PCM and as 8 kHz mu-law."""
    telephone, meeting = decode_file(dev / TELEPHONE), decode_file(dev / MEETING)
    return _encodings(("telephone", telephone), ("meeting", meeting), ())


def _multilingual_sources() -> list[Source]:
    """The Spanish reading and the Swedish sentences, each followed by a pause, for the
    multilingual model."""
    pause = np.zeros(round(PAUSE_S * MODEL_SAMPLE_RATE), dtype=np.float32)
    spanish = np.concatenate([decode_file(SPANISH.audio_path()), pause])
    swedish = np.concatenate(
        [part for s in SWEDISH for part in (decode_file(s.audio_path()), pause)]
    )
    return _encodings(("spanish", spanish), ("swedish", swedish), MULTILINGUAL)


def _encodings(
    first: tuple[str, Float32Array],
    second: tuple[str, Float32Array],
    params: tuple[tuple[str, str], ...],
) -> list[Source]:
    """Streams cycle through these: the first recording as 16 kHz PCM, the second as 8 kHz
    mu-law, then the other way round."""
    return [
        Source(f"{first[0]} s16 16k", first[1], "pcm_s16le", MODEL_SAMPLE_RATE, params),
        Source(f"{second[0]} mulaw 8k", second[1], "pcm_mulaw", TELEPHONE_RATE, params),
        Source(f"{first[0]} mulaw 8k", first[1], "pcm_mulaw", TELEPHONE_RATE, params),
        Source(f"{second[0]} s16 16k", second[1], "pcm_s16le", MODEL_SAMPLE_RATE, params),
    ]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 2, 4, 6, 8, 12])
    parser.add_argument("--seconds", type=float, default=60.0, help="audio per stream")
    parser.add_argument("--stagger", type=float, default=1.3, help="seconds between starts")
    parser.add_argument("--jobs", action="store_true", help="keep the job pool busy beside")
    parser.add_argument(
        "--max-sessions",
        type=int,
        help="the server's STREAMER_MAX_SESSIONS (default: the most streams asked for); "
        "below the streams, the rest should be refused (3009) and the admitted hold",
    )
    parser.add_argument(
        "--multilingual",
        action="store_true",
        help="Spanish and Swedish speech to speech_model=universal-streaming-multilingual",
    )
    parser.add_argument("--dev", type=Path, default=DEV, help="the dev recordings")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()
    sources = _multilingual_sources() if args.multilingual else _sources(args.dev)
    settings = {k: v for k, v in sorted(os.environ.items()) if k.startswith("STREAMER_")}
    server = Server(args.max_sessions or max(args.streams))
    try:
        server.wait_ready()
        await one_stream(server.ws_url, sources[0], 0.0, 5.0)  # warm up before measuring
        print(f"server settings: {settings or 'defaults'}; {psutil.cpu_count()} cores")
        print(
            "| streams | first partial p50/95/99 (s) | final p50/95/99 (s) | final at a "
            "speaker change p50/95/99 (s) | word final lag "
            "p50/95/99 (s) | partials skipped | refused | errors | close codes | "
            "server cores busy | RSS MB / per session | ASR busy s per stream-s | "
            "job audio s per s |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        steps: list[Step] = []
        for count in args.streams:
            jobs = JobLoad(server, sorted(args.dev.glob("*.wav"))) if args.jobs else None
            step = await run_step(server, sources, count, args.seconds, args.stagger, jobs)
            steps.append(step)
            print(step.row(), flush=True)
    finally:
        server.stop()
    targets = MULTILINGUAL_TARGETS if args.multilingual else ENGLISH_TARGETS
    held = [step.streams for step in steps if step.holds(targets)]
    print(
        f"largest N holding p95 first partial <= {targets.first_partial_s} s and p95 final "
        f"<= {targets.final_s} s with no errors: {max(held) if held else 'none'}"
    )
    if args.json:
        steps_json = [{**asdict(step), "holds": step.holds(targets)} for step in steps]
        report = {"settings": settings, "cores": psutil.cpu_count(), "steps": steps_json}
        args.json.write_text(json.dumps(report, indent=2))
    if args.plot:
        title = ", ".join(f"{k.removeprefix('STREAMER_')}={v}" for k, v in settings.items())
        plot(steps, targets, args.plot, title or "default settings")


if __name__ == "__main__":
    asyncio.run(main())
