"""How many real-time streams one server holds: N clients stream the same file at once, in real
time, against a running server; each measures, in wall-clock time relative to the audio it has
sent, how late its first partial and its final turns come.

    .venv/bin/streamer serve --port 8000 &
    .venv/bin/python load_tests/concurrent_streams.py ../shared/eval/dev/fisher_sample.wav \\
        --streams 1 2 4 --url ws://127.0.0.1:8000

`--stagger S` starts stream k S*k seconds late, as independent calls would. Prints one row per
stream count: p50 / p95 of "first partial after speech start" and
"final after its last word", seconds. Sends traffic to the given URL only (use loopback).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from urllib.parse import urlencode

from websockets.asyncio.client import connect

from streamer.api.wire import Terminated, read_server_message, terminate_message
from streamer.core.audio import MODEL_SAMPLE_RATE, Float32Array
from streamer.files.media import decode_file
from streamer.streaming.events import SpeechStarted, TurnUpdate
from streamer.tools.figures import percentiles
from streamer.tools.stream_client import file_chunks


async def one_stream(
    url: str, audio: Float32Array, key: str | None, delay_s: float = 0.0
) -> tuple[list[float], list[float]]:
    await asyncio.sleep(delay_s)
    query = urlencode({"sample_rate": MODEL_SAMPLE_RATE})
    headers = {"Authorization": key} if key else {}
    first_partial: list[float] = []
    final_lag: list[float] = []
    async with connect(f"{url}/v3/ws?{query}", additional_headers=headers) as ws:
        await ws.recv()  # Begin
        started = time.monotonic()
        speech_start: list[float] = []  # the k-th SpeechStarted opens turn k
        seen_partial: set[int] = set()

        async def receive() -> None:
            async for raw in ws:
                now = time.monotonic() - started
                message = read_server_message(json.loads(raw))
                if isinstance(message, SpeechStarted):
                    speech_start.append(message.timestamp_ms / 1000)
                elif isinstance(message, TurnUpdate) and message.words:
                    order = message.turn_order
                    if not message.end_of_turn and order not in seen_partial:
                        seen_partial.add(order)
                        if order < len(speech_start):
                            first_partial.append(now - speech_start[order])
                    if message.end_of_turn:
                        final_lag.append(now - message.words[-1].end_ms / 1000)
                elif isinstance(message, Terminated):
                    return

        receiver = asyncio.create_task(receive())
        async for chunk in file_chunks(audio, speed=1.0):  # each chunk once it was spoken
            await ws.send(chunk)
        await ws.send(json.dumps(terminate_message()))
        await asyncio.wait_for(receiver, timeout=120)
    return first_partial, final_lag


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--url", default="ws://127.0.0.1:8000")
    parser.add_argument("--api-key")
    parser.add_argument(
        "--stagger",
        type=float,
        default=0.0,
        help="start stream k this many seconds times k late (0: all at once, so every turn "
        "of every stream ends at the same moment: the worst case)",
    )
    args = parser.parse_args()
    audio = decode_file(args.file)
    print("| streams | first partial after speech start (s) | final after last word (s) |")
    print("|---|---|---|")
    for count in args.streams:
        results = await asyncio.gather(
            *(one_stream(args.url, audio, args.api_key, k * args.stagger) for k in range(count))
        )
        partials = [v for r in results for v in r[0]]
        finals = [v for r in results for v in r[1]]
        print(f"| {count} | {percentiles(partials)} | {percentiles(finals)} |")


if __name__ == "__main__":
    asyncio.run(main())
