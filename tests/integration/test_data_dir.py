"""A server says where its data lives, and warns when another server already uses it (two
checkouts share the default directory, and with it one job database)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from streamer.api.data_dir import MARKER, announce_data_dir
from streamer.config import Settings


def test_the_second_server_on_one_data_dir_is_warned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    caplog.set_level(logging.INFO, logger="streamer.api.data_dir")
    first = announce_data_dir(settings)
    assert f"data in {settings.data_dir}" in caplog.text
    assert (settings.data_dir / MARKER).read_text() == f"{os.getpid()}\n"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]

    second = announce_data_dir(settings)  # its own open file: the lock is taken
    [warning] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert f"another server (pid {os.getpid()}) uses {settings.data_dir}" in warning.getMessage()
    second.close()
    first.close()

    caplog.clear()
    announce_data_dir(settings).close()  # the first server has gone: no warning
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
