"""The whole-file pipeline on real dev recordings with the real models.

Bounds are set from measurements (README, "Accuracy"). The telephone call (fisher_sample):
WER 16.0 % here (13 errors in the 81 reference words, 2-core AMD EPYC VM, the same in repeated
runs, as `streamer eval` gives it) and 17.3 % (14 errors) in `streamer eval` on the other
2-core VM the README names, since Whisper's int8 kernels differ between CPUs; 97 % of words
with the right speaker. The bounds leave room for that CPU noise only: a bound changes only
in a commit that says why (and what was measured).
"""

from __future__ import annotations

import jiwer
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from streamer.core.clustering import SpeakerCount
from streamer.files.media import decode_file
from streamer.files.pipeline import FileTranscriber
from streamer.tools.evaluation import normalize_text
from tests.integration.conftest import data_file, telephone_segments

pytestmark = pytest.mark.models

FISHER_MAX_WER = 0.20
"""passes up to 16 word errors of 81 (19.8 %): 3 more than measured here, 2 more than on the
other CPU; 17 errors (21.0 %) fail"""
FISHER_MIN_WORD_SPEAKER_ACCURACY = 0.90


def reference_segments() -> list[dict]:
    return telephone_segments()


def word_speaker_accuracy(words, segments) -> float:  # type: ignore[no-untyped-def]
    """Share of words whose speaker matches the reference speaker at the word's midpoint, under
    the best one-to-one mapping of our labels to the reference ones."""
    ref_names = sorted({s["speaker"] for s in segments})
    hyp_names = sorted({w.speaker for w in words})
    counts = np.zeros((len(hyp_names), len(ref_names)))
    scored = 0
    for word in words:
        middle = (word.start_ms + word.end_ms) / 2000
        covering = [s for s in segments if s["start"] - 0.2 <= middle <= s["end"] + 0.2]
        if len({s["speaker"] for s in covering}) != 1:
            continue  # outside the reference or in overlap: not scorable
        scored += 1
        counts[hyp_names.index(word.speaker), ref_names.index(covering[0]["speaker"])] += 1
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / scored)


def test_telephone_call_two_speakers_words_and_labels(
    transcriber: FileTranscriber, telephone_audio: np.ndarray
) -> None:
    transcript = transcriber.transcribe(telephone_audio, language="en")
    segments = reference_segments()
    assert {w.speaker for w in transcript.words} == {"A", "B"}
    reference = normalize_text(" ".join(s["text"] for s in segments))
    # the reference transcribes only 6.7-30 s, as does the audio's speech
    wer = jiwer.wer(reference, normalize_text(transcript.text))
    assert wer < FISHER_MAX_WER
    assert word_speaker_accuracy(transcript.words, segments) >= FISHER_MIN_WORD_SPEAKER_ACCURACY
    assert all(w.start_ms <= w.end_ms for w in transcript.words)
    starts = [w.start_ms for w in transcript.words]
    assert starts == sorted(starts)
    assert [w for u in transcript.utterances for w in u.words] == list(transcript.words)
    assert transcript.audio_duration_s == pytest.approx(30.0, abs=0.01)


def test_two_speaker_meeting_excerpt_with_speakers_expected(transcriber: FileTranscriber) -> None:
    # The second speaker says 1.2 s at the very start; unguided clustering folds that into the
    # main speaker (README, "Accuracy"), so this file checks that a given count is honoured.
    audio = decode_file(data_file("ami_trn03.flac"))
    transcript = transcriber.transcribe(audio, SpeakerCount(expected=2), language="en")
    assert len({t.speaker for t in transcript.speaker_turns}) == 2


def test_speakers_expected_is_honoured(transcriber: FileTranscriber) -> None:
    audio = decode_file(data_file("ami_meeting_a_2min.flac"))
    transcript = transcriber.transcribe(audio, SpeakerCount(expected=2), language="en")
    assert len({t.speaker for t in transcript.speaker_turns}) == 2
    assert {w.speaker for w in transcript.words} <= {"A", "B"}


def test_max_speakers_one_labels_everything_a(
    transcriber: FileTranscriber, telephone_audio: np.ndarray
) -> None:
    transcript = transcriber.transcribe(telephone_audio, SpeakerCount(maximum=1), language="en")
    assert transcript.words and {w.speaker for w in transcript.words} == {"A"}
    assert len(transcript.utterances) == 1


def test_silence_gives_an_empty_transcript(transcriber: FileTranscriber) -> None:
    transcript = transcriber.transcribe(np.zeros(16000 * 5, dtype=np.float32))
    assert transcript.words == () and transcript.utterances == () and transcript.text == ""
