"""The model manifest: which package carries each model file, its sha256, and how to lay the
files out in one directory a runtime can load (some weights ship split across packages)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator

from streamer.models.convert import ort_to_onnx


class ModelFileError(RuntimeError):
    """A model file is missing or does not match its manifest entry."""


class FilePart(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    module: str
    path: str
    sha256: str


class ModelFile(BaseModel):
    """One file of a model: from an installed package (`module` + `path`), committed in the
    repository's models folder (`repo`), concatenated from `parts`, or an `.ort` file
    re-saved as ONNX (`converted_from`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    sha256: str
    module: str | None = None
    path: str | None = None
    repo: str | None = None
    parts: tuple[FilePart, ...] = ()
    converted_from: FilePart | None = None
    int8: bool = False
    """with `converted_from`: its int8 weights used as int8 (`convert.int8_matmuls`)"""

    @model_validator(mode="after")
    def _one_source(self) -> ModelFile:
        sources = [
            self.module is not None,
            self.repo is not None,
            bool(self.parts),
            self.converted_from is not None,
        ]
        if sum(sources) != 1 or (self.module is not None) != (self.path is not None):
            raise ValueError(
                "a model file needs exactly one of module+path, repo, parts or converted_from"
            )
        if self.int8 and self.converted_from is None:
            raise ValueError("int8 applies to a converted_from file only")
        return self

    @property
    def inputs(self) -> tuple[FilePart, ...]:
        """The package files this one is built from (none when it is used as shipped)."""
        return self.parts + ((self.converted_from,) if self.converted_from else ())


class ModelEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    role: str
    package: str
    licence: str
    files: dict[str, ModelFile]


def load_manifest(models_dir: Path) -> dict[str, ModelEntry]:
    """The manifest in `models_dir`; `ModelFileError` when it is missing or malformed."""
    path = models_dir / "manifest.json"
    try:
        raw = json.loads(path.read_text())
        return {name: ModelEntry.model_validate(entry) for name, entry in raw.items()}
    except (OSError, ValueError, AttributeError) as error:  # pydantic's errors are ValueErrors
        raise ModelFileError(
            f"cannot read the model manifest {path}: {_first_line(error)}"
        ) from error


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def package_file(module: str, path: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(f"package module {module!r} is not installed (run `make setup`)")
    # find_spec does not import the package: some (silero_vad) would import torch.
    return Path(next(iter(spec.submodule_search_locations))) / path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check(path: Path, expected: str, verify: bool) -> None:
    if not path.is_file():
        raise ModelFileError(f"model file missing: {path}")
    if verify and sha256_of(path) != expected:
        raise ModelFileError(f"sha256 mismatch for {path}")


def _source(file: ModelFile, models_dir: Path) -> Path | None:
    """Where a single-source file lies; None for files built from package files."""
    if file.module is not None and file.path is not None:
        return package_file(file.module, file.path)
    if file.repo is not None:
        return models_dir / file.repo
    return None


def verify_sources(entry: ModelEntry, models_dir: Path) -> None:
    """Check every shipped file (and every part) against its sha256."""
    for file in entry.files.values():
        source = _source(file, models_dir)
        if source is not None:
            _check(source, file.sha256, verify=True)
        for part in file.inputs:
            _check(_input(part), part.sha256, verify=True)


def model_path(
    name: str, entry: ModelEntry, models_dir: Path, cache_dir: Path, verify: bool = False
) -> Path:
    """A directory holding the model's files under their manifest names.

    Files shipped under their own names in one folder are used in place; otherwise the folder
    is built once under `cache_dir/name` (links for whole files, concatenation for parts,
    conversion for `.ort` files, checked against the manifest sha256 before it is moved into
    place). A concatenated file built before is trusted by its size, unless `verify`: then it
    is hashed, and built again if it does not match.
    """
    sources = {fname: _source(f, models_dir) for fname, f in entry.files.items()}
    folders = {s.parent for s in sources.values() if s is not None}
    if len(folders) == 1 and all(s is not None and s.name == n for n, s in sources.items()):
        folder = folders.pop()
        for fname, file in entry.files.items():
            _check(folder / fname, file.sha256, verify=False)
        return folder
    target = cache_dir / name
    target.mkdir(parents=True, exist_ok=True)
    for fname, file in entry.files.items():
        _place(target / fname, file, sources[fname], verify)
    return target


def _place(destination: Path, file: ModelFile, source: Path | None, verify: bool) -> None:
    if source is not None:
        _check(source, file.sha256, verify=False)
        if destination.resolve() != source.resolve():
            destination.unlink(missing_ok=True)
            destination.symlink_to(source)
        return
    converted = file.converted_from
    if converted is not None:
        if destination.is_file() and sha256_of(destination) == file.sha256:
            return  # built before (a different manifest or runtime version would not match)
        _build(destination, file, lambda tmp: ort_to_onnx(_input(converted), tmp, file.int8))
        return
    if destination.is_file() and (
        sha256_of(destination) == file.sha256
        if verify
        else destination.stat().st_size == sum(_input(p).stat().st_size for p in file.parts)
    ):
        return
    _build(destination, file, lambda tmp: _concatenate(file.parts, tmp))


def _input(part: FilePart) -> Path:
    return package_file(part.module, part.path)


def _concatenate(parts: tuple[FilePart, ...], destination: Path) -> None:
    with destination.open("wb") as out:
        for part in parts:
            with _input(part).open("rb") as piece:
                shutil.copyfileobj(piece, out, 1 << 20)


def _build(destination: Path, file: ModelFile, write: Callable[[Path], None]) -> None:
    """Write the file beside its destination, check it, then move it into place."""
    fd, tmp_name = tempfile.mkstemp(dir=destination.parent, prefix=destination.name)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        if sha256_of(tmp) != file.sha256:
            raise ModelFileError(f"built {destination.name} does not match its sha256")
        tmp.replace(destination)
    finally:
        tmp.unlink(missing_ok=True)
