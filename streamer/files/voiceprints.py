"""Enrolment: a voiceprint from a recording of one person (the VAD finds their speech, CAM++
embeds it in clips, `streamer.core.voices` averages them), refused when the diarization hears a
second voice in it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamer.core.arrays import Float32Array, FloatArray
from streamer.core.audio import MODEL_SAMPLE_RATE
from streamer.core.clustering import SpeakerCount
from streamer.core.regions import VadParams, speech_regions
from streamer.core.voices import VoiceParams, clip_bounds, voiceprint
from streamer.files.pipeline import FileTranscriber
from streamer.models.loader import ModelSet
from streamer.models.vad import SileroVad

MIN_ENROL_S = 5.0
MAX_ENROL_S = 60.0
"""An enrolment holds 5-60 s of audio of one person."""


class EnrolmentError(ValueError):
    """The audio cannot make a voiceprint; the message says why, for the client."""


@dataclass(frozen=True, slots=True)
class Enrolment:
    embedding: FloatArray
    """(dim,) the voiceprint, unit length"""
    speech_s: float
    """seconds of speech it was made from"""
    clips: int


def enrol(models: ModelSet, audio: Float32Array, params: VoiceParams | None = None) -> Enrolment:
    """The voiceprint of 16 kHz mono `audio` (5-60 s of one person); `EnrolmentError` when it
    is too short or too long, holds too little speech, or more than one voice."""
    params = params or VoiceParams()
    duration_s = len(audio) / MODEL_SAMPLE_RATE
    if not MIN_ENROL_S <= duration_s <= MAX_ENROL_S + 0.5:
        raise EnrolmentError(
            f"a voice needs {MIN_ENROL_S:.0f}-{MAX_ENROL_S:.0f} s of audio of one person;"
            f" this holds {duration_s:.1f} s"
        )
    speech = speech_audio(models.vad, audio)
    speech_s = len(speech) / MODEL_SAMPLE_RATE
    if speech_s < params.min_enrol_speech_s:
        raise EnrolmentError(
            f"a voice needs at least {params.min_enrol_speech_s:.0f} s of speech;"
            f" this holds {speech_s:.1f} s"
        )
    bounds = clip_bounds(
        len(speech),
        round(params.clip_s * MODEL_SAMPLE_RATE),
        round(params.min_clip_s * MODEL_SAMPLE_RATE),
    )
    _check_one_voice(models, audio, params)
    embeddings = models.embedder.embed([speech[a:b] for a, b in bounds])
    return Enrolment(voiceprint(embeddings), speech_s, len(bounds))


def _check_one_voice(models: ModelSet, audio: Float32Array, params: VoiceParams) -> None:
    """`EnrolmentError` when the files' diarization finds a second voice holding enough of
    the speech (a phantom split off one voice holds little)."""
    held: dict[int, float] = {}
    for turn in FileTranscriber(models).diarize(audio, SpeakerCount()).turns:
        held[turn.speaker] = held.get(turn.speaker, 0.0) + turn.end_s - turn.start_s
    seconds = sorted(held.values(), reverse=True)
    if len(seconds) > 1 and seconds[1] >= max(
        params.other_voice_s, params.other_voice_share * sum(seconds)
    ):
        raise EnrolmentError(
            f"it holds more than one voice ({seconds[1]:.1f} s of a second one);"
            " a voice needs 5-60 s of one person"
        )


def speech_audio(vad: SileroVad, audio: Float32Array) -> Float32Array:
    """The speech of `audio` (the VAD's regions, as the files' pipeline finds them), joined."""
    duration_s = len(audio) / MODEL_SAMPLE_RATE
    probs = vad.file_probabilities(audio)
    regions = speech_regions(probs, vad.frame_samples / MODEL_SAMPLE_RATE, VadParams(), duration_s)
    pieces = [
        audio[round(a * MODEL_SAMPLE_RATE) : round(b * MODEL_SAMPLE_RATE)] for a, b in regions
    ]
    return np.concatenate(pieces) if pieces else audio[:0]
