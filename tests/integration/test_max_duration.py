"""`STREAMER_MAX_AUDIO_HOURS` on a real server: an upload whose audio runs longer is refused
with a clear 400 and not kept; shorter audio is taken."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.integration.conftest import API_KEY, data_file, running_server


def test_an_upload_longer_than_the_maximum_is_refused(tmp_path: Path) -> None:
    env = {
        "STREAMER_API_KEYS": API_KEY,
        "STREAMER_DATA_DIR": str(tmp_path),
        "STREAMER_MAX_AUDIO_HOURS": str(1 / 60),  # one minute
    }
    with running_server(env) as base:
        auth = {"authorization": API_KEY}
        long = data_file("ami_meeting_a_2min.flac").read_bytes()
        refused = httpx.post(f"{base}/v2/upload", content=long, headers=auth, timeout=60)
        assert refused.status_code == 400
        assert refused.json() == {"error": "the audio is longer than the 60 s this server accepts"}
        assert list((tmp_path / "uploads").iterdir()) == []  # nothing kept
        short = data_file("ami_trn00.flac").read_bytes()  # 30 s
        assert httpx.post(f"{base}/v2/upload", content=short, headers=auth).status_code == 200
