"""Property-based tests (hypothesis) of the sans-I/O streaming path and the protocol checks:
random byte splits and encodings, random VAD, random ForceEndpoint / UpdateConfiguration
orders, decodes answered (in request order, as the shell does) with random words, some
planned as crowded, some partials failing; random text frames and chunk sizes. No exception
may escape; every refusal is a `ProtocolError` with a documented close code; what the
session says stays consistent (each turn a client saw gets one final, in turn order, its
words in time order)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamer.core.audio import VAD_FRAME_SAMPLES
from streamer.core.diarization import FrameGrid
from streamer.core.words import Word
from streamer.streaming.config import StreamConfig
from streamer.streaming.events import TurnUpdate
from streamer.streaming.pieces import Action, DecodeRequest
from streamer.streaming.protocol import (
    BYTES_PER_SAMPLE,
    AudioPace,
    CloseCode,
    ProtocolError,
    check_chunk,
    read_control,
)
from streamer.streaming.session import StreamSession
from streamer.streaming.turns import TurnParams
from tests.unit.windows import window

GRID = FrameGrid(sample_rate=16000, step_samples=270, receptive_field_samples=991)
CASES = 150
"""Examples per property: enough to find a crash in seconds, few enough for `make unit`."""

audio = st.tuples(
    st.just("audio"),
    st.integers(0, 96_000),
    st.one_of(st.sampled_from([0.95, 0.95, 0.0, 0.6]), st.floats(0.0, 1.0)),
)
operation = st.one_of(
    audio,
    audio,
    audio,
    st.tuples(st.just("force")),
    st.tuples(st.just("reconfigure"), st.integers(0, 2000), st.integers(0, 3000)),
    st.tuples(st.just("decode"), st.integers(0, 5), st.booleans(), st.integers(0, 2**31)),
    st.tuples(st.just("fail"), st.integers(0, 5)),
)


def _words(request: DecodeRequest, rng: np.random.Generator) -> list[Word]:
    """0-6 words in time order inside what the request decodes (ms)."""
    start_ms, end_ms = request.offset // 16, max(request.offset // 16 + 1, request.end // 16)
    bounds = sorted(rng.integers(start_ms, end_ms + 1, size=2 * int(rng.integers(0, 7))))
    texts = ["yes.", "hello", "no", "okay?", "well", "so"]
    return [
        Word(str(rng.choice(texts)), int(a), int(b), float(rng.random()))
        for a, b in zip(bounds[::2], bounds[1::2], strict=True)
    ]


@settings(max_examples=CASES * 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rate=st.sampled_from([8000, 16000, 22050, 44100, 48000]),
    encoding=st.sampled_from(sorted(BYTES_PER_SAMPLE)),
    operations=st.lists(operation, min_size=3, max_size=60),
)
def test_any_sequence_of_client_input_and_decodes_keeps_the_session_consistent(
    rate: int, encoding: str, operations: list[tuple[Any, ...]]
) -> None:
    config = StreamConfig(
        sample_rate=rate,
        encoding=encoding,
        turn=TurnParams(min_turn_silence_ms=200, max_turn_silence_ms=500, min_speech_ms=64),
    )
    session = StreamSession(config, GRID)
    pending: list[DecodeRequest] = []
    finals: list[int] = []
    seen: set[int] = set()
    embedding = np.random.default_rng(0).normal(size=192)

    def take(events: list[Any]) -> None:
        for event in events:
            if isinstance(event, TurnUpdate):
                seen.add(event.turn_order)
            if isinstance(event, TurnUpdate) and event.end_of_turn:
                finals.append(event.turn_order)
                starts = [w.start_ms for w in event.words]
                assert starts == sorted(starts)

    def answer(request: DecodeRequest, crowded: bool, seed: int) -> None:
        plan = session.plan(request, crowded=crowded)
        if plan.action is Action.SKIP:
            return
        if plan.reused is not None:
            take(session.on_decoded(request, *plan.reused))
            return
        local = None
        if request.context is not None and len(request.context) and crowded:
            local = window(len(request.context), [(embedding, [(0, len(request.context))])])
        take(session.on_decoded(request, _words(request, np.random.default_rng(seed)), local))

    for op in operations:
        if op[0] == "audio":
            session.add_audio(bytes(op[1]))
            frames = len(session.vad_input()) // VAD_FRAME_SAMPLES
            events, requests = session.on_vad([op[2]] * frames, pressure=op[2] * 3)
            take(events)
            pending += requests
        elif op[0] == "force":
            pending += session.force_endpoint()
        elif op[0] == "reconfigure":
            session.reconfigure(
                TurnParams(min_turn_silence_ms=op[1], max_turn_silence_ms=max(op[1], op[2])),
                format_turns=op[1] % 2 == 0,
            )
        elif op[0] == "decode" and pending:
            for _ in range(min(op[1] + 1, len(pending))):  # in request order, as the shell
                answer(pending.pop(0), op[2], op[3])
        elif op[0] == "fail" and pending and not pending[0].final:
            session.skip(pending.pop(0))  # a partial whose decode failed (a final ends it all)
    # the client terminates: the open turn ends, and every decode still out comes back
    pending += session.force_endpoint()
    while pending:
        answer(pending.pop(0), False, len(pending))
    assert len(finals) == len(set(finals)), "a turn was finalised twice"
    assert seen <= set(finals), "a turn the client saw never got its final"
    assert finals == sorted(finals), "finals out of turn order"


documented = {code.value for code in CloseCode}


@settings(max_examples=CASES * 4, deadline=None)
@given(text=st.one_of(st.text(max_size=300), st.binary(max_size=300).map(repr)))
def test_any_text_frame_is_a_control_message_or_a_documented_refusal(text: str) -> None:
    try:
        control = read_control(text)
    except ProtocolError as refusal:
        assert refusal.code in (CloseCode.INVALID_JSON, CloseCode.INVALID_MESSAGE)
        assert len(refusal.reason.encode()) <= 123
    else:
        assert control.kind in ("Terminate", "ForceEndpoint", "KeepAlive", "UpdateConfiguration")


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@settings(max_examples=CASES * 2, deadline=None)
@given(
    body=st.dictionaries(st.text(max_size=12), json_value, max_size=6), kind=st.text(max_size=25)
)
def test_any_json_object_is_read_or_refused_with_4101(body: dict[str, Any], kind: str) -> None:
    for message in ({**body, "type": kind}, body):
        try:
            read_control(json.dumps(message))
        except ProtocolError as refusal:
            assert refusal.code in documented


@settings(max_examples=CASES * 2, deadline=None)
@given(
    byte_count=st.integers(0, 10**7),
    encoding=st.sampled_from(sorted(BYTES_PER_SAMPLE)),
    rate=st.integers(8000, 48000),
)
def test_any_chunk_size_is_taken_or_refused_with_3007(
    byte_count: int, encoding: str, rate: int
) -> None:
    try:
        check_chunk(byte_count, encoding, rate)
    except ProtocolError as refusal:
        assert refusal.code == CloseCode.CHUNK_DURATION


@settings(max_examples=CASES, deadline=None)
@given(
    chunks=st.lists(st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 2.0)), max_size=200),
    speed=st.floats(0.0, 20.0),
)
def test_the_pace_refuses_only_with_4029_and_only_when_ahead(
    chunks: list[tuple[float, float]], speed: float
) -> None:
    pace, now, audio = AudioPace(speed), 0.0, 0.0
    first = chunks[0][1] if chunks else 0.0
    for seconds, gap in chunks:
        now += gap
        audio += seconds
        try:
            pace.received(seconds, now)
        except ProtocolError as refusal:
            assert refusal.code == CloseCode.TOO_FAST
            assert speed and audio > speed * (now - first) + pace.burst_s - 1e-9
            return
