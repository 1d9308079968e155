"""The streaming session driven directly (sans-I/O): audio bytes and model results in,
requests and wire messages out. Model results here are hand-made values of the real types."""

from __future__ import annotations

import numpy as np

from streamer.diarization import FrameGrid, LocalSpeakers
from streamer.events import Word
from streamer.session import VAD_FRAME_SAMPLES, DecodeKind, StreamConfig, StreamSession
from streamer.turns import TurnParams

GRID = FrameGrid(sample_rate=16000, step_samples=270, receptive_field_samples=991)
FRAME_S = VAD_FRAME_SAMPLES / 16000


def session() -> StreamSession:
    turn = TurnParams(min_turn_silence_ms=300, max_turn_silence_ms=600, min_speech_ms=64)
    return StreamSession(StreamConfig(sample_rate=16000, turn=turn), GRID)


def feed(s: StreamSession, seconds: float, speech: bool):  # type: ignore[no-untyped-def]
    s.add_audio(bytes(int(seconds * 16000) * 2))
    frames = len(s.vad_input()) // VAD_FRAME_SAMPLES
    return s.on_vad([0.9 if speech else 0.0] * frames)


def one_speaker(context_samples: int, embedding: np.ndarray) -> LocalSpeakers:
    """One 10 s segmentation window (589 frames, as the model gives) where local speaker 0
    talks throughout the context."""
    return window(context_samples, [(embedding, 0, context_samples)])


def window(context_samples: int, voices: list[tuple[np.ndarray, int, int]]) -> LocalSpeakers:
    """One 10 s segmentation window over a context of `context_samples`: local speaker i has
    embedding voices[i][0] and talks over samples voices[i][1:] of the context."""
    activity = np.zeros((1, 589, 3))
    for local, (_, start, end) in enumerate(voices):
        activity[0, start // 270 : min(589, end // 270), local] = 1.0
    return LocalSpeakers(
        activity=activity,
        starts=[0],
        owners=[(0, local) for local in range(len(voices))],
        embeddings=np.stack([embedding for embedding, _, _ in voices]),
        speech_s=np.array([(end - start) / 16000 for _, start, end in voices]),
        window_ends=[context_samples],
    )


def test_turn_lifecycle_partial_then_final_with_speakers() -> None:
    s = session()
    messages, requests = feed(s, 0.5, speech=False)
    assert messages == [] and requests == []
    messages, requests = feed(s, 1.0, speech=True)
    assert [m["type"] for m in messages] == ["SpeechStarted"]
    partial = [r for r in requests if not r.final]
    assert len(partial) == 1 and partial[0].turn_order == 0
    assert s.is_open_turn(0)

    # partials: words only, no speaker analysis (they take the last speaker heard)
    assert partial[0].kind is DecodeKind.PARTIAL and partial[0].context is None
    # where the VAD heard speech, in whole frames (the first frames of silence: 15)
    frames = (15, 15 + round(1.0 / FRAME_S))
    assert partial[0].speech == ((frames[0] * VAD_FRAME_SAMPLES, frames[1] * VAD_FRAME_SAMPLES),)
    words = [Word("Hello", 600, 900, 0.9), Word("there", 950, 1300, 0.8)]
    (turn,) = s.on_decoded(partial[0], words, None)
    assert turn["type"] == "Turn" and turn["end_of_turn"] is False
    assert [w["speaker"] for w in turn["words"]] == ["A", "A"]  # type: ignore[index]
    assert not any(w["word_is_final"] for w in turn["words"])  # type: ignore[index]

    _, requests = feed(s, 1.0, speech=False)
    (final,) = [r for r in requests if r.final]
    assert final.turn_order == 0 and not s.is_open_turn(0)
    local = one_speaker(len(final.context), np.eye(4)[0])
    (turn,) = s.on_decoded(final, words, local)
    assert turn["end_of_turn"] is True and turn["transcript"] == "Hello there"
    assert turn["speaker_label"] == "A"
    assert all(w["word_is_final"] for w in turn["words"])  # type: ignore[union-attr]


def test_second_voice_becomes_b_and_stale_partial_is_dropped() -> None:
    s = session()
    feed(s, 2.0, speech=True)
    _, requests = feed(s, 1.0, speech=False)
    stale = [r for r in requests if not r.final]
    first = next(r for r in requests if r.final)
    s.on_decoded(first, [Word("one", 100, 400, 0.9)], one_speaker(len(first.context), np.eye(4)[0]))
    for request in stale:
        assert s.on_decoded(request, [Word("x", 0, 1, 0.5)], None) == []
    feed(s, 2.0, speech=True)
    _, requests = feed(s, 1.0, speech=False)
    second = next(r for r in requests if r.final)
    assert second.turn_order == 1
    # the window of the second turn also hears the first turn's voice
    heard = window(
        len(second.context),
        [
            (np.eye(4)[0], 0, first.offset + len(first.audio)),
            (np.eye(4)[1], second.offset, len(second.context)),
        ],
    )
    (turn,) = s.on_decoded(second, [Word("two", 3100, 3500, 0.9)], heard)
    assert turn["speaker_label"] == "B"


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
    assert s.reusable(final) == (words, local)


def test_a_finished_sentence_ends_the_turn_sooner_and_the_final_says_so() -> None:
    threshold = session().config.turn.end_of_turn_confidence_threshold
    for text, silence_needed_s, sure in (("Done.", 0.3, True), ("and then", 0.6, False)):
        s = session()
        (partial,) = feed(s, 1.0, speech=True)[1]
        s.on_decoded(partial, [Word(text, 100, 900, 0.9)], None)
        assert not any(r.final for r in feed(s, silence_needed_s - 0.1, speech=False)[1])
        (final,) = [r for r in feed(s, 0.2, speech=False)[1] if r.final]
        (turn,) = s.on_decoded(final, [Word(text, 100, 900, 0.9)], None)
        assert (float(turn["end_of_turn_confidence"]) >= threshold) is sure  # type: ignore[arg-type]


def test_final_decodes_again_when_no_decode_heard_the_end() -> None:
    s = session()
    _, requests = feed(s, 1.0, speech=True)
    (early,) = [r for r in requests if not r.final]
    s.on_decoded(early, [Word("Half", 0, 400, 0.9)], None)
    s.add_audio(bytes(16000))  # 0.5 s more speech, then the turn is forced to end
    s.on_vad([0.9] * (len(s.vad_input()) // VAD_FRAME_SAMPLES))
    (final,) = s.force_endpoint()
    assert s.reusable(final) is None


def test_a_pause_closes_a_long_piece_and_its_words_stay_final() -> None:
    s = session()
    (early,) = feed(s, 3.5, speech=True)[1]
    s.on_decoded(early, [Word("One", 0, 1000, 0.9)], None)  # heard it all, but named no one
    _, requests = feed(s, 0.2, speech=False)
    (pause,) = requests
    assert pause.kind is DecodeKind.PAUSE and len(pause.audio) >= 3 * 16000
    first = [Word("One", 0, 1000, 0.9), Word("two.", 1000, 3400, 0.9)]
    (message,) = s.on_decoded(pause, first, one_speaker(len(pause.context), np.eye(4)[0]))
    assert all(w["word_is_final"] for w in message["words"])  # type: ignore[union-attr]

    _, requests = feed(s, 1.0, speech=True)
    (partial,) = requests
    assert partial.offset == pause.offset + len(pause.audio)  # only the new speech
    (message,) = s.on_decoded(partial, [Word("Three", 3800, 4600, 0.8)], None)
    assert [w["word_is_final"] for w in message["words"]] == [True, True, False]  # type: ignore[union-attr]

    _, requests = feed(s, 1.0, speech=False)
    (final,) = [r for r in requests if r.final]
    assert final.offset == partial.offset
    last = [Word("Three.", 3800, 4700, 0.8)]
    (turn,) = s.on_decoded(final, last, one_speaker(len(final.context), np.eye(4)[0]))
    assert turn["transcript"] == "One two. Three." and turn["end_of_turn"] is True


def test_long_speech_without_a_pause_is_cut() -> None:
    s = session()
    for _ in range(9):
        _, requests = feed(s, 1.0, speech=True)
        for request in requests:
            s.partial_dropped(request)
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
    labels = []
    for order, voice in enumerate((np.eye(4)[0], np.eye(4)[1])):
        feed(s, 2.0, speech=True)
        (final,) = [r for r in feed(s, 1.0, speech=False)[1] if r.final]
        word = Word("word.", 3000 * order + 200, 3000 * order + 900, 0.9)
        messages = s.on_decoded(final, [word], one_speaker(len(final.context), voice))
        for message in messages:  # the final Turn, and a SpeakerRevision if any
            turns = [message] if message["type"] == "Turn" else message["revisions"]
            labels += [w["speaker"] for t in turns for w in t["words"]]  # type: ignore[attr-defined]
    assert labels and set(labels) == {"A"}
