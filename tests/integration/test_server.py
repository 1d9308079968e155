"""`streamer serve` as a real process on a free port: health once the models are loaded."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.models


def test_healthz_ok_once_models_are_loaded(server: str) -> None:
    response = httpx.get(f"{server}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_unknown_route_is_404_and_server_goes_on(server: str) -> None:
    assert httpx.get(f"{server}/nope").status_code == 404
    assert httpx.get(f"{server}/healthz").status_code == 200
