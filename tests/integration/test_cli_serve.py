"""`streamer --help`, the checks `serve` makes of its TLS flags before it loads anything,
and how `make run` takes the host and port."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from streamer.tools import cli
from streamer.tools.dev_cert import write_dev_cert
from tests.integration.conftest import run_cli

REPO = Path(__file__).resolve().parents[2]


def _commands() -> list[str]:
    actions = [a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return list(actions[0].choices)


def test_help_lists_every_command() -> None:
    commands = _commands()
    assert {"serve", "transcribe", "stream", "eval", "models", "dev-cert"} <= set(commands)
    shown = run_cli("--help", timeout=60)
    assert shown.returncode == 0, shown.stderr
    summary = re.findall(r"[\w-]+", (cli.__doc__ or "").splitlines()[0])
    for command in commands:
        assert f"\n    {command} " in shown.stdout, f"{command} has no help line"
        assert command in summary, f"{command} missing from the module docstring"


def test_serve_refuses_half_a_tls_pair_or_a_key_of_another_certificate(tmp_path: Path) -> None:
    cert, _ = write_dev_cert(tmp_path / "one")
    _, other_key = write_dev_cert(tmp_path / "two")
    half = run_cli("serve", "--tls-cert", cert, timeout=60)
    assert half.returncode == cli.EXIT_BAD_INPUT
    assert "tls_cert and tls_key go together" in half.stderr
    mismatched = run_cli("serve", "--tls-cert", cert, "--tls-key", other_key, timeout=60)
    assert mismatched.returncode == cli.EXIT_BAD_INPUT
    assert mismatched.stderr.startswith("streamer: ") and "Traceback" not in mismatched.stderr
    missing = run_cli("serve", "--tls-cert", cert, "--tls-key", tmp_path / "none.pem", timeout=60)
    assert missing.returncode == cli.EXIT_BAD_INPUT and "No such file" in missing.stderr


def _make_run(*variables: str, env: dict[str, str] | None = None) -> str:
    """The `streamer serve` line `make run` would run (`make -n`: nothing runs)."""
    if shutil.which("make") is None:
        pytest.skip("make is needed")
    base = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    for name in ("HOST", "PORT"):
        base.pop(name, None)
    done = subprocess.run(
        ["make", "-n", "--no-print-directory", "run", *variables],
        cwd=REPO,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [line for line in done.stdout.splitlines() if "streamer serve" in line]
    assert len(lines) == 1, done.stdout
    return lines[0].split("streamer serve", 1)[1].strip()


def test_make_run_takes_port_and_host_from_its_command_line_or_the_environment() -> None:
    assert _make_run() == ""  # the server's defaults, or STREAMER_HOST / STREAMER_PORT
    assert _make_run("PORT=9000") == "--port 9000"
    assert _make_run("HOST=0.0.0.0", "PORT=9000") == "--host 0.0.0.0 --port 9000"
    # a HOST or PORT merely in the environment leaves STREAMER_* in charge
    assert _make_run(env={"HOST": "myhost", "PORT": "1", "STREAMER_PORT": "9000"}) == ""
