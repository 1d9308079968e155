"""The streaming session driven directly (sans-I/O): audio bytes and model results in,
requests and typed events out. Model results here are hand-made values of the real types."""

from __future__ import annotations

import numpy as np

from streamer.core.audio import VAD_FRAME_SAMPLES
from streamer.core.diarization import FrameGrid, LocalSpeakers
from streamer.core.words import Word
from streamer.streaming.config import StreamConfig
from streamer.streaming.events import (
    HeldTranscript,
    SessionEvent,
    SpeakerRevision,
    SpeechStarted,
    TurnUpdate,
)
from streamer.streaming.pieces import Action, DecodeKind, DecodeRequest
from streamer.streaming.session import StreamSession
from streamer.streaming.turns import TurnParams
from tests.unit.windows import window

GRID = FrameGrid(sample_rate=16000, step_samples=270, receptive_field_samples=991)
FRAME_S = VAD_FRAME_SAMPLES / 16000


def session() -> StreamSession:
    turn = TurnParams(min_turn_silence_ms=300, max_turn_silence_ms=600, min_speech_ms=64)
    return StreamSession(StreamConfig(sample_rate=16000, turn=turn), GRID)


def feed(s: StreamSession, seconds: float, speech: bool):  # type: ignore[no-untyped-def]
    s.add_audio(bytes(int(seconds * 16000) * 2))
    frames = len(s.vad_input()) // VAD_FRAME_SAMPLES
    return s.on_vad([0.9 if speech else 0.0] * frames)


def turn_of(events: list[SessionEvent]) -> TurnUpdate:
    (turn,) = [e for e in events if isinstance(e, TurnUpdate)]
    return turn


def reused(s: StreamSession, request: DecodeRequest) -> object:
    plan = s.plan(request)
    return plan.reused if plan.action is Action.REUSE else None


def one_speaker(context_samples: int, embedding: np.ndarray) -> LocalSpeakers:
    """One 10 s segmentation window (589 frames, as the model gives) where local speaker 0
    talks throughout the context."""
    return window(context_samples, [(embedding, [(0, context_samples)])])


def a_first_turn(s: StreamSession) -> DecodeRequest:
    """2 s of speech, "one", by voice A (np.eye(4)[0]): its final request."""
    feed(s, 2.0, speech=True)
    _, requests = feed(s, 1.0, speech=False)
    first = next(r for r in requests if r.final)
    s.on_decoded(first, [Word("one", 100, 400, 0.9)], one_speaker(len(first.context), np.eye(4)[0]))
    return first


def test_turn_lifecycle_partial_then_final_with_speakers() -> None:
    s = session()
    events, requests = feed(s, 0.5, speech=False)
    assert events == [] and requests == []
    events, requests = feed(s, 1.0, speech=True)
    assert events == [SpeechStarted(timestamp_ms=480)]  # 15 frames of 32 ms of silence
    partial = [r for r in requests if not r.final]
    assert len(partial) == 1 and partial[0].turn_order == 0

    # partials: words only, no speaker analysis (they take the last speaker heard)
    assert partial[0].kind is DecodeKind.PARTIAL and partial[0].context is None
    # where the VAD heard speech, in whole frames (the first frames of silence: 15)
    frames = (15, 15 + round(1.0 / FRAME_S))
    assert partial[0].speech == ((frames[0] * VAD_FRAME_SAMPLES, frames[1] * VAD_FRAME_SAMPLES),)
    words = [Word("Hello", 600, 900, 0.9), Word("there", 950, 1300, 0.8)]
    (turn,) = s.on_decoded(partial[0], words, None)
    assert isinstance(turn, TurnUpdate) and turn.end_of_turn is False
    assert [w.speaker for w in turn.words] == ["A", "A"]
    assert turn.word_is_final == (False, False) and turn.transcript == ""

    _, requests = feed(s, 1.0, speech=False)
    (final,) = [r for r in requests if r.final]
    assert final.turn_order == 0
    local = one_speaker(len(final.context), np.eye(4)[0])
    (turn,) = s.on_decoded(final, words, local)
    assert isinstance(turn, TurnUpdate)
    assert turn.end_of_turn is True and turn.transcript == "Hello there"
    assert turn.speaker_label == "A" and all(turn.word_is_final)


def test_second_voice_becomes_b() -> None:
    s = session()
    first = a_first_turn(s)
    feed(s, 2.0, speech=True)
    _, requests = feed(s, 1.0, speech=False)
    second = next(r for r in requests if r.final)
    assert second.turn_order == 1
    # the window of the second turn also hears the first turn's voice
    heard = window(
        len(second.context),
        [
            (np.eye(4)[0], [(0, first.offset + len(first.audio))]),
            (np.eye(4)[1], [(second.offset, len(second.context))]),
        ],
    )
    turn = turn_of(s.on_decoded(second, [Word("two", 3100, 3500, 0.9)], heard))
    assert turn.speaker_label == "B"


def test_a_partial_that_comes_back_after_its_turn_ended_changes_nothing() -> None:
    s = session()
    _, requests = feed(s, 1.0, speech=True)
    (running,) = requests  # the worker decodes it while the speaker goes on, then stops
    assert running.kind is DecodeKind.PARTIAL
    _, requests = feed(s, 1.0, speech=False)
    (final,) = [r for r in requests if r.final]
    assert s.on_decoded(running, [Word("late", 0, 400, 0.5)], None) == []
    assert s.plan(running).action is Action.SKIP  # were it still queued, it would not run
    turn = turn_of(s.on_decoded(final, [Word("Hi.", 100, 900, 0.9)], None))
    assert turn.transcript == "Hi." and turn.end_of_turn


def test_force_endpoint_and_nothing_open() -> None:
    s = session()
    assert s.force_endpoint() == []
    feed(s, 1.0, speech=True)
    (request,) = s.force_endpoint()
    assert request.final and request.turn_order == 0
    assert s.force_endpoint() == []


def test_odd_byte_counts_lose_no_audio() -> None:
    s = session()
    s.add_audio(bytes(3201))
    s.add_audio(bytes(3199))
    assert s.audio_duration_s == 0.2
    assert len(s.vad_input()) == 3200 // VAD_FRAME_SAMPLES * VAD_FRAME_SAMPLES  # whole frames


def test_final_reuses_the_decode_that_heard_the_whole_turn() -> None:
    s = session()
    _, requests = feed(s, 1.0, speech=True)
    (running,) = [r for r in requests if not r.final]
    assert feed(s, 0.3, speech=True)[1] == []  # more speech while that decode runs
    s.on_decoded(running, [Word("Done", 200, 600, 0.9)], None)  # the worker is free again
    _, requests = feed(s, 0.3, speech=False)  # a pause: one decode through the speech end
    (pause,) = [r for r in requests if not r.final]
    assert pause.kind is DecodeKind.PAUSE and pause.context is not None
    words = [Word("Done.", 200, 900, 0.9)]
    local = one_speaker(len(pause.context), np.eye(4)[0])
    s.on_decoded(pause, words, local)
    _, requests = feed(s, 1.0, speech=False)
    (final,) = [r for r in requests if r.final]
    assert reused(s, final) == (words, local, None)


def test_a_finished_sentence_ends_the_turn_sooner_and_the_final_says_so() -> None:
    threshold = session().config.turn.end_of_turn_confidence_threshold
    for text, silence_needed_s, sure in (("Done.", 0.3, True), ("and then", 0.6, False)):
        s = session()
        (partial,) = feed(s, 1.0, speech=True)[1]
        s.on_decoded(partial, [Word(text, 100, 900, 0.9)], None)
        assert not any(r.final for r in feed(s, silence_needed_s - 0.1, speech=False)[1])
        (final,) = [r for r in feed(s, 0.2, speech=False)[1] if r.final]
        turn = turn_of(s.on_decoded(final, [Word(text, 100, 900, 0.9)], None))
        assert (turn.end_of_turn_confidence >= threshold) is sure


def test_final_decodes_again_when_no_decode_heard_the_end() -> None:
    s = session()
    _, requests = feed(s, 1.0, speech=True)
    (early,) = [r for r in requests if not r.final]
    s.on_decoded(early, [Word("Half", 0, 400, 0.9)], None)
    s.add_audio(bytes(16000))  # 0.5 s more speech, then the turn is forced to end
    s.on_vad([0.9] * (len(s.vad_input()) // VAD_FRAME_SAMPLES))
    (final,) = s.force_endpoint()
    assert s.plan(final).action is Action.RUN


def test_a_pause_closes_a_long_piece_and_its_words_stay_final() -> None:
    s = session()
    (early,) = feed(s, 3.5, speech=True)[1]
    s.on_decoded(early, [Word("One", 0, 1000, 0.9)], None)  # heard it all, but named no one
    _, requests = feed(s, 0.2, speech=False)
    (pause,) = requests
    assert pause.kind is DecodeKind.PAUSE and len(pause.audio) >= 3 * 16000
    first = [Word("One", 0, 1000, 0.9), Word("two.", 1000, 3400, 0.9)]
    message = turn_of(s.on_decoded(pause, first, one_speaker(len(pause.context), np.eye(4)[0])))
    assert message.words == tuple(w.with_speaker("A") for w in first)
    assert all(message.word_is_final)

    _, requests = feed(s, 1.0, speech=True)
    (partial,) = requests
    assert partial.offset == pause.offset + len(pause.audio)  # only the new speech
    message = turn_of(s.on_decoded(partial, [Word("Three", 3800, 4600, 0.8)], None))
    assert message.word_is_final == (True, True, False)

    _, requests = feed(s, 1.0, speech=False)
    (final,) = [r for r in requests if r.final]
    assert final.offset == partial.offset
    last = [Word("Three.", 3800, 4700, 0.8)]
    turn = turn_of(s.on_decoded(final, last, one_speaker(len(final.context), np.eye(4)[0])))
    assert turn.transcript == "One two. Three." and turn.end_of_turn is True


def test_long_speech_without_a_pause_is_cut() -> None:
    s = session()
    for _ in range(9):
        _, requests = feed(s, 1.0, speech=True)
        for request in requests:
            s.skip(request)
            last = request
    assert last.kind is DecodeKind.CUT
    assert 6.5 * 16000 <= len(last.audio) <= 8 * 16000 and last.context is not None


def test_reconfigured_silence_ends_turns_sooner() -> None:
    s = session()
    s.reconfigure(TurnParams(min_turn_silence_ms=100, max_turn_silence_ms=200), True)
    feed(s, 1.0, speech=True)
    _, requests = feed(s, 0.25, speech=False)  # 600 ms would have been needed before
    assert any(r.final for r in requests)
    assert s.config.format_turns


def test_max_speakers_one_names_every_voice_a() -> None:
    turn = TurnParams(min_turn_silence_ms=300, max_turn_silence_ms=600, min_speech_ms=64)
    s = StreamSession(StreamConfig(sample_rate=16000, turn=turn, max_speakers=1), GRID)
    held = HeldTranscript()
    for order, voice in enumerate((np.eye(4)[0], np.eye(4)[1])):
        feed(s, 2.0, speech=True)
        (final,) = [r for r in feed(s, 1.0, speech=False)[1] if r.final]
        word = Word("word.", 3000 * order + 200, 3000 * order + 900, 0.9)
        for event in s.on_decoded(final, [word], one_speaker(len(final.context), voice)):
            held.apply(event)  # the final Turn, and a SpeakerRevision if any
    assert [w.speaker for w in held.words] == ["A", "A"]


def test_a_revision_is_sent_when_reclustering_changes_an_ended_turns_labels() -> None:
    """Turn 0 holds two voices, the second with too little speech to be known, so both are
    "A". In turn 1 the second voice talks at length and is known as "B"; re-clustering all
    the embeddings then tells turn 0's second word was "B" too, and the session says so in a
    SpeakerRevision."""
    s = session()
    a, b = np.eye(4)[0], np.eye(4)[1]
    feed(s, 0.5, speech=False)
    feed(s, 3.0, speech=True)
    (first,) = [r for r in feed(s, 1.0, speech=False)[1] if r.final]
    a_span, b_span = (8000, 32000), (32000, 44800)  # 1.5 s and 0.8 s, as sample spans
    both = window(len(first.context), [(a, [a_span]), (b, [b_span])])
    hello, there = Word("Hello", 600, 1400, 0.9), Word("there", 2100, 2700, 0.9)
    turn = turn_of(s.on_decoded(first, [hello, there], both))
    assert [w.speaker for w in turn.words] == ["A", "A"]

    feed(s, 3.0, speech=True)
    (second,) = [r for r in feed(s, 1.0, speech=False)[1] if r.final]
    assert second.context_offset == 0  # the window hears both turns
    later = (second.offset, second.offset + 40000)  # 2.5 s more of the second voice
    heard = window(len(second.context), [(a, [a_span]), (b, [b_span, later])])
    yes = Word("Yes", later[0] // 16 + 100, later[1] // 16 - 100, 0.9)
    events = s.on_decoded(second, [yes], heard)
    final, revision = events
    assert isinstance(final, TurnUpdate) and final.speaker_label == "B"
    assert isinstance(revision, SpeakerRevision)
    (revised,) = revision.turns
    assert revised.turn_order == 0 and [w.speaker for w in revised.words] == ["A", "B"]
    held = HeldTranscript()
    for event in (turn, *events):
        held.apply(event)
    assert [(w.text, w.speaker) for w in held.words] == [
        ("Hello", "A"),
        ("there", "B"),
        ("Yes", "B"),
    ]


def test_a_short_piece_where_the_speaker_changes_closes_and_ends_the_turn_before() -> None:
    s = session()
    first = a_first_turn(s)
    for request in feed(s, 2.0, speech=True)[1]:  # A for 0.8 s, then B for 1.2 s
        s.skip(request)
    _, requests = feed(s, 0.2, speech=False)
    (pause,) = requests
    assert pause.kind is DecodeKind.PAUSE and len(pause.audio) < 3 * 16000  # no close by length
    change = pause.offset + round(1.1 * 16000)  # 0.3 s of pre-roll, then 0.8 s of A
    heard = window(
        len(pause.context),
        [
            (np.eye(4)[0], [(0, first.offset + len(first.audio)), (pause.offset, change)]),
            (np.eye(4)[1], [(change, pause.offset + len(pause.audio))]),
        ],
    )
    assert pause.context_offset == 0  # the context starts with the call
    at = pause.offset * 1000 // 16000
    words = [
        Word("so", at + 350, at + 700, 0.9),
        Word("then.", at + 750, at + 1050, 0.9),
        Word("yes", at + 1200, at + 1600, 0.9),
        Word("right", at + 1700, at + 2200, 0.9),
    ]
    events = s.on_decoded(pause, words, heard)
    turns = [e for e in events if isinstance(e, TurnUpdate)]
    assert [
        (t.turn_order, t.end_of_turn, t.transcript or " ".join(w.text for w in t.words))
        for t in turns
    ] == [(1, True, "so then."), (2, False, "yes right")]
    assert turns[0].speaker_label == "A" and turns[0].speaker_changed
    assert {w.speaker for w in turns[1].words} == {"B"} and all(turns[1].word_is_final)
    _, requests = feed(s, 1.0, speech=True)
    assert requests[0].offset == pause.offset + len(pause.audio)  # the piece closed there
