"""SessionSpeakers on its own: words named from hand-made local speakers (one 10 s
segmentation window, embeddings as unit vectors), online speakers taught by closed pieces
only, and revisions of ended turns."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from streamer.core.diarization import FrameGrid, LocalSpeakers
from streamer.core.words import Word
from streamer.streaming.config import StreamConfig
from streamer.streaming.events import RevisedTurn, SpeakerRevision
from streamer.streaming.speakers import Piece, SessionSpeakers
from tests.unit.windows import window

GRID = FrameGrid(sample_rate=16000, step_samples=270, receptive_field_samples=991)
CONFIG = StreamConfig(sample_rate=16000)
VOICE_A, VOICE_B = np.eye(4)[0], np.eye(4)[1]


def alone(voice: np.ndarray, seconds: float = 2.0) -> LocalSpeakers:
    """A context of `seconds` where one voice talks throughout."""
    samples = round(seconds * 16000)
    return window(samples, [(voice, [(0, samples)])])


def word(text: str, start_ms: int, end_ms: int) -> Word:
    return Word(text, start_ms, end_ms, 0.9)


WORDS = [word("one", 200, 700), word("two", 900, 1600)]


def speakers_of(words: list[Word] | tuple[Word, ...]) -> list[str | None]:
    return [w.speaker for w in words]


def test_words_without_analysis_take_the_speaker_heard_last() -> None:
    speakers = SessionSpeakers(CONFIG, GRID)
    assert speakers_of(speakers.name_open(WORDS, None, 0)) == ["A", "A"]  # none heard yet
    assert speakers_of(speakers.piece(WORDS, alone(VOICE_A), 0).words) == ["A", "A"]
    assert speakers_of(speakers.piece(WORDS, alone(VOICE_B), 0).words) == ["B", "B"]
    assert speakers_of(speakers.name_open(WORDS, None, 0)) == ["B", "B"]
    unanalysed = speakers.piece(WORDS, None, 0)
    assert speakers_of(unanalysed.words) == ["B", "B"]
    assert unanalysed.local is None and unanalysed.row_speakers.size == 0
    assert speakers.name_open([], None, 0) == []


def test_without_speaker_labels_words_name_no_one() -> None:
    speakers = SessionSpeakers(replace(CONFIG, speaker_labels=False), GRID)
    assert speakers_of(speakers.name_open(WORDS, None, 0)) == [None, None]
    assert speakers_of(speakers.piece(WORDS, alone(VOICE_A), 0).words) == [None, None]
    assert speakers_of(speakers.name_open(WORDS, alone(VOICE_B), 0)) == [None, None]


def test_each_word_takes_the_speaker_active_over_it_in_absolute_time() -> None:
    speakers = SessionSpeakers(CONFIG, GRID)
    # a context starting 1 s into the stream: A talks over its first 2 s, B over the next 2 s
    both = window(64000, [(VOICE_A, [(0, 32000)]), (VOICE_B, [(32000, 64000)])])
    early, late = word("hi", 1200, 1800), word("hello", 3400, 4200)
    near_edge = word("so", 2300, 2800)  # 1.3-1.8 s into the context: still A's
    piece = speakers.piece([early, near_edge, late], both, context_offset=16000)
    assert speakers_of(piece.words) == ["A", "A", "B"]
    assert piece.row_speakers.tolist() == [0, 1] and piece.context_offset == 16000
    assert piece.local is both


def test_a_closed_piece_teaches_a_second_voice_and_an_open_one_does_not() -> None:
    speakers = SessionSpeakers(CONFIG, GRID)
    assert speakers_of(speakers.piece(WORDS, alone(VOICE_A), 0).words) == ["A", "A"]
    # the open piece's analysis names words but founds no speaker
    assert speakers_of(speakers.name_open(WORDS, alone(VOICE_B), 0)) == ["A", "A"]
    assert speakers_of(speakers.name_open(WORDS, alone(VOICE_B), 0)) == ["A", "A"]
    # a closed piece with enough speech of the new voice founds "B"
    assert speakers_of(speakers.piece(WORDS, alone(VOICE_B), 0).words) == ["B", "B"]
    assert speakers_of(speakers.name_open(WORDS, alone(VOICE_B), 0)) == ["B", "B"]
    assert speakers_of(speakers.name_open(WORDS, alone(VOICE_A), 0)) == ["A", "A"]


def test_a_second_voice_needs_enough_speech_to_be_known() -> None:
    speakers = SessionSpeakers(CONFIG, GRID)
    speakers.piece(WORDS, alone(VOICE_A), 0)
    short = speakers.piece(WORDS, alone(VOICE_B, seconds=0.8), 0)  # under 1 s of speech
    assert speakers_of(short.words) == ["A", "A"]
    assert speakers_of(speakers.piece(WORDS, alone(VOICE_B), 0).words) == ["B", "B"]


def test_max_speakers_one_keeps_every_word_a() -> None:
    speakers = SessionSpeakers(replace(CONFIG, max_speakers=1), GRID)
    assert speakers_of(speakers.piece(WORDS, alone(VOICE_A), 0).words) == ["A", "A"]
    assert speakers_of(speakers.piece(WORDS, alone(VOICE_B), 0).words) == ["A", "A"]
    both = window(64000, [(VOICE_A, [(0, 32000)]), (VOICE_B, [(32000, 64000)])])
    named = speakers.piece([word("x", 500, 900), word("y", 2500, 3500)], both, 0)
    assert speakers_of(named.words) == ["A", "A"]
    assert speakers.turn_ended(0, [named]) is None


def test_turn_ended_says_nothing_when_nothing_was_analysed() -> None:
    speakers = SessionSpeakers(CONFIG, GRID)
    assert speakers.turn_ended(0, []) is None
    assert speakers.turn_ended(1, [speakers.piece(WORDS, None, 0)]) is None
    assert speakers.turn_ended(2, [speakers.piece([], None, 0)]) is None


def test_turn_ended_revises_only_turns_whose_labels_change() -> None:
    """Turn 0 holds two voices, the second too short to be known, so both words are "A". In
    turn 1 the second voice talks at length; re-clustering then names turn 0's second word
    "B", and only turn 0 is revised (turn 1 was named right)."""
    speakers = SessionSpeakers(CONFIG, GRID)
    a_span, b_span = (8000, 32000), (32000, 44800)  # 1.5 s and 0.8 s
    hello, there = word("Hello", 600, 1400), word("there", 2100, 2700)
    first = speakers.piece(
        [hello, there], window(64000, [(VOICE_A, [a_span]), (VOICE_B, [b_span])]), 0
    )
    assert speakers_of(first.words) == ["A", "A"]
    assert speakers.turn_ended(0, [first]) is None  # analysed, but nothing changes

    later = (64000, 104000)  # 2.5 s more of the second voice
    heard = window(120000, [(VOICE_A, [a_span]), (VOICE_B, [b_span, later])])
    second = speakers.piece([word("Yes", 4100, 6400)], heard, 0)
    assert speakers_of(second.words) == ["B"]
    revision = speakers.turn_ended(1, [second])
    assert revision == SpeakerRevision(
        (RevisedTurn(0, (hello.with_speaker("A"), there.with_speaker("B"))),)
    )
    assert revision.turns[0].speaker_label == "A"  # the first heard of an even split
    assert speakers_of(first.words) == ["A", "B"]  # the piece holds its revised words
    # nothing changed since: no revision
    assert speakers.turn_ended(2, [speakers.piece([word("Yes", 7000, 7400)], heard, 0)]) is None


def turn_then_b_speaks_on(
    speakers: SessionSpeakers, second_word: Word, second_offset: int
) -> tuple[Piece, SpeakerRevision | None]:
    """Turn 0 ("Hello there", B's voice barely heard), then turn 1 whose analysis hears B
    speak on (which, were turn 0 revisited, would make "there" B's): turn 0's piece and the
    revision turn 1 brings."""
    a_span, b_span = (8000, 32000), (32000, 44800)
    first = speakers.piece(
        [word("Hello", 600, 1400), word("there", 2100, 2700)],
        window(64000, [(VOICE_A, [a_span]), (VOICE_B, [b_span])]),
        0,
    )
    speakers.turn_ended(0, [first])
    heard = window(120000, [(VOICE_A, [a_span]), (VOICE_B, [b_span, (64000, 104000)])])
    return first, speakers.turn_ended(1, [speakers.piece([second_word], heard, second_offset)])


def test_only_the_latest_revision_turns_are_revisited() -> None:
    speakers = SessionSpeakers(replace(CONFIG, revision_turns=1), GRID)
    first, revision = turn_then_b_speaks_on(speakers, word("Yes", 4100, 6400), 0)
    assert revision is None  # turn 0 is no longer revisited
    assert speakers_of(first.words) == ["A", "A"]


def test_turns_older_than_the_revision_span_are_not_revisited() -> None:
    """As above, but the second turn's analysis starts 1 s after the first's, beyond a
    revision span of 0.5 s: turn 0 keeps its labels (with it revisited, "there" became B)."""
    speakers = SessionSpeakers(replace(CONFIG, revision_span_s=0.5), GRID)
    first, revision = turn_then_b_speaks_on(speakers, word("Yes", 5100, 7400), 16000)
    assert revision is None
    assert speakers_of(first.words) == ["A", "A"]


def test_pieces_keep_the_session_speaker_of_each_embedding_row() -> None:
    speakers = SessionSpeakers(CONFIG, GRID)
    piece = speakers.piece(WORDS, alone(VOICE_A), 0)
    assert isinstance(piece, Piece) and piece.row_speakers.tolist() == [0]
    piece = speakers.piece(WORDS, alone(VOICE_B), 0)
    assert piece.row_speakers.tolist() == [1]


def towards_b(degrees: float) -> np.ndarray:
    """A unit voice `degrees` away from VOICE_A, towards VOICE_B."""
    return np.cos(np.radians(degrees)) * VOICE_A + np.sin(np.radians(degrees)) * VOICE_B


def three_turns(first_speech_s: float) -> list[SpeakerRevision | None]:
    """A voice, then two that drift from it: online naming puts each near the centroid so
    far ("A"); re-clustering all three splits the first voice off the other two (average
    distance 0.35 > 0.3), which would make the first voice someone new."""
    speakers = SessionSpeakers(CONFIG, GRID)
    revisions = []
    for order, (voice, seconds) in enumerate(
        [(VOICE_A, first_speech_s), (towards_b(40), 1.5), (towards_b(58), 1.5)]
    ):
        offset = order * 160_000  # 10 s apart
        start_ms = offset // 16
        words = [word("hi", start_ms + 100, start_ms + round(seconds * 1000) - 100)]
        piece = speakers.piece(words, alone(voice, seconds), offset)
        assert speakers_of(piece.words) == ["A"]
        revisions.append(speakers.turn_ended(order, [piece]))
    return revisions


def test_reclustering_founds_no_speaker_on_a_few_seconds_split_off_a_known_one() -> None:
    assert three_turns(first_speech_s=4.0) == [None, None, None]  # under 5 s: stays "A"
    *_, revision = three_turns(first_speech_s=6.0)  # enough speech: a voice of its own
    assert revision is not None
    (revised,) = revision.turns
    assert revised.turn_order == 0 and speakers_of(revised.words) == ["B"]
