"""`streamer stream FILE | --mic`: send a file (at real-time pace) or the microphone to
`/v3/ws` and show live captions.

Partials are shown in grey on one line that is rewritten as they change; each final turn is
printed as "A: words"; a SpeakerRevision reprints the turns it changes. At the end the whole
transcript, revisions applied, is printed again.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import urlencode

import numpy as np
from websockets.asyncio.client import connect

from streamer.api.wire import (
    Begun,
    Refused,
    ServerMessage,
    Terminated,
    read_server_message,
    terminate_message,
)
from streamer.core.arrays import Float32Array
from streamer.core.audio import MODEL_SAMPLE_RATE, float_to_pcm_s16le
from streamer.core.words import Word
from streamer.streaming.events import HeldTranscript, SpeakerRevision, TurnUpdate

CHUNK_S = 0.1
MIC_QUEUE_CHUNKS = 50
"""5 s of microphone audio may wait for the network; older chunks are dropped beyond that"""
GREY, RESET, CLEAR_LINE = "\x1b[90m", "\x1b[0m", "\r\x1b[K"


@dataclass(slots=True)
class Captions:
    """What the client holds (final turns, revisions applied) and shows."""

    out: TextIO
    colour: bool
    held: HeldTranscript = field(default_factory=HeldTranscript)
    partial_shown: bool = False

    def handle(self, message: ServerMessage) -> None:
        if isinstance(message, Refused):
            self._line(f"error: {message.error}")
            return
        event = message
        if isinstance(event, TurnUpdate) and not event.end_of_turn:
            self._partial(event.words)
        elif isinstance(event, TurnUpdate | SpeakerRevision):
            for order in self.held.apply(event):
                prefix = "" if isinstance(event, TurnUpdate) else f"(revised turn {order}) "
                self._line(prefix + self._render(self.held.turns[order]))

    def _partial(self, words: tuple[Word, ...]) -> None:
        text = self._render(words)
        if not text:
            return
        if self.colour:
            self.out.write(f"{CLEAR_LINE}{GREY}{text}{RESET}")
            self.partial_shown = True
        else:
            self.out.write(f"... {text}\n")
        self.out.flush()

    def _line(self, text: str) -> None:
        prefix = CLEAR_LINE if self.partial_shown else ""
        self.partial_shown = False
        self.out.write(f"{prefix}{text}\n")
        self.out.flush()

    @staticmethod
    def _render(words: tuple[Word, ...]) -> str:
        parts: list[str] = []
        speaker = None
        for word in words:
            if word.speaker != speaker:
                speaker = word.speaker
                parts.append(f"{speaker}:" if speaker else "")
            parts.append(word.text)
        return " ".join(p for p in parts if p)

    def transcript(self) -> str:
        turns = self.held.turns
        return "\n".join(self._render(turns[order]) for order in sorted(turns))


async def file_chunks(audio: Float32Array, speed: float) -> AsyncIterator[bytes]:
    """16 kHz `audio` as pcm_s16le chunks, paced as if spoken (`speed` times faster): each
    chunk comes once its last sample has been spoken, as from a microphone, by a clock that
    started at the first call (so latencies measured against it are not flattered)."""
    step = round(CHUNK_S * MODEL_SAMPLE_RATE)
    # whole chunks only: the protocol refuses chunks under 50 ms, so pad the tail
    audio = np.pad(audio, (0, -len(audio) % step))
    started = time.monotonic()
    for index, start in enumerate(range(0, len(audio), step)):
        spoken_at = started + (index + 1) * CHUNK_S / speed
        await asyncio.sleep(max(0.0, spoken_at - time.monotonic()))
        yield float_to_pcm_s16le(audio[start : start + step])


def microphone_chunks(device: str | None) -> AsyncIterator[bytes]:
    """The default (or named) input device as 16 kHz pcm_s16le chunks, until interrupted.
    Needs the `mic` extra (sounddevice) and PortAudio; says so at once when they are missing."""
    try:
        import sounddevice
    except (ImportError, OSError) as error:
        raise RuntimeError(f"--mic needs the mic extra and PortAudio ({error})") from error
    return _capture(sounddevice, device)


async def _capture(sounddevice: Any, device: str | None) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes] = asyncio.Queue(maxsize=MIC_QUEUE_CHUNKS)

    def captured(data: Any, _frames: int, _time: Any, _status: Any) -> None:
        chunk = bytes(data)
        loop.call_soon_threadsafe(_offer, chunks, chunk)

    stream = sounddevice.RawInputStream(
        samplerate=MODEL_SAMPLE_RATE,
        blocksize=round(CHUNK_S * MODEL_SAMPLE_RATE),
        device=device,
        channels=1,
        dtype="int16",
        callback=captured,
    )
    with stream:
        while True:
            yield await chunks.get()


def _offer(chunks: asyncio.Queue[bytes], chunk: bytes) -> None:
    """Drop the oldest chunk rather than grow without bound if the network stalls."""
    if chunks.full():
        chunks.get_nowait()
    chunks.put_nowait(chunk)


async def stream_audio(
    url: str, chunks: AsyncIterator[bytes], api_key: str | None, captions: Captions
) -> Terminated | None:
    """Send 16 kHz pcm_s16le chunks until they end; the server's Termination (None if the
    server closed the session without one)."""
    query = urlencode({"sample_rate": MODEL_SAMPLE_RATE, "encoding": "pcm_s16le"})
    headers = {"Authorization": api_key} if api_key else {}
    async with connect(f"{url}/v3/ws?{query}", additional_headers=headers) as ws:
        begin = json.loads(await ws.recv())
        if not isinstance(read_server_message(begin), Begun):
            raise RuntimeError(f"server said {begin}")
        termination: list[Terminated] = []

        async def receive() -> None:
            async for raw in ws:
                message = read_server_message(json.loads(raw))
                if isinstance(message, Terminated):
                    termination.append(message)
                    return
                if message is not None:
                    captions.handle(message)

        receiver = asyncio.create_task(receive())
        try:
            async for chunk in chunks:
                await ws.send(chunk)
        except asyncio.CancelledError:
            pass  # Ctrl-C on the microphone: finish the session properly
        await ws.send(json.dumps(terminate_message()))
        await receiver
        return termination[0] if termination else None


def run(url: str, chunks: AsyncIterator[bytes], api_key: str | None) -> int:
    captions = Captions(out=sys.stdout, colour=sys.stdout.isatty())
    try:
        termination = asyncio.run(stream_audio(url, chunks, api_key, captions))
    except KeyboardInterrupt:
        termination = None
    print("\n--- transcript ---")
    print(captions.transcript())
    heard = termination.audio_duration_s if termination is not None else None
    print(f"--- {heard} s of audio ---")
    return 0
