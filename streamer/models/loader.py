"""Build every model the service needs from the manifest, once per process."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import ctranslate2
import onnxruntime as ort

from streamer.config import DeviceUnavailable, Settings
from streamer.models.asr import WhisperAsr
from streamer.models.embedder import CamPlusPlusEmbedder
from streamer.models.manifest import load_manifest, model_path
from streamer.models.moonshine import MoonshineAsr
from streamer.models.priority import built_lowered
from streamer.models.segmenter import PyannoteSegmenter
from streamer.models.speaker_finder import LocalSpeakerFinder
from streamer.models.vad import SileroVad

log = logging.getLogger(__name__)

VAD_MODEL = "vad-silero"
EMBEDDING_MODEL = "campplus"
SEGMENTATION_MODEL = "segmentation-3.0"
STREAMING_ASR_MODEL = "moonshine-base-en"
STREAMING_WHISPER_MODEL = "whisper-base"
"""live streams in other languages (multilingual, whatever `asr_model` files use)"""
EMBEDDING_FILE = "campplus_cn_en_common_192.onnx"
SEGMENTATION_FILE = "pyannote_segmentation_3_0.onnx"
MOONSHINE_FILES = ("encoder_model.onnx", "decoder_model_merged.onnx", "tokenizer.bin")
"""in the order MoonshineAsr takes them: float32 weights, for GPUs"""
MOONSHINE_CPU_FILES = ("encoder_model.onnx", "decoder_model_merged_int8.onnx", "tokenizer.bin")
"""the decoder with int8 MatMuls, for CPUs: a step at batch 1 about 1.7 times faster (the
encoder's would be twice as fast, but with one scale for a whole batch it lets a row's zero
padding change another row's words)"""


def _moonshine_files(folder: Path, device: str) -> tuple[Path, Path, Path]:
    names = MOONSHINE_FILES if device == "cuda" else MOONSHINE_CPU_FILES
    encoder, decoder, tokenizer = (folder / name for name in names)
    return encoder, decoder, tokenizer


class LazyWhisper:
    """The multilingual Whisper of live streams, built on first use (by the first stream
    that is not English) and shared by the ASR workers: it takes that many calls at once."""

    def __init__(self, build: Callable[[], WhisperAsr]) -> None:
        self._build = build
        self._model: WhisperAsr | None = None
        self._lock = threading.Lock()

    def get(self) -> WhisperAsr:
        with self._lock:
            if self._model is None:
                log.info("loading Whisper for live streams in other languages")
                self._model = self._build()
            return self._model


@dataclass(frozen=True, slots=True)
class StreamWorkerModels:
    """What one ASR worker of live streams runs, in sessions of its own: workers never wait
    on each other's thread pools (the multilingual Whisper aside, built on demand)."""

    asr: MoonshineAsr
    speaker_finder: LocalSpeakerFinder
    whisper: LazyWhisper


@dataclass(frozen=True, slots=True)
class ModelSet:
    vad: SileroVad
    asr: WhisperAsr
    embedder: CamPlusPlusEmbedder
    segmenter: PyannoteSegmenter
    speaker_finder: LocalSpeakerFinder
    """segmentation + embeddings of local speakers, for files"""
    stream_workers: tuple[StreamWorkerModels, ...]
    """one per ASR worker of live streams (`asr_workers`), apart from the files' models so
    that jobs and streams never queue on one thread pool"""

    @property
    def streaming_asr(self) -> MoonshineAsr:
        """Moonshine: cost grows with the audio (no 30 s window), no word times."""
        return self.stream_workers[0].asr


def _onnx_runtime(settings: Settings, threads: int) -> tuple[ort.SessionOptions, list[str]]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Idle threads would spin for work by default; models run from several threads at once
    # (VAD beside ASR, streams beside jobs), where spinning steals the cores the others need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers = ["CPUExecutionProvider"]
    if settings.device == "cuda":
        providers.insert(0, "CUDAExecutionProvider")
    return options, providers


def model_file(settings: Settings, name: str, file_name: str = "") -> Path:
    """The folder of model `name` (or one file in it), laid out as the manifest says."""
    entry = load_manifest(settings.models_dir)[name]
    folder = model_path(name, entry, settings.models_dir, settings.model_cache_dir)
    return folder / file_name if file_name else folder


def check_device(settings: Settings) -> None:
    """With `device` "cuda": raise `DeviceUnavailable`, saying what is missing, unless
    onnxruntime has its CUDA provider (the `gpu` extra) and CTranslate2 sees a CUDA device.
    Checked before loading, so a server asked for a GPU it lacks says so instead of running
    every model on the CPU."""
    if settings.device != "cuda":
        return
    missing = []
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        missing.append("onnxruntime has no CUDA provider (install the gpu extra, onnxruntime-gpu)")
    if ctranslate2.get_cuda_device_count() < 1:
        missing.append("CTranslate2 finds no CUDA device")
    if missing:
        raise DeviceUnavailable("device cuda was asked for, but " + "; ".join(missing))


def load_models(settings: Settings) -> ModelSet:
    """Every model; the files' ones on a thread lowered by `job_niceness`, so that their
    runtimes' threads yield the cores to live streams."""
    check_device(settings)
    options, providers = _onnx_runtime(settings, settings.asr_threads)
    log.info("loading models (asr=%s, device=%s)", settings.asr_model, settings.device)
    whisper = LazyWhisper(
        lambda: WhisperAsr(
            model_file(settings, STREAMING_WHISPER_MODEL),
            device=settings.device,
            threads=settings.threads,
            english_only=False,
            workers=settings.asr_workers,
        )
    )
    stream_workers = tuple(
        load_stream_worker_models(settings, whisper) for _ in range(settings.asr_workers)
    )
    asr, (segmenter, embedder) = built_lowered(
        settings.job_niceness,
        lambda: (
            WhisperAsr(
                model_file(settings, settings.asr_model),
                device=settings.device,
                threads=settings.threads,
                english_only=settings.asr_model.endswith(".en"),
            ),
            _speaker_models(settings, settings.threads),
        ),
    )
    return ModelSet(
        vad=SileroVad(model_file(settings, VAD_MODEL, "silero_vad.onnx"), options, providers),
        asr=asr,
        embedder=embedder,
        segmenter=segmenter,
        speaker_finder=LocalSpeakerFinder(segmenter, embedder),
        stream_workers=stream_workers,
    )


def _speaker_models(
    settings: Settings, threads: int
) -> tuple[PyannoteSegmenter, CamPlusPlusEmbedder]:
    options, providers = _onnx_runtime(settings, threads)
    embedder = CamPlusPlusEmbedder(
        model_file(settings, EMBEDDING_MODEL, EMBEDDING_FILE), threads, settings.device
    )
    segmenter = PyannoteSegmenter(
        model_file(settings, SEGMENTATION_MODEL, SEGMENTATION_FILE), options, providers
    )
    return segmenter, embedder


def load_stream_worker_models(settings: Settings, whisper: LazyWhisper) -> StreamWorkerModels:
    """Moonshine and the speaker models of one ASR worker of live streams, and the
    multilingual Whisper they share."""
    options, providers = _onnx_runtime(settings, settings.asr_threads)
    segmenter, embedder = _speaker_models(settings, settings.asr_threads)
    return StreamWorkerModels(
        asr=MoonshineAsr(
            *_moonshine_files(model_file(settings, STREAMING_ASR_MODEL), settings.device),
            options,
            providers,
        ),
        speaker_finder=LocalSpeakerFinder(segmenter, embedder),
        whisper=whisper,
    )


def baseline_model_files(settings: Settings) -> tuple[Path, Path]:
    """(segmentation, embedding) ONNX files, for tools that run the models another way."""
    return (
        model_file(settings, SEGMENTATION_MODEL, SEGMENTATION_FILE),
        model_file(settings, EMBEDDING_MODEL, EMBEDDING_FILE),
    )
