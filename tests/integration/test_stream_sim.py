"""The streaming evaluation: a whole file streamed through the real session and models on the
virtual clock."""

from __future__ import annotations

import numpy as np
import pytest

from streamer.api.inference import StreamingInference
from streamer.files.pipeline import FileTranscriber
from streamer.streaming.config import StreamConfig
from streamer.tools.simulation import simulate


@pytest.mark.models
def test_streamed_telephone_call_names_both_speakers(
    transcriber: FileTranscriber, telephone_audio: np.ndarray
) -> None:
    inference = StreamingInference(transcriber.models)
    result = simulate(inference, StreamConfig(sample_rate=16000), telephone_audio)
    words = result.transcript.words
    assert len(words) > 40 and all(w.speaker is not None for w in words)
    assert len({w.speaker for w in words}) >= 2
    stats = result.stats
    assert stats.words_sent >= len(words)  # revisions relabel words, never drop them
    assert stats.first_partial_s and all(s > 0 for s in stats.first_partial_s)
    assert stats.final_after_speech_s and all(s > 0 for s in stats.final_after_speech_s)
    assert stats.finals_unsure <= len(stats.final_after_speech_s)
    assert stats.compute_s > 0
    assert result.transcript.audio_duration_s == pytest.approx(30.0, abs=0.01)
