"""Play recordings to the Twilio bridge as Twilio Media Streams sends a call, and print what
the bridge makes of it, as a subscriber of the call sees it.

    .venv/bin/python clients/twilio/replay.py tests/data/ami_trn03.flac
    .venv/bin/python clients/twilio/replay.py caller.wav --outbound agent.wav \\
        --param inbound_name=Caller --param outbound_name=Agent --speed 2

One file is one track (mixed audio: the bridge finds the speakers, A, B, ...); with
`--outbound`, the call has two tracks and each is named by its party. The messages are the
ones Twilio documents: `connected`, `start` (with the `--param`s as `customParameters`),
`media` every 20 ms per track (base64 mu-law at 8 kHz, tracks interleaved by timestamp),
and `stop`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import time
import uuid
from itertools import count
from typing import Any
from urllib.parse import urlencode

import soxr
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from streamer.core.audio import MODEL_SAMPLE_RATE, float_to_pcm_s16le, pcm_s16le_to_mulaw
from streamer.files.media import decode_file

CHUNK_BYTES = 160
"""20 ms of 8 kHz mu-law: what one Twilio `media` message holds."""


def mulaw_8k(path: str) -> bytes:
    """A recording as Twilio streams it: 8 kHz mono mu-law."""
    audio = soxr.resample(decode_file(path), MODEL_SAMPLE_RATE, 8000)
    return pcm_s16le_to_mulaw(float_to_pcm_s16le(audio))


def media_stream(
    tracks: dict[str, bytes],
    parameters: dict[str, str],
    stream_sid: str,
    call_sid: str,
    mark_ms: int | None = None,
) -> list[tuple[int, str]]:
    """The messages Twilio sends for a call whose `tracks` ("inbound", "outbound") hold
    this mu-law audio, each with the stream time (ms) it goes at; a `mark` (the echo of one a
    bidirectional stream sent) at `mark_ms`."""
    account_sid = "AC" + "0" * 32
    numbers = count(1)

    def message(event: str, **body: Any) -> str:
        number = str(next(numbers))
        return json.dumps(
            {"event": event, "sequenceNumber": number, "streamSid": stream_sid, **body}
        )

    start = {
        "accountSid": account_sid,
        "streamSid": stream_sid,
        "callSid": call_sid,
        "tracks": list(tracks),
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        "customParameters": parameters,
    }
    messages = [
        (0, json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})),
        (0, message("start", start=start)),
    ]
    length = max(len(audio) for audio in tracks.values())
    for chunk, offset in enumerate(range(0, length, CHUNK_BYTES), start=1):
        at_ms = offset // 8
        for track, audio in tracks.items():
            payload = base64.b64encode(audio[offset : offset + CHUNK_BYTES]).decode()
            media = {"track": track, "chunk": str(chunk), "timestamp": str(at_ms)}
            messages.append((at_ms, message("media", media={**media, "payload": payload})))
        if mark_ms is not None and at_ms <= mark_ms < at_ms + 20:
            messages.append((at_ms, message("mark", mark={"name": "half-way"})))
    stop = {"accountSid": account_sid, "callSid": call_sid}
    messages.append((length // 8, message("stop", stop=stop)))
    return messages


async def play(url: str, messages: list[tuple[int, str]], speed: float) -> int:
    """Send `messages` at their times, `speed` times faster than real time; the code the
    bridge closed with (it sends Twilio nothing)."""
    async with connect(url) as ws:
        began = time.monotonic()
        for at_ms, text in messages:
            ahead_s = began + at_ms / 1000 / speed - time.monotonic()
            if ahead_s > 0:
                await asyncio.sleep(ahead_s)
            await ws.send(text)
        try:
            while True:
                await ws.recv()
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else 1006


def by_speaker(words: list[dict[str, Any]]) -> str:
    """A turn's words as runs of one speaker each: "A: words  B: words"."""
    runs: list[tuple[str, list[str]]] = []
    for word in words:
        speaker = word.get("speaker", "?")
        if not runs or runs[-1][0] != speaker:
            runs.append((speaker, []))
        runs[-1][1].append(word["text"])
    return "  ".join(f"{speaker}: {' '.join(texts)}" for speaker, texts in runs)


def show(message: dict[str, Any]) -> None:
    kind = message["type"]
    if kind == "Begin":
        print(f"call {message['call_sid']}, channels {message['channels']}")
    elif kind == "Turn" and message["end_of_turn"] and message["words"]:
        print(f"[{message['channel']}] {by_speaker(message['words'])}")
    elif kind == "SpeakerRevision":
        for turn in message["revisions"]:
            where = f"{message['channel']} turn {turn['turn_order']}"
            print(f"(revised {where}) {by_speaker(turn['words'])}")
    elif kind == "Termination":
        print(f"ended ({message['close_code']}): {message['audio_duration_seconds']} s of audio")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inbound", help="the inbound track (or the whole call, mixed)")
    parser.add_argument("--outbound", help="the outbound track: two channels")
    parser.add_argument("--server", default="ws://127.0.0.1:8000")
    parser.add_argument("--api-key", help="sent as the `token` parameter")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--speed", type=float, default=1.0)
    args = parser.parse_args()
    parameters = dict(p.split("=", 1) for p in args.param)
    if args.api_key:
        parameters["token"] = args.api_key
    tracks = {"inbound": mulaw_8k(args.inbound)}
    if args.outbound:
        tracks["outbound"] = mulaw_8k(args.outbound)
    stream_sid, call_sid = "MZ" + uuid.uuid4().hex, "CA" + uuid.uuid4().hex
    query = urlencode({"call_sid": call_sid, **({"token": args.api_key} if args.api_key else {})})
    async with connect(f"{args.server}/twilio/subscribe?{query}") as subscriber:
        messages = media_stream(tracks, parameters, stream_sid, call_sid)
        playing = asyncio.create_task(play(f"{args.server}/twilio", messages, args.speed))
        async for text in subscriber:
            show(json.loads(text))
        code = await playing
    print(f"the bridge closed the stream with {code}")


if __name__ == "__main__":
    asyncio.run(main())
