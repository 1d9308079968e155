"""Multilingual streaming: real Spanish and Swedish speech streamed with
`speech_model=universal-streaming-multilingual` (the language found from the first decodes,
then Whisper base told it), against the same Whisper on the whole file; and English speech
streamed the same way, against the English model.

    nice -n 5 .venv/bin/python load_tests/multilingual.py ../shared/eval/dev \\
        --json load_tests/results/multilingual.json

The speech is what `make setup` unpacks (`streamer.tools.speech_samples`): a Spanish reading
(14.9 s, one speaker) and three Swedish sentences of one speaker joined with 1.5 s of
silence between them (so three turns); English is the dev telephone call. Each recording
gets 1 s of silence before and after it. Streams run one at a time through the real session
and models on a virtual clock (`tools.simulation`, as `streamer eval --streaming`): first
partial after the turn's speech started, final after its last word, as a client on one
stream would see them on this machine. Cost is model seconds per audio second of the stream
(its decodes and speaker analysis). WER is against the shipped transcript, both sides
lower-cased and stripped of punctuation (`streamer eval`'s normalisation).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jiwer
import numpy as np

from streamer.api.inference import StreamingInference
from streamer.config import settings_from_env
from streamer.core.arrays import Float32Array
from streamer.core.audio import MODEL_SAMPLE_RATE
from streamer.files.media import decode_file
from streamer.files.pipeline import FileTranscriber
from streamer.models.loader import load_models
from streamer.streaming.config import StreamConfig, whisper_paced
from streamer.streaming.events import HeldTranscript, TurnUpdate
from streamer.tools.evaluation import normalize_text, reference_segments
from streamer.tools.figures import percentile_figures, percentiles
from streamer.tools.simulation import SimulatedStream, measure
from streamer.tools.speech_samples import SPANISH, SWEDISH

GAP_S = 1.5
EDGE_S = 1.0


def _silence(seconds: float) -> Float32Array:
    return np.zeros(round(seconds * MODEL_SAMPLE_RATE), dtype=np.float32)


def recordings(dev: Path) -> dict[str, tuple[Float32Array, str, str]]:
    """name -> (audio, language, reference text)."""
    swedish: list[Float32Array] = []
    for sample in SWEDISH:
        swedish += [decode_file(sample.audio_path()), _silence(GAP_S)]
    english = reference_segments(dev / "fisher_sample.json")
    return {
        "spanish": (decode_file(SPANISH.audio_path()), "es", SPANISH.transcript()),
        "swedish": (np.concatenate(swedish[:-1]), "sv", " ".join(s.transcript() for s in SWEDISH)),
        "english": (
            decode_file(dev / "fisher_sample.wav"),
            "en",
            " ".join(t for _, _, t in english),
        ),
    }


def wer(reference: str, text: str) -> float:
    return float(jiwer.wer(normalize_text(reference), normalize_text(text) or "<empty>"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dev", type=Path, help="the dev set folder (../shared/eval/dev)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()

    transcriber = FileTranscriber(load_models(settings_from_env()))
    inference = StreamingInference(transcriber.models)
    multilingual = whisper_paced(StreamConfig(sample_rate=16000, language=None, multilingual=True))
    english = StreamConfig(sample_rate=16000)
    figures: dict[str, dict[str, object]] = {}
    for name, (speech, language, reference) in recordings(args.dev).items():
        audio = np.concatenate([_silence(EDGE_S), speech, _silence(EDGE_S)])
        duration_s = len(audio) / MODEL_SAMPLE_RATE
        started = time.perf_counter()
        whole = transcriber.transcribe(audio, language=None, speaker_labels=False)
        file_rtf = (time.perf_counter() - started) / duration_s
        runs = {"multilingual": multilingual} | ({"english": english} if language == "en" else {})
        for model, config in runs.items():
            stream = SimulatedStream(inference, config)
            stream.feed(audio)
            stream.finish()
            stats = measure(stream.sent, config.turn.end_of_turn_confidence_threshold)
            held = HeldTranscript()
            finals = []
            for _, event in stream.sent:
                held.apply(event)
                if isinstance(event, TurnUpdate) and event.end_of_turn:
                    finals.append(event)
            text = " ".join(w.text for w in held.words)
            found = sorted({str(f.language_code) for f in finals if f.language_code})
            row = {
                "language": language,
                "found": found,
                "confidence": [f.language_confidence for f in finals],
                "turns": len(finals),
                "stream_wer": round(wer(reference, text), 4),
                "file_wer": round(wer(reference, whole.text), 4),
                "file_language": whole.language_code,
                "first_partial_s": percentile_figures(stats.first_partial_s),
                "final_s": percentile_figures(
                    stats.final_after_speech_s + stats.speaker_change_final_s
                ),
                "stream_cost": round(stream.compute_s / duration_s, 3),
                "file_rtf": round(file_rtf, 3),
            }
            figures[f"{name}, {model} model"] = row
            print(
                f"{name:<8} {model:<12} found {','.join(found) or '-':<5} "
                f"WER stream {row['stream_wer']:6.1%} file {row['file_wer']:6.1%}  "
                f"first partial {percentiles(stats.first_partial_s)} s  final "
                f"{percentiles(stats.final_after_speech_s + stats.speaker_change_final_s)} s  "
                f"cost {row['stream_cost']:.3f}  turns {len(finals)}"
            )
            print(f"    {text}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
