"""Upper bounds on the headline accuracy figures (README, "Accuracy"), so that a regression in
diarization, ASR or the streaming session fails a test instead of only a later `streamer eval`.

DER is pyannote.metrics' through `streamer.tools.evaluation.score_turns` (collar 0.25 s, overlap
scored), as `streamer eval` computes it; "DER (words)" scores the turns the words themselves
span (`streamer.core.utterances.turns_from_words`), the only timeline a stream has.

Whole-file figures are deterministic on one machine, but Whisper's int8 kernels differ between
CPUs (and so do its words): each bound sits 2-3 points above the figure measured here. Streamed
figures also vary between runs on one machine (where a stream's pieces close depends on when
decodes finish on the virtual clock, so on the machine's load): their bounds cover the spread
of repeated runs under load and still fail the regressions they guard against.

A bound changes only in a commit that says why (and what was measured).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import groupby

import jiwer
import numpy as np
import pytest

from streamer.api.inference import StreamingInference
from streamer.core.utterances import turns_from_words
from streamer.core.words import Word
from streamer.files.media import decode_file
from streamer.files.pipeline import FileTranscriber
from streamer.models.asr import DEFAULT_LANGUAGE
from streamer.streaming.config import StreamConfig
from streamer.tools.evaluation import EvalItem, TurnScores, normalize_text, score_turns
from streamer.tools.simulation import StreamResult, simulate
from tests.integration.conftest import data_file, telephone_file, telephone_segments

pytestmark = pytest.mark.models

SAMPLE_RATE = 16000


@dataclass(frozen=True, slots=True)
class WholeFileBounds:
    """What one recording's whole-file run must reach."""

    name: str
    max_der: float
    max_der_words: float
    speakers: int | None
    """the speaker count the diarization must find; None where it finds a wrong one today"""


WHOLE_FILE_BOUNDS = (
    # Measured here (2-core AMD EPYC VM, in English, speaker count unknown; the same figures
    # at load averages 1 and 4), DER / DER (words) / speakers found of reference:
    # telephone 1.2 % / 11.9 % / 2 of 2 (10.8 % with the language detected).
    # Bounds: measured + 2-3 points. On a machine whose OpenBLAS is held to its Haswell
    # kernels (OPENBLAS_CORETYPE=Haswell, as some of these VMs set), the float sums differ
    # and the clustering of two files lands elsewhere: ami_trn03 DER (words) 11.3 %,
    # ami_meeting_a_2min 30.9 % (DER 21.7 %, 2 of 5); those bounds cover both.
    WholeFileBounds("telephone", max_der=0.04, max_der_words=0.13, speakers=2),
    # 37.7 % / 48.2 % / 2 of 3 (count not checked)
    WholeFileBounds("ami_trn00", max_der=0.40, max_der_words=0.51, speakers=None),
    # 19.0 % / 40.4 % / 1 of 1
    WholeFileBounds("ami_trn02", max_der=0.22, max_der_words=0.43, speakers=1),
    # 0.0 % / 3.9 % / 2 of 2 (Haswell kernels: 11.3 % in words)
    WholeFileBounds("ami_trn03", max_der=0.025, max_der_words=0.13, speakers=2),
    # 21.7 % / 26.0 % / 3 of 5 (not checked; Haswell kernels: 30.9 % in words, 2 of 5)
    WholeFileBounds("ami_meeting_a_2min", max_der=0.24, max_der_words=0.33, speakers=None),
)
"""A bound changes only in a commit that says why (and what was measured)."""

# The telephone call streamed on the virtual clock. Measured here in 26 runs on the 2-core VM
# while other test runs shared it (load average 1-10, ours included; compute per run 14-44 s
# against 17 s unloaded): WER 12.3-21.0 % (median 16.0 %; 14.8-23.5 % in past runs),
# DER (words) 4.5-6.6 %, or 10.3-10.6 % in the 5 runs that named a third speaker (below);
# since exactly 2 speakers are required, 3 more runs (load average 5.4-5.9): DER (words)
# 5.6 %, 5.9 %, 5.9 %, WER 17.3 % each. The WER bound passes all of these and fails a real
# regression (WER 30 %). The DER (words) bound was 0.13 while a third speaker was allowed;
# with two it sits 2.4 points above the highest two-speaker run (6.6 %), and fails a run
# that mislabels a stretch as the third-speaker runs did (10.3 %) or a regression (15 %).
STREAMED_MAX_WER = 0.26
STREAMED_MAX_DER_WORDS = 0.09
STREAMED_SPEAKERS = 2
STREAMED_MIN_TURNS = 6
"""final turns of the 30 s call (9 measured, 2 before turns ended at speaker changes)"""
# Before re-clustering needed 3 s of speech to found a speaker, the stream's last revision
# named the first 7 words (6.8-10.3 s) as a phantom third speaker in 6 of 28 runs; since, 0
# of 18 simulated runs and 0 of 11 runs through the SDK.


def eval_item(name: str) -> EvalItem:
    """The recording `name` with its references: the telephone call's turns have no .uem (the
    whole file is scored); each AMI excerpt has its .rttm and .uem in `tests/data`."""
    if name == "telephone":
        rttm = telephone_file(".rttm")
        return EvalItem(rttm.stem, telephone_file(".wav"), rttm, None, None)
    return EvalItem(
        name, data_file(f"{name}.flac"), data_file(f"{name}.rttm"), data_file(f"{name}.uem"), None
    )


@dataclass(frozen=True, slots=True)
class WholeFileScores:
    turns: TurnScores
    words: TurnScores


def whole_file_scores(transcriber: FileTranscriber, item: EvalItem) -> WholeFileScores:
    """Transcribe `item` as `streamer eval` does (in English, as a request naming no language,
    speaker count unknown) and score its diarization turns and its words' turns."""
    audio = decode_file(item.audio)
    duration_s = len(audio) / SAMPLE_RATE
    transcript = transcriber.transcribe(audio, language=DEFAULT_LANGUAGE)
    return WholeFileScores(
        turns=score_turns(item, transcript.speaker_turns, duration_s),
        words=score_turns(item, turns_from_words(transcript.words), duration_s),
    )


def stream_telephone_call(transcriber: FileTranscriber, audio: np.ndarray) -> StreamResult:
    """The call streamed through the real session and models on the virtual clock."""
    inference = StreamingInference(transcriber.models)
    return simulate(inference, StreamConfig(sample_rate=SAMPLE_RATE), audio)


def streamed_wer(result: StreamResult) -> float:
    reference = normalize_text(" ".join(str(s["text"]) for s in telephone_segments()))
    return float(jiwer.wer(reference, normalize_text(result.transcript.text) or "<empty>"))


def streamed_der_words(result: StreamResult) -> TurnScores:
    item = eval_item("telephone")
    duration_s = result.transcript.audio_duration_s
    return score_turns(item, turns_from_words(result.transcript.words), duration_s)


@pytest.mark.parametrize("bounds", WHOLE_FILE_BOUNDS, ids=lambda b: b.name)
def test_whole_file_der_within_bounds(
    transcriber: FileTranscriber, bounds: WholeFileBounds
) -> None:
    scores = whole_file_scores(transcriber, eval_item(bounds.name))
    assert scores.turns.der <= bounds.max_der, f"DER {scores.turns.der:.1%}"
    assert scores.words.der <= bounds.max_der_words, f"DER (words) {scores.words.der:.1%}"
    if bounds.speakers is not None:
        assert scores.turns.ref_speakers == bounds.speakers
        assert scores.turns.found_speakers == bounds.speakers


@pytest.fixture(scope="module")
def streamed(transcriber: FileTranscriber, telephone_audio: np.ndarray) -> StreamResult:
    """One streamed run of the telephone call, shared by the streamed checks."""
    return stream_telephone_call(transcriber, telephone_audio)


def test_streamed_telephone_call_wer(streamed: StreamResult) -> None:
    wer = streamed_wer(streamed)
    assert wer <= STREAMED_MAX_WER, f"streamed WER {wer:.1%}"


def test_streamed_telephone_call_names_its_two_speakers(streamed: StreamResult) -> None:
    words = streamed.transcript.words
    assert words and all(w.speaker is not None for w in words)
    counts = Counter(w.speaker for w in words)
    assert len(counts) == STREAMED_SPEAKERS, f"speakers {counts}"


def test_streamed_telephone_call_turns_end_where_the_speaker_changes(
    streamed: StreamResult,
) -> None:
    """Two people talking without a long pause used to be one turn (two finals for the 30 s
    call, the second 7.6-30 s with both voices): now a turn ends at each change of speaker,
    so its `speaker_label` means something. Measured: 9 final turns, 7 ended by the next
    speaker, none holding two speakers; a back-channel of one word may stay inside a turn,
    and a revision may relabel part of one (one such turn is let pass)."""
    assert len(streamed.turns) >= STREAMED_MIN_TURNS, f"{len(streamed.turns)} turns"
    assert streamed.stats.speaker_change_final_s, "no turn ended at a change of speaker"
    mixed = [t for t in streamed.turns if _runs_of_two_or_more(t) > 1]
    assert len(mixed) <= 1, [" ".join(f"{w.speaker}:{w.text}" for w in t) for t in mixed]


def _runs_of_two_or_more(words: tuple[Word, ...]) -> int:
    """Runs of one speaker of at least two words (a one-word back-channel is not one)."""
    runs = [len(list(group)) for _, group in groupby(w.speaker for w in words)]
    return sum(length >= 2 for length in runs)


def test_streamed_telephone_call_der_words(streamed: StreamResult) -> None:
    scores = streamed_der_words(streamed)
    assert scores.der <= STREAMED_MAX_DER_WORDS, f"streamed DER (words) {scores.der:.1%}"
