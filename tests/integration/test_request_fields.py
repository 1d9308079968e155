"""The v2 request fields acted on (README, "The v2 request"), through the real server, models
and the `assemblyai` Python SDK, on the telephone call: a stretch of it (`audio_start_from`,
`audio_end_at`), text unformatted and unpunctuated, a custom spelling and a key term, the
language detected with its confidence; `speech_threshold` and
`language_confidence_threshold` ending a job as `error` with the reason."""

from __future__ import annotations

import re

import assemblyai as aai
import pytest

from streamer.files.word_lists import number_speller, profane_words
from tests.integration.conftest import telephone_file

pytestmark = pytest.mark.models

START_MS, END_MS = 14_000, 22_000
"""Sheila: "...I'm Sheila ... originally from Chicago", Diane: "Oh, I'm originally from
Chicago also. I'm in New Jersey now, though." """
EDGE_PUNCTUATION = re.compile(r"^\W|\W$")


def test_a_stretch_unformatted_with_a_spelling_and_the_language_detected(sdk: None) -> None:
    config = aai.TranscriptionConfig(
        audio_start_from=START_MS,
        audio_end_at=END_MS,
        punctuate=False,
        format_text=False,
        filter_profanity=True,
        language_detection=True,
        speech_threshold=0.2,
        word_boost=["Sheila"],
        boost_param=aai.WordBoost.default,
    ).set_custom_spelling({"Chi-Town": ["chicago"]})
    transcript = aai.Transcriber().transcribe(str(telephone_file()), config)
    assert transcript.status == aai.TranscriptStatus.completed, transcript.error
    words = transcript.words or []
    assert len(words) > 10
    # times are the file's: the words lie within the stretch asked for
    assert all(w.start >= START_MS - 200 and w.end <= END_MS + 200 for w in words), words
    assert words[0].start < START_MS + 2000
    texts = [w.text for w in words]
    assert "Chi-Town" in texts and not any("chicago" in t.lower() for t in texts), texts
    others = [t for t in texts if t != "Chi-Town"]
    assert all(t == t.lower() and not EDGE_PUNCTUATION.search(t) for t in others), texts
    body = transcript.json_response or {}
    assert body["language_code"] == "en" and 0.5 < body["language_confidence"] <= 1.0
    assert body["audio_start_from"] == START_MS and body["punctuate"] is False  # echoed
    assert body["audio_duration"] == 30  # the file's


def test_too_little_speech_ends_the_job_with_assemblyais_reason(sdk: None) -> None:
    config = aai.TranscriptionConfig(speech_threshold=1.0)
    transcript = aai.Transcriber().transcribe(str(telephone_file()), config)
    assert transcript.status == aai.TranscriptStatus.error
    reason = transcript.error or ""
    assert re.fullmatch(
        r"Audio speech threshold 0\.\d{4} is below the requested speech threshold value 1",
        reason,
    ), reason


def test_a_language_detected_less_surely_than_asked_ends_the_job(sdk: None) -> None:
    config = aai.TranscriptionConfig(
        language_detection=True,
        language_confidence_threshold=1.0,
        audio_start_from=6_000,
        audio_end_at=9_000,  # "Hello?" "Hello?" "Oh, hello": too little to be sure of
    )
    transcript = aai.Transcriber().transcribe(str(telephone_file()), config)
    assert transcript.status == aai.TranscriptStatus.error
    assert "below the requested language_confidence_threshold 1" in (transcript.error or "")


def test_the_packaged_word_lists_load() -> None:
    """`filter_profanity`'s list comes from the pinned `better-profanity` package, numbers in
    words from `num2words` (its languages; others keep their digits)."""
    profane = profane_words()
    assert len(profane) > 500 and "damn" in profane and "chicago" not in profane
    assert all(" " not in word for word in profane)
    english, french = number_speller("en"), number_speller("fr")
    assert english is not None and english("1200") == "one thousand, two hundred"
    assert french is not None and french("3.5") == "trois virgule cinq"
    assert number_speller("haw") is None
