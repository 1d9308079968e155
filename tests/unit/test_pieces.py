"""PieceScheduler on its own: which decodes a turn gets when (partials, PAUSE, CUT, final),
what audio each request carries, and `plan` / `decoded` / `skip`. The VAD's verdicts are fed
to a real AudioIntake frame by frame; trailing silence is counted as the TurnDetector does."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from streamer.core.audio import VAD_FRAME_SAMPLES
from streamer.core.diarization import LocalSpeakers
from streamer.core.words import Word
from streamer.streaming.config import StreamConfig
from streamer.streaming.intake import AudioIntake
from streamer.streaming.pieces import (
    FINAL_PAD,
    PRE_ROLL,
    Action,
    Decoded,
    DecodeKind,
    DecodeRequest,
    Outcome,
    PieceScheduler,
)

F = VAD_FRAME_SAMPLES
FRAME_MS = 1000 * F / 16000  # 32 ms
CONFIG = StreamConfig(sample_rate=16000)


class Stream:
    """A scheduler over an intake that hears speech and silence a frame at a time."""

    def __init__(self, config: StreamConfig = CONFIG) -> None:
        self.intake = AudioIntake(16000, "pcm_s16le", config.buffer_s)
        self.pieces = PieceScheduler(config, self.intake)
        self.silent_frames = 0

    @property
    def frames(self) -> int:
        return self.intake.vad_cursor // F

    def hear(self, frames: int, speech: bool) -> None:
        for _ in range(frames):
            self.intake.add(bytes(2 * F))
            assert len(self.intake.vad_input()) == F
            self.intake.heard([0.9 if speech else 0.0])
            self.silent_frames = 0 if speech else self.silent_frames + 1

    def partial(self, has_words: bool) -> DecodeRequest | None:
        return self.pieces.partial(self.silent_frames * FRAME_MS, has_words)

    def open_turn(self, silence_before: int = 10) -> int:
        """Silence, then a turn opens on the next frame; its start sample."""
        self.hear(silence_before, speech=False)
        start = self.frames * F
        self.pieces.turn_started(start)
        return start


def result(text: str = "word") -> Decoded:
    return [Word(text, 0, 100, 0.9)], None


def local_speakers() -> LocalSpeakers:
    return LocalSpeakers(
        activity=np.ones((1, 589, 3)),
        starts=[0],
        owners=[(0, 0)],
        embeddings=np.eye(4)[:1],
        speech_s=np.array([2.0]),
        window_ends=[160000],
    )


def paused(s: Stream, speech_frames: int = 20) -> DecodeRequest:
    """Open a turn, speak, pause: the PAUSE request."""
    s.open_turn()
    s.hear(speech_frames, speech=True)
    s.hear(5, speech=False)
    pause = s.partial(has_words=False)
    assert pause is not None and pause.kind is DecodeKind.PAUSE
    return pause


def test_a_turns_first_piece_starts_a_pre_roll_before_its_speech() -> None:
    s = Stream()
    start = s.open_turn(silence_before=20)
    assert s.pieces.open and s.pieces.piece_start == start - PRE_ROLL
    s.hear(10, speech=True)
    request = s.partial(has_words=False)
    assert request is not None
    assert request.offset == start - PRE_ROLL and request.end == s.frames * F
    assert len(request.audio) == request.end - request.offset
    assert request.speech == ((start, s.frames * F),)  # the pre-roll holds no speech
    # a turn that opens sooner than the pre-roll starts at the stream's start
    early = Stream()
    early.open_turn(silence_before=3)
    assert early.pieces.piece_start == 0


def test_the_first_partial_comes_after_first_partial_s() -> None:
    s = Stream()
    start = s.open_turn()
    s.hear(6, speech=True)  # 192 ms of new audio: first_partial_s is 200 ms
    assert s.partial(has_words=False) is None
    s.hear(1, speech=True)
    request = s.partial(has_words=False)
    assert request is not None
    assert request.kind is DecodeKind.PARTIAL and request.opening and not request.final
    assert request.turn_order == 0 and request.context is None  # partials: words only
    assert request.end == start + 7 * F


def test_later_partials_come_every_partial_interval_one_at_a_time() -> None:
    s = Stream()
    s.open_turn()
    s.hear(7, speech=True)
    first = s.partial(has_words=False)
    assert first is not None
    s.hear(30, speech=True)
    assert s.partial(has_words=True) is None  # the first is still in flight
    assert s.pieces.decoded(first, result()) is Outcome.OPEN
    second = s.partial(has_words=True)  # 30 frames since the first's end
    assert second is not None and second.kind is DecodeKind.PARTIAL
    assert not second.opening and second.offset == first.offset
    assert second.end == first.end + 30 * F
    s.pieces.decoded(second, result())
    s.hear(15, speech=True)  # 480 ms: partial_interval_s is 500 ms
    assert s.partial(has_words=True) is None
    s.hear(1, speech=True)
    third = s.partial(has_words=True)
    assert third is not None and third.end == second.end + 16 * F


def test_under_pressure_later_partials_come_less_often_and_first_partials_do_not() -> None:
    """Decodes wanted per worker (pressure) from 1 to 2 stretch partial_interval_s (0.5 s)
    toward partial_interval_max_s (1.5 s); a turn's first partial keeps its 0.2 s."""
    s = Stream(replace(CONFIG, partial_piece_fraction=0.0))
    s.open_turn()
    s.hear(7, speech=True)  # 224 ms
    first = s.pieces.partial(0.0, has_words=False, pressure=2.0)
    assert first is not None and first.opening
    s.pieces.decoded(first, result())
    for pressure, frames in ((1.0, 16), (1.5, 32), (2.0, 47), (5.0, 47)):  # 0.5, 1.0, 1.5 s
        s.hear(frames - 1, speech=True)
        assert s.pieces.partial(0.0, has_words=True, pressure=pressure) is None
        s.hear(1, speech=True)
        request = s.pieces.partial(0.0, has_words=True, pressure=pressure)
        assert request is not None and request.kind is DecodeKind.PARTIAL, pressure
        s.pieces.decoded(request, result())


def test_a_long_open_piece_is_refreshed_every_quarter_of_its_length() -> None:
    """A partial re-decodes the whole piece: past 2 s of piece, later partials wait for a
    quarter of its length (partial_piece_fraction), twice that under full pressure."""
    s = Stream()
    start = s.open_turn()
    s.hear(7, speech=True)
    first = s.partial(has_words=False)
    assert first is not None
    s.pieces.decoded(first, result())
    s.hear(125 - 7, speech=True)  # the piece holds 4 s (plus the pre-roll)
    request = s.partial(has_words=True)
    assert request is not None
    s.pieces.decoded(request, result())
    piece_s = (request.end - s.pieces.piece_start) / 16000
    wait = round(0.25 * piece_s * 16000 / F)  # frames
    s.hear(wait - 1, speech=True)
    assert s.partial(has_words=True) is None
    s.hear(2, speech=True)
    request = s.partial(has_words=True)
    assert request is not None and request.offset < start
    s.pieces.decoded(request, result())
    piece_s = (request.end - s.pieces.piece_start) / 16000
    s.hear(round(0.25 * piece_s * 16000 / F) + 1, speech=True)
    assert s.pieces.partial(0.0, has_words=True, pressure=2.0) is None  # twice as long
    s.hear(round(0.25 * piece_s * 16000 / F) + 1, speech=True)
    assert s.pieces.partial(0.0, has_words=True, pressure=2.0) is not None


def test_a_partial_waits_while_silence_may_be_a_pause() -> None:
    s = Stream()
    s.open_turn()
    s.hear(7, speech=True)
    first = s.partial(has_words=False)
    assert first is not None
    s.pieces.decoded(first, result())
    s.hear(20, speech=True)
    s.hear(1, speech=False)
    assert s.partial(has_words=True) is None  # the worker stays free for the pause
    # with no words yet, the user waits for any: decode
    request = s.partial(has_words=False)
    assert request is not None and request.kind is DecodeKind.PARTIAL


def test_a_pause_is_decoded_once_after_150_ms_of_silence() -> None:
    s = Stream()
    start = s.open_turn()
    s.hear(20, speech=True)
    speech_end = s.frames * F
    s.hear(4, speech=False)  # 128 ms
    assert s.partial(has_words=True) is None
    s.hear(1, speech=False)  # 160 ms
    pause = s.partial(has_words=True)
    assert pause is not None and pause.kind is DecodeKind.PAUSE
    assert pause.end == s.frames * F  # through the silence heard so far
    assert pause.speech == ((start, speech_end),)
    assert pause.context is not None  # a PAUSE analyses speakers
    assert pause.context_offset + len(pause.context) == pause.end
    assert s.partial(has_words=True) is None  # in flight
    assert s.pieces.decoded(pause, result()) is Outcome.OPEN  # a short piece stays open
    s.hear(10, speech=False)
    assert s.partial(has_words=True) is None  # the same speech: no second PAUSE
    s.hear(3, speech=True)
    s.hear(5, speech=False)
    again = s.partial(has_words=True)  # new speech, a new pause
    assert again is not None and again.kind is DecodeKind.PAUSE
    assert again.offset == pause.offset and again.end == s.frames * F


def test_a_pause_waits_for_the_decode_in_flight() -> None:
    s = Stream()
    s.open_turn()
    s.hear(7, speech=True)
    first = s.partial(has_words=False)
    assert first is not None
    s.hear(10, speech=True)
    s.hear(6, speech=False)
    assert s.partial(has_words=True) is None
    s.pieces.decoded(first, result())
    pause = s.partial(has_words=True)
    assert pause is not None and pause.kind is DecodeKind.PAUSE


def test_skipping_a_pause_allows_another_pause_decode() -> None:
    s = Stream()
    pause = paused(s)
    s.pieces.skip(pause)
    assert s.pieces.skipped == 1
    again = s.partial(has_words=True)
    assert again is not None and again.kind is DecodeKind.PAUSE
    assert (again.offset, again.end) == (pause.offset, pause.end)


def test_skipping_a_partial_frees_the_worker() -> None:
    s = Stream()
    s.open_turn()
    s.hear(7, speech=True)
    first = s.partial(has_words=False)
    assert first is not None
    s.hear(1, speech=True)
    assert s.partial(has_words=False) is None
    s.pieces.skip(first)
    s.hear(7, speech=True)
    assert s.partial(has_words=False) is not None


def test_long_speech_is_cut_at_its_quietest_recent_frame() -> None:
    s = Stream()
    s.pieces.turn_started(0)
    probs = [0.9] * 250  # 8 s: max_piece_s
    probs[100] = 0.5  # quieter, but more than CUT_SEARCH_S before the end
    probs[240] = probs[245] = 0.6  # the quietest of the last 1.5 s, twice: the earliest
    for prob in probs:
        s.intake.add(bytes(2 * F))
        s.intake.vad_input()
        s.intake.heard([prob])
    cut = s.pieces.partial(0.0, has_words=True)
    assert cut is not None and cut.kind is DecodeKind.CUT
    assert cut.offset == 0 and cut.end == 240 * F
    assert cut.context is not None and cut.context_offset == 0
    assert s.pieces.decoded(cut, result()) is Outcome.CLOSES
    assert s.pieces.piece_start == 240 * F
    s.intake.add(bytes(2 * F * 16))
    s.intake.vad_input()
    s.intake.heard([0.9] * 16)
    following = s.pieces.partial(0.0, has_words=True)
    assert following is not None and following.kind is DecodeKind.PARTIAL
    assert following.offset == 240 * F  # only what the cut piece did not hold


def test_no_cut_before_max_piece_s() -> None:
    s = Stream()
    s.pieces.turn_started(0)
    s.hear(249, speech=True)
    request = s.partial(has_words=True)
    assert request is not None and request.kind is DecodeKind.PARTIAL
    s.pieces.skip(request)
    s.hear(1, speech=True)
    request = s.partial(has_words=True)
    assert request is not None and request.kind is DecodeKind.CUT


def test_the_final_decodes_the_open_piece_a_few_frames_past_the_speech() -> None:
    s = Stream()
    start = s.open_turn()
    s.hear(30, speech=True)
    end_frame = s.frames
    s.hear(20, speech=False)
    final = s.pieces.final(end_frame)
    assert final.final and final.kind is DecodeKind.FINAL and final.turn_order == 0
    assert final.offset == start - PRE_ROLL
    assert final.end == end_frame * F + FINAL_PAD
    assert final.speech == ((start, end_frame * F),)
    assert final.context is not None and final.context_offset + len(final.context) == final.end
    assert not s.pieces.open and s.pieces.turn_order == 1
    assert s.partial(has_words=False) is None  # no turn open: nothing to decode
    # a turn that ends with the audio heard so far (forced) stops there
    start = s.open_turn()
    s.hear(10, speech=True)
    final = s.pieces.final(s.frames)
    assert final.turn_order == 1 and final.end == s.intake.end


def test_plan_skips_a_crowded_partial_and_counts_it() -> None:
    s = Stream()
    s.open_turn()
    s.hear(7, speech=True)
    request = s.partial(has_words=False)
    assert request is not None
    assert s.pieces.plan(request, crowded=False).action is Action.RUN
    assert s.pieces.plan(request, crowded=True).action is Action.SKIP
    assert s.pieces.skipped == 1
    s.hear(7, speech=True)
    assert s.partial(has_words=False) is not None  # the skipped one is no longer in flight


def test_plan_runs_a_final_however_crowded() -> None:
    s = Stream()
    s.open_turn()
    s.hear(10, speech=True)
    final = s.pieces.final(s.frames)
    plan = s.pieces.plan(final, crowded=True)
    assert plan.action is Action.RUN and plan.reused is None
    assert s.pieces.skipped == 0


def test_plan_skips_a_partial_of_an_ended_turn_but_not_its_pause() -> None:
    s = Stream()
    s.open_turn()
    s.hear(7, speech=True)
    partial = s.partial(has_words=False)
    assert partial is not None
    s.pieces.final(s.frames)
    assert s.pieces.plan(partial, crowded=False).action is Action.SKIP
    assert s.pieces.skipped == 1
    # the PAUSE decode of the turn just ended is what its final will reuse
    t = Stream()
    pause = paused(t)
    t.pieces.final(t.frames - 5)
    assert t.pieces.plan(pause, crowded=False).action is Action.RUN
    # ...but not once a later turn has ended too
    t.open_turn()
    t.hear(10, speech=True)
    t.pieces.final(t.frames)
    assert t.pieces.plan(pause, crowded=False).action is Action.SKIP


def test_a_final_reuses_the_pause_decode_that_heard_its_speech() -> None:
    s = Stream()
    s.hear(400, speech=False)  # 12.8 s in: the speaker context starts after the stream's
    pause = paused(s)
    assert pause.context_offset > 0
    decoded = ([Word("Done.", 0, 500, 0.9)], local_speakers())
    assert s.pieces.decoded(pause, decoded) is Outcome.OPEN
    s.hear(20, speech=False)
    final = s.pieces.final(s.frames - 25)
    assert final.offset == pause.offset
    plan = s.pieces.plan(final, crowded=False)
    assert plan.action is Action.REUSE and plan.reused is decoded
    assert s.pieces.reused_context_offset(decoded[1]) == pause.context_offset
    assert s.pieces.reused_context_offset(local_speakers()) is None  # not the reused one
    assert s.pieces.reused_context_offset(None) is None


def test_a_final_runs_when_speech_went_on_after_the_pause_decode() -> None:
    for more_speech, action in ((2, Action.REUSE), (3, Action.RUN)):
        s = Stream()
        pause = paused(s)
        s.pieces.decoded(pause, result())
        s.hear(more_speech, speech=True)  # past the pause decode's end
        end_frame = s.frames
        s.hear(20, speech=False)
        final = s.pieces.final(end_frame)
        assert final.speech[-1][1] == pause.end + more_speech * F
        # the VAD lags a frame or two: up to REUSE_SLACK unheard is still all heard
        assert s.pieces.plan(final, crowded=False).action is action


def test_a_final_runs_when_no_pause_decode_came_back() -> None:
    s = Stream()
    pause = paused(s)
    s.pieces.skip(pause)
    final = s.pieces.final(s.frames - 5)
    assert s.pieces.plan(final, crowded=False).action is Action.RUN


def test_a_final_does_not_reuse_a_pause_decode_that_closed_its_piece() -> None:
    s = Stream()
    pause = paused(s, speech_frames=100)  # longer than min_piece_s
    assert s.pieces.decoded(pause, result()) is Outcome.CLOSES
    s.hear(1, speech=True)  # a word's tail, within REUSE_SLACK of the pause decode's end
    end_frame = s.frames
    s.hear(10, speech=False)
    final = s.pieces.final(end_frame)
    assert final.offset == pause.end  # only what the closed piece does not hold
    assert final.speech == ((pause.end, pause.end + F),)
    assert s.pieces.plan(final, crowded=False).action is Action.RUN


def test_a_pause_closes_its_piece_from_min_piece_s() -> None:
    for frames, outcome in ((93, Outcome.OPEN), (94, Outcome.CLOSES)):  # 2.976 s, 3.008 s
        s = Stream()
        s.pieces.turn_started(0)
        s.hear(frames - 5, speech=True)
        s.hear(5, speech=False)
        pause = s.partial(has_words=True)
        assert pause is not None and pause.kind is DecodeKind.PAUSE
        assert len(pause.audio) == frames * F
        assert s.pieces.decoded(pause, result()) is outcome
        assert s.pieces.piece_start == (0 if outcome is Outcome.OPEN else frames * F)


def test_decodes_that_come_back_too_late_are_stale() -> None:
    s = Stream()
    s.open_turn()
    s.hear(7, speech=True)
    partial = s.partial(has_words=False)
    assert partial is not None
    s.pieces.final(s.frames)
    assert s.pieces.decoded(partial, result()) is Outcome.STALE  # its turn ended
    t = Stream()
    pause = paused(t, speech_frames=100)
    assert t.pieces.decoded(pause, result()) is Outcome.CLOSES
    assert t.pieces.decoded(pause, result()) is Outcome.STALE  # its piece closed


def test_a_late_decode_of_an_ended_turn_leaves_the_open_turn_alone() -> None:
    s = Stream()
    s.open_turn()
    s.hear(7, speech=True)
    old = s.partial(has_words=False)
    assert old is not None
    s.pieces.final(s.frames)
    s.open_turn()
    s.hear(7, speech=True)
    running = s.partial(has_words=False)
    assert running is not None and running.turn_order == 1
    s.hear(7, speech=True)
    s.pieces.decoded(old, result())
    assert s.partial(has_words=False) is None  # turn 1's decode is still in flight
    s.pieces.skip(old)
    assert s.partial(has_words=False) is None


def test_the_speaker_context_reaches_speaker_context_s_back() -> None:
    s = Stream()
    pause = paused(s)  # 0.3 s into the stream: the context starts with it
    assert pause.context is not None and pause.context_offset == 0
    t = Stream()
    t.hear(400, speech=False)  # 12.8 s of silence first
    pause = paused(t)
    assert pause.context is not None
    assert pause.context_offset == pause.end - 10 * 16000 < pause.offset
    assert len(pause.context) == pause.end - pause.context_offset


def test_without_speaker_labels_no_request_carries_a_context() -> None:
    s = Stream(replace(CONFIG, speaker_labels=False))
    pause = paused(s)
    assert pause.context is None
    s.pieces.decoded(pause, result())
    s.hear(250, speech=True)
    cut = s.partial(has_words=True)
    assert cut is not None and cut.kind is DecodeKind.CUT and cut.context is None
    s.pieces.decoded(cut, result())
    final = s.pieces.final(s.frames)
    assert final.context is None
