"""Shared fixtures. Model-backed fixtures load the real models once per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from streamer.config import settings_from_env
from streamer.media import decode_file
from streamer.models.loader import ModelSet, load_models
from streamer.pipeline import FileTranscriber

DEV_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev"


def dev_file(name: str) -> Path:
    """A file of the dev set beside the checkout; CI always has it, so there it must exist."""
    path = DEV_DIR / name
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"dev data not found: {path}")
        pytest.skip(f"dev data not found: {path}")
    return path


@pytest.fixture(scope="session")
def models() -> Iterator[ModelSet]:
    yield load_models(settings_from_env())


@pytest.fixture(scope="session")
def transcriber(models: ModelSet) -> FileTranscriber:
    return FileTranscriber(models)


@pytest.fixture(scope="session")
def fisher_audio() -> np.ndarray:
    return decode_file(dev_file("fisher_sample.wav"))
