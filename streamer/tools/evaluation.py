"""Accuracy harness: run the whole-file pipeline (and optionally the sherpa-onnx baseline) on a
folder of `NAME.wav` + `NAME.rttm` (+ `NAME.uem`, + `NAME.json` transcript) and score it.

DER and JER come from pyannote.metrics with `collar=0.25` (boundaries within +/-0.125 s of a
reference boundary are not scored; overlapped speech is scored), the setting of the dev set's
reference figures,
WER from jiwer and cpWER from meeteval, both on lower-cased text without punctuation. Who said
each word (word speaker accuracy, boundary bleed, short utterances, phantom speakers and turns,
turns per minute) comes from `streamer.core.attribution`, on the words of every system with ASR.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import jiwer
from meeteval.wer.wer.cp import cp_word_error_rate
from pyannote.core import Annotation, Segment, Timeline
from pyannote.metrics.diarization import DiarizationErrorRate, JaccardErrorRate

from streamer.core.arrays import Float32Array
from streamer.core.attribution import (
    CHANGE_TOLERANCE_S,
    PHANTOM_SPEECH_S,
    SHORT_TURN_S,
    Attribution,
    ReferenceTurn,
    attribution,
    pooled,
)
from streamer.core.audio import MODEL_SAMPLE_RATE
from streamer.core.utterances import turns_from_words
from streamer.core.words import SpeakerTurn, Transcript
from streamer.files.media import decode_file
from streamer.tools.figures import percentiles
from streamer.tools.simulation import StreamStats

COLLAR_S = 0.25
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".webm")


@dataclass(frozen=True, slots=True)
class EvalItem:
    name: str
    audio: Path
    rttm: Path
    uem: Path | None
    transcript: Path | None


@dataclass(frozen=True, slots=True)
class TurnScores:
    """Diarization scores of one file. The error/total components are kept so the overall DER
    and JER are total error over total reference, as pyannote.metrics accumulates them."""

    der: float
    der_error_s: float
    der_total_s: float
    jer: float
    jer_error: float
    jer_speakers: int
    ref_speakers: int
    found_speakers: int


@dataclass(slots=True)
class FileScore:
    name: str
    system: str
    duration_s: float
    compute_s: float
    turns: TurnScores
    words: TurnScores | None = None
    """the same scores for the turns the words themselves span (what a user sees)"""
    wer: float | None = None
    cpwer: float | None = None
    attribution: Attribution | None = None
    """who said each word, against the reference turns (systems with words only)"""
    streaming: StreamStats | None = None

    @property
    def rtf(self) -> float:
        return self.compute_s / self.duration_s if self.duration_s else 0.0


_POOLED_COUNTS = (
    "words_scored",
    "short_scored",
    "edges_checked",
    "found_speakers",
    "phantom_speakers",
    "unmapped_speakers",
    "phantoms_in_overlap",
    "phantoms_of_short_speakers",
    "found_changes",
    "phantom_changes",
)
"""the counts under the pooled attribution rates that `Summary.overall` gives"""


@dataclass(slots=True)
class Summary:
    system: str
    files: list[FileScore] = field(default_factory=list)

    def overall(self) -> dict[str, float | int | None]:
        files = self.files
        total = sum(f.turns.der_total_s for f in files)
        speakers = sum(f.turns.jer_speakers for f in files)
        wers = [f for f in files if f.wer is not None]
        words = [f.words for f in files if f.words is not None]
        words_total = sum(w.der_total_s for w in words)
        scored = [f.attribution for f in files if f.attribution is not None]
        attributed = pooled(scored)
        return {
            "der": sum(f.turns.der_error_s for f in files) / total if total else 0.0,
            "der_words": sum(w.der_error_s for w in words) / words_total if words_total else None,
            "jer": sum(f.turns.jer_error for f in files) / speakers if speakers else 0.0,
            "wer": sum(f.wer or 0.0 for f in wers) / len(wers) if wers else None,
            "cpwer": sum(f.cpwer or 0.0 for f in wers) / len(wers) if wers else None,
            "count_exact": sum(f.turns.found_speakers == f.turns.ref_speakers for f in files),
            "files": len(files),
            "rtf": sum(f.compute_s for f in files) / sum(f.duration_s for f in files),
            **attributed.rates(),
            **{name: getattr(attributed, name) if scored else None for name in _POOLED_COUNTS},
        }


def discover(folder: Path) -> list[EvalItem]:
    items = []
    for audio in sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES):
        rttm = audio.with_suffix(".rttm")
        if not rttm.is_file():
            continue
        uem, transcript = audio.with_suffix(".uem"), audio.with_suffix(".json")
        items.append(
            EvalItem(
                name=audio.stem,
                audio=audio,
                rttm=rttm,
                uem=uem if uem.is_file() else None,
                transcript=transcript if transcript.is_file() else None,
            )
        )
    return items


def read_rttm_turns(path: Path) -> list[ReferenceTurn]:
    turns = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[0] == "SPEAKER":
            start, duration = float(parts[3]), float(parts[4])
            turns.append(ReferenceTurn(parts[7], start, start + duration))
    return turns


def read_rttm(path: Path) -> Annotation:
    annotation = Annotation(uri=path.stem)
    for turn in read_rttm_turns(path):
        annotation[Segment(turn.start_s, turn.end_s)] = turn.speaker
    return annotation


def read_uem(path: Path | None, duration_s: float) -> Timeline:
    if path is None:
        return Timeline([Segment(0.0, duration_s)])
    segments = [
        Segment(float(p[2]), float(p[3]))
        for p in (line.split() for line in path.read_text().splitlines())
        if len(p) >= 4
    ]
    return Timeline(segments)


def turns_annotation(name: str, turns: Iterable[SpeakerTurn]) -> Annotation:
    annotation = Annotation(uri=name)
    for index, turn in enumerate(turns):
        annotation[Segment(turn.start_s, turn.end_s), index] = f"spk{turn.speaker}"
    return annotation


_NORMALIZE = jiwer.Compose(
    [
        jiwer.ToLowerCase(),
        jiwer.SubstituteRegexes({r"[^\w\s']": " "}),
        jiwer.RemoveMultipleSpaces(),
        jiwer.Strip(),
    ]
)


def normalize_text(text: str) -> str:
    return str(_NORMALIZE(text))


def reference_segments(path: Path) -> list[tuple[float, str, str]]:
    """Reference transcript JSON (`segments[]` with `start`, `speaker`, `text`) ->
    [(start, speaker, text)] in time order."""
    segments = json.loads(path.read_text())["segments"]
    return sorted((float(s["start"]), s["speaker"], s["text"]) for s in segments)


def text_scores(
    transcript: Transcript, reference: list[tuple[float, str, str]]
) -> tuple[float, float]:
    """(WER, cpWER) of the transcript against the reference segments."""
    ordered_ref = normalize_text(" ".join(text for _, _, text in reference))
    ref_by_speaker: dict[str, list[str]] = {}
    for _, speaker, text in reference:
        ref_by_speaker.setdefault(speaker, []).append(text)
    hyp_by_speaker: dict[str, list[str]] = {}
    for word in transcript.words:
        hyp_by_speaker.setdefault(word.speaker or "?", []).append(word.text)
    wer = float(jiwer.wer(ordered_ref, normalize_text(transcript.text) or "<empty>"))
    cp = cp_word_error_rate(
        reference={s: normalize_text(" ".join(t)) for s, t in ref_by_speaker.items()},
        hypothesis={s: normalize_text(" ".join(w)) for s, w in hyp_by_speaker.items()},
    )
    return wer, float(cp.error_rate)


def score_turns(item: EvalItem, turns: Iterable[SpeakerTurn], duration_s: float) -> TurnScores:
    reference = read_rttm(item.rttm)
    hypothesis = turns_annotation(item.name, turns)
    uem = read_uem(item.uem, duration_s)
    der_metric = DiarizationErrorRate(collar=COLLAR_S, skip_overlap=False)
    components = der_metric(reference, hypothesis, uem=uem, detailed=True)
    jer_metric = JaccardErrorRate(collar=COLLAR_S, skip_overlap=False)  # type: ignore[no-untyped-call]
    jer = jer_metric(reference, hypothesis, uem=uem, detailed=True)
    error = components["confusion"] + components["missed detection"] + components["false alarm"]
    total = components["total"]
    return TurnScores(
        der=error / total if total else 0.0,
        der_error_s=error,
        der_total_s=total,
        jer=float(jer["jaccard error rate"]),
        jer_error=float(jer["speaker error"]),
        jer_speakers=int(jer["speaker count"]),
        ref_speakers=len(reference.crop(uem).labels()),
        found_speakers=len(hypothesis.crop(uem).labels()),
    )


@dataclass(frozen=True, slots=True)
class SystemOutput:
    turns: tuple[SpeakerTurn, ...]
    transcript: Transcript | None = None
    streaming: StreamStats | None = None


SystemRun = Callable[[Float32Array], SystemOutput]


def evaluate_item(item: EvalItem, system: str, run: SystemRun) -> FileScore:
    """Run one system on one file: `run(audio)` returns its turns and, if it has ASR, its
    transcript. Only `run` is timed (decoding the file is not part of the real-time factor;
    a streaming run reports its own compute time, without the virtual waiting)."""
    audio = decode_file(item.audio)
    duration_s = len(audio) / MODEL_SAMPLE_RATE
    started = time.perf_counter()
    output = run(audio)
    compute_s = time.perf_counter() - started
    transcript = output.transcript
    score = FileScore(
        name=item.name,
        system=system,
        duration_s=duration_s,
        compute_s=output.streaming.compute_s if output.streaming else compute_s,
        turns=score_turns(item, output.turns, duration_s),
        streaming=output.streaming,
    )
    if transcript is not None:
        score.words = score_turns(item, turns_from_words(transcript.words), duration_s)
        regions = [(s.start, s.end) for s in read_uem(item.uem, duration_s)]
        score.attribution = attribution(transcript.words, read_rttm_turns(item.rttm), regions)
        if item.transcript is not None:
            reference = reference_segments(item.transcript)
            score.wer, score.cpwer = text_scores(transcript, reference)
    return score


def _fmt(value: float | int | None, percent: bool = True) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.1f}%" if percent else f"{value:.3f}"


def format_table(summaries: list[Summary]) -> str:
    header = "| file | system | DER | DER (words) | JER | WER | cpWER | speakers ref/found | RTF |"
    lines = [header, "|" + "---|" * 9]
    for summary in summaries:
        for f in summary.files:
            lines.append(
                f"| {f.name} | {f.system} | {_fmt(f.turns.der)} | "
                f"{_fmt(f.words.der if f.words else None)} | {_fmt(f.turns.jer)} | "
                f"{_fmt(f.wer)} | {_fmt(f.cpwer)} | "
                f"{f.turns.ref_speakers}/{f.turns.found_speakers} | "
                f"{_fmt(f.rtf, percent=False)} |"
            )
    for summary in summaries:
        o = summary.overall()
        lines.append(
            f"| **overall** | {summary.system} | {_fmt(o['der'])} | {_fmt(o['der_words'])} | "
            f"{_fmt(o['jer'])} | {_fmt(o['wer'])} | {_fmt(o['cpwer'])} | "
            f"exact on {o['count_exact']}/{o['files']} | {_fmt(o['rtf'], percent=False)} |"
        )
    attributed = format_attribution_table(summaries)
    if attributed:
        lines += ["", "Speaker attribution (words, against the reference turns):", attributed]
    return "\n".join(lines)


def _of(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}% ({part}/{whole})" if whole else "-"


def _attribution_row(name: str, system: str, a: Attribution) -> str:
    found, reference = a.found_turns_per_min, a.reference_turns_per_min
    per_minute = "-" if found is None or reference is None else f"{found:.1f} / {reference:.1f}"
    return (
        f"| {name} | {system} | {_of(a.words_right, a.words_scored)} | "
        f"{_of(a.short_right, a.short_scored)} | {_of(a.edges_bled, a.edges_checked)} | "
        f"{a.phantom_speakers}/{a.found_speakers} ({a.unmapped_speakers} unmapped, "
        f"{a.phantoms_in_overlap} of them in overlap; {a.phantoms_of_short_speakers} of "
        "short speakers) | "
        f"{a.phantom_changes}/{a.found_changes} | "
        f"{per_minute} | {a.words_scored}/{a.words} |"
    )


def format_attribution_table(summaries: list[Summary]) -> str:
    """Who said each word, per file and pooled over the words of all files (the rules are in
    `streamer.core.attribution`); empty when no system has words."""
    header = (
        "| file | system | word speaker accuracy | short utterances (< 1 s) | boundary bleed | "
        "phantom speakers | phantom turns | turns / min found / ref | words scored |"
    )
    lines = [header, "|" + "---|" * 9]
    for summary in summaries:
        for f in summary.files:
            if f.attribution is not None:
                lines.append(_attribution_row(f.name, f.system, f.attribution))
    if len(lines) == 2:
        return ""
    for summary in summaries:
        scored = [f.attribution for f in summary.files if f.attribution is not None]
        if scored:
            lines.append(_attribution_row("**overall**", summary.system, pooled(scored)))
    return "\n".join(lines)


def format_streaming_table(summary: Summary) -> str:
    """Latency figures of a streaming run (seconds, p50 / p95 over turns or words)."""
    lines = [
        "| file | first partial after speech start | final after last word | "
        "finals unsure | final at a speaker change | finals of 2+ speakers sent / held | "
        "word final lag | label flips | partials skipped |",
        "|" + "---|" * 9,
    ]
    everything = StreamStats()
    for f in summary.files:
        s = f.streaming
        if s is None:
            continue
        lines.append(
            f"| {f.name} | {percentiles(s.first_partial_s)} | "
            f"{percentiles(s.final_after_speech_s)} | "
            f"{s.finals_unsure}/{len(s.final_after_speech_s)} | "
            f"{percentiles(s.speaker_change_final_s)} ({len(s.speaker_change_final_s)}) | "
            f"{_mixed(s)} | {percentiles(s.word_final_lag_s)} | "
            f"{s.label_flips}/{s.words_sent} | {s.partials_skipped} |"
        )
        everything.first_partial_s += s.first_partial_s
        everything.final_after_speech_s += s.final_after_speech_s
        everything.finals_unsure += s.finals_unsure
        everything.speaker_change_final_s += s.speaker_change_final_s
        everything.word_final_lag_s += s.word_final_lag_s
        everything.label_flips += s.label_flips
        everything.finals += s.finals
        everything.finals_mixed_sent += s.finals_mixed_sent
        everything.finals_mixed_held += s.finals_mixed_held
        everything.words_sent += s.words_sent
        everything.partials_skipped += s.partials_skipped
    lines.append(
        f"| **overall** | {percentiles(everything.first_partial_s)} | "
        f"{percentiles(everything.final_after_speech_s)} | "
        f"{everything.finals_unsure}/{len(everything.final_after_speech_s)} | "
        f"{percentiles(everything.speaker_change_final_s)} "
        f"({len(everything.speaker_change_final_s)}) | "
        f"{_mixed(everything)} | {percentiles(everything.word_final_lag_s)} | "
        f"{everything.label_flips}/{everything.words_sent} | {everything.partials_skipped} |"
    )
    return "\n".join(lines)


def _mixed(stats: StreamStats) -> str:
    return f"{stats.finals_mixed_sent} / {stats.finals_mixed_held} of {stats.finals}"


def _file_json(score: FileScore) -> dict[str, object]:
    """A file's scores; its attribution counts come with their rates."""
    figures = asdict(score)
    if score.attribution is not None:
        figures["attribution"] = {**figures["attribution"], **score.attribution.rates()}
    return figures


def to_json(summaries: list[Summary]) -> dict[str, object]:
    return {
        "collar_s": COLLAR_S,
        "attribution": {
            "short_turn_s": SHORT_TURN_S,
            "phantom_speech_s": PHANTOM_SPEECH_S,
            "change_tolerance_s": CHANGE_TOLERANCE_S,
        },
        "systems": {
            s.system: {"overall": s.overall(), "files": [_file_json(f) for f in s.files]}
            for s in summaries
        },
    }
