"""Many speakers: how the found speaker count and DER behave as the number of people in one
recording grows, built from the dev excerpts.

    nice -n 5 .venv/bin/python load_tests/many_speakers.py ../shared/eval/dev \\
        --json load_tests/results/many_speakers.json

Each built recording is dev files joined end to end (`--gap` seconds of silence between
them), their RTTM turns shifted by where each file starts and their speaker ids kept: the AMI
ids name one person across excerpts (FEE083 speaks in ami_trn06 and ami_trn09, and the four
ami_trn00-03 excerpts are the quarters of ami_meeting_a_2min, so those are left out: joining
them would repeat audio). The UEM is each file's UEM, shifted; the gaps are not scored. The
sets grow, each holding the files of the one before, so the number of distinct reference
people grows: 2, 5, 10, 15, 19, 23, where 23 is every person of the dev set (5.5 min of
audio). No voice is invented. The last set, `--repeat`, plays those 23 people's recordings a
second time in reverse file order (11 min, the same voices saying the same words again later
in the recording): it shows what length alone does to the count, not more people.

Each recording runs the whole-file pipeline (`FileTranscriber`, the models `streamer eval`
loads) twice: with no speaker count, and with `speakers_expected` = the reference count N.
The second run reuses the first's words and per-window speaker analysis (VAD, Whisper,
segmentation and CAM++ do not depend on the count and are deterministic), so it costs only
the clustering and stitching; RTF is the first run's, wall time (the load of the machine
counts) and in brackets CPU seconds of all threads per audio second. Scores are
`streamer eval`'s: DER on the diarization turns, DER (words) on the turns the words span,
collar 0.25 s, word speaker accuracy (in --json); found speakers are the labels on words and,
in brackets, the speakers of the diarization timeline. "files alone" is the DER of the same
files transcribed one by one (no count, or each its own), pooled: what the recordings would
score if joining them cost nothing. Reference speakers in brackets: those with at least 2 s
of speech in the recording (a found speaker with less is a phantom to the eval).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
import wave
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import cast

import numpy as np

from streamer.config import settings_from_env
from streamer.core.arrays import Float32Array
from streamer.core.audio import MODEL_SAMPLE_RATE
from streamer.core.audio_source import AudioSource, as_source
from streamer.core.clustering import SpeakerCount
from streamer.core.diarization import LocalSpeakers
from streamer.files.media import decode_file
from streamer.files.pipeline import FileTranscriber
from streamer.models.asr import DEFAULT_LANGUAGE, AsrResult, WhisperAsr
from streamer.models.loader import ModelSet, load_models
from streamer.models.speaker_finder import LocalSpeakerFinder
from streamer.tools.evaluation import (
    EvalItem,
    FileScore,
    SystemOutput,
    discover,
    evaluate_item,
    read_rttm_turns,
    read_uem,
)

DEV = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "dev"
CONTAINED = {f"ami_trn0{i}" for i in range(4)}
"""the 2-minute meeting's quarters: their audio is inside ami_meeting_a_2min"""
SETS: tuple[tuple[str, ...], ...] = (
    ("fisher_sample",),
    ("ami_trn04",),
    ("ami_trn06", "ami_trn09"),
    ("ami_meeting_a_2min",),
    ("ami_trn07", "ami_trn08"),
    ("ami_trn05",),
)
"""the files each set adds to the one before (the recordings of the 23 people of the dev
set; ami_trn05's last three people say 0.4-1.4 s each, so it comes last)"""
FINDABLE_SPEECH_S = 2.0
"""reference people with at least this much speech in a recording count as findable (the
eval's phantom rule: a found speaker with less is a phantom)"""


@dataclass(frozen=True, slots=True)
class Recording:
    name: str
    files: tuple[str, ...]
    added: str
    """what it adds to the recording before it"""
    repeated: bool = False


@dataclass(frozen=True, slots=True)
class Built:
    recording: Recording
    audio: Float32Array
    rttm: str
    uem: str


def build(
    name: str, items: Sequence[EvalItem], gap_s: float, added: str, repeated: bool = False
) -> Built:
    """`items` joined with `gap_s` of silence between them; turns and scored regions shifted."""
    gap = np.zeros(round(gap_s * MODEL_SAMPLE_RATE), dtype=np.float32)
    pieces: list[Float32Array] = []
    rttm: list[str] = []
    uem: list[str] = []
    offset = 0
    for item in items:
        if pieces:
            pieces.append(gap)
            offset += len(gap)
        audio = decode_file(item.audio)
        start_s, duration_s = offset / MODEL_SAMPLE_RATE, len(audio) / MODEL_SAMPLE_RATE
        for turn in read_rttm_turns(item.rttm):
            rttm.append(
                f"SPEAKER {name} 1 {turn.start_s + start_s:.3f} {turn.end_s - turn.start_s:.3f} "
                f"<NA> <NA> {turn.speaker} <NA> <NA>"
            )
        for segment in read_uem(item.uem, duration_s):
            uem.append(f"{name} 1 {segment.start + start_s:.3f} {segment.end + start_s:.3f}")
        pieces.append(audio)
        offset += len(audio)
    return Built(
        recording=Recording(name, tuple(item.name for item in items), added, repeated),
        audio=np.concatenate(pieces),
        rttm="\n".join(rttm) + "\n",
        uem="\n".join(uem) + "\n",
    )


def dev_items(folder: Path) -> list[EvalItem]:
    """The dev files the sets use, in the order they join."""
    items = {item.name: item for item in discover(folder) if item.name not in CONTAINED}
    missing = sorted({name for added in SETS for name in added} - items.keys())
    if missing:
        raise SystemExit(f"many_speakers: {folder} lacks {', '.join(missing)}")
    return [items[name] for added in SETS for name in added]


def built_sets(items: Sequence[EvalItem], gap_s: float, repeat: bool) -> list[Built]:
    by_name = {item.name: item for item in items}
    chosen: list[EvalItem] = []
    out: list[Built] = []
    for added in SETS:
        chosen += [by_name[name] for name in added]
        label = ("+ " if out else "") + ", ".join(added)
        out.append(build(f"many_{len(out) + 1}", chosen, gap_s, label))
    if repeat:
        again = chosen + chosen[::-1]
        label = f"all {len(chosen)} again, reversed"
        out.append(build(f"many_{len(out) + 1}", again, gap_s, label, repeated=True))
    return out


def write(built: Built, folder: Path) -> EvalItem:
    name = built.recording.name
    audio, rttm, uem = (folder / f"{name}{suffix}" for suffix in (".wav", ".rttm", ".uem"))
    with wave.open(str(audio), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(MODEL_SAMPLE_RATE)
        # the dev files are 16-bit: x * 32768 gives back their samples exactly
        pcm = np.clip(np.round(built.audio * 32768.0), -32768, 32767).astype("<i2")
        out.writeframes(pcm.tobytes())
    rttm.write_text(built.rttm)
    uem.write_text(built.uem)
    return EvalItem(name=name, audio=audio, rttm=rttm, uem=uem, transcript=None)


def reference_people(item: EvalItem) -> tuple[int, int]:
    """(distinct reference speakers, those with >= FINDABLE_SPEECH_S of speech)."""
    speech: dict[str, float] = {}
    for turn in read_rttm_turns(item.rttm):
        speech[turn.speaker] = speech.get(turn.speaker, 0.0) + turn.end_s - turn.start_s
    return len(speech), sum(s >= FINDABLE_SPEECH_S for s in speech.values())


class _Reused:
    """The count-independent stages of the last audio seen (Whisper's words, the per-window
    speaker analysis), so that a second run with another speaker count skips them."""

    def __init__(self, models: ModelSet) -> None:
        self.models = models
        self._asr: tuple[str, AsrResult] | None = None
        self._local: tuple[str, LocalSpeakers] | None = None

    @staticmethod
    def _key(audio: Float32Array | AudioSource, *more: object) -> str:
        source = as_source(audio)
        samples = source.read(0, source.num_samples)
        digest = hashlib.sha1(np.ascontiguousarray(samples).tobytes())
        digest.update(repr(more).encode())
        return digest.hexdigest()

    def transcribe_regions(
        self,
        audio: Float32Array,
        regions_s: Sequence[tuple[float, float]],
        language: str | None,
        offset_s: float = 0.0,
    ) -> AsrResult:
        key = self._key(audio, regions_s, language, offset_s)
        if self._asr is None or self._asr[0] != key:
            asr = self.models.asr.transcribe_regions(audio, regions_s, language, offset_s)
            self._asr = key, asr
        return self._asr[1]

    def find(
        self, audio: Float32Array | AudioSource, starts: list[int] | None = None
    ) -> LocalSpeakers:
        key = self._key(audio, starts)
        if self._local is None or self._local[0] != key:
            self._local = key, self.models.speaker_finder.find(audio, starts)
        return self._local[1]

    def __getattr__(self, name: str) -> object:
        """The speaker finder's other parts (`grid`, `segmenter`, `step_s`, `embedder`)."""
        return getattr(self.models.speaker_finder, name)


@dataclass(frozen=True, slots=True)
class Run:
    found_words: int
    found_timeline: int
    der: float
    der_words: float
    word_accuracy: float | None
    phantom_speakers: int
    compute_s: float
    cpu_s: float
    """CPU time of the process over the run, all threads (wall time depends on the load)"""
    alone_der: float
    alone_der_words: float
    """DER and DER (words) of the same files transcribed one by one (the speaker count
    likewise: none, or each file's own), pooled as `streamer eval` pools them"""


@dataclass(frozen=True, slots=True)
class Row:
    recording: Recording
    duration_s: float
    reference_speakers: int
    findable_speakers: int
    unguided: Run
    expected: Run

    @property
    def rtf(self) -> float:
        return self.unguided.compute_s / self.duration_s

    @property
    def cpu_rtf(self) -> float:
        return self.unguided.cpu_s / self.duration_s


@dataclass(frozen=True, slots=True)
class Scored:
    score: FileScore
    cpu_s: float


class Runner:
    """Scores recordings as `streamer eval` does, with or without the reference count."""

    def __init__(self, transcriber: FileTranscriber) -> None:
        self.transcriber = transcriber

    def score(self, item: EvalItem, expected: bool) -> Scored:
        count = SpeakerCount(expected=reference_people(item)[0] if expected else None)
        cpu = 0.0

        def run(audio: Float32Array) -> SystemOutput:
            nonlocal cpu
            started = time.process_time()
            transcript = self.transcriber.transcribe(audio, count, DEFAULT_LANGUAGE)
            cpu = time.process_time() - started
            return SystemOutput(transcript.speaker_turns, transcript)

        score = evaluate_item(item, "expected" if expected else "unguided", run)
        return Scored(score, cpu)


def pooled(scores: Sequence[FileScore]) -> tuple[float, float]:
    """(DER, DER (words)): total error over total reference."""
    words = [s.words for s in scores if s.words is not None]
    return (
        sum(s.turns.der_error_s for s in scores) / sum(s.turns.der_total_s for s in scores),
        sum(w.der_error_s for w in words) / sum(w.der_total_s for w in words),
    )


def _run(scored: Scored, alone: Sequence[FileScore]) -> Run:
    score = scored.score
    assert score.words is not None and score.attribution is not None
    alone_der, alone_der_words = pooled(alone)
    return Run(
        found_words=score.words.found_speakers,
        found_timeline=score.turns.found_speakers,
        der=score.turns.der,
        der_words=score.words.der,
        word_accuracy=score.attribution.word_accuracy,
        phantom_speakers=score.attribution.phantom_speakers,
        compute_s=score.compute_s,
        cpu_s=scored.cpu_s,
        alone_der=alone_der,
        alone_der_words=alone_der_words,
    )


def measure(
    runner: Runner, item: EvalItem, built: Built, alone: dict[bool, dict[str, FileScore]]
) -> Row:
    """Both runs of one built recording; `alone`: its files' own scores, by `expected`."""
    people, findable = reference_people(item)
    unguided, expected = runner.score(item, False), runner.score(item, True)
    files = built.recording.files
    return Row(
        recording=built.recording,
        duration_s=unguided.score.duration_s,
        reference_speakers=people,
        findable_speakers=findable,
        unguided=_run(unguided, [alone[False][name] for name in files]),
        expected=_run(expected, [alone[True][name] for name in files]),
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def format_table(rows: Sequence[Row]) -> str:
    lines = [
        "| recording | audio | reference speakers (>= 2 s) | found, unguided | "
        "found, expected=N | DER unguided / expected=N | files alone | "
        "DER (words) unguided / expected=N | files alone | RTF (CPU) |",
        "|" + "---|" * 10,
    ]
    for row in rows:
        u, e = row.unguided, row.expected
        lines.append(
            f"| {row.recording.added} | {row.duration_s / 60:.1f} min | {row.reference_speakers} "
            f"({row.findable_speakers}) | {u.found_words} ({u.found_timeline}) | "
            f"{e.found_words} ({e.found_timeline}) | {_pct(u.der)} / {_pct(e.der)} | "
            f"{_pct(u.alone_der)} / {_pct(e.alone_der)} | "
            f"{_pct(u.der_words)} / {_pct(e.der_words)} | "
            f"{_pct(u.alone_der_words)} / {_pct(e.alone_der_words)} | "
            f"{row.rtf:.2f} ({row.cpu_rtf:.2f}) |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, nargs="?", default=DEV, help="the dev set")
    parser.add_argument("--gap", type=float, default=1.0, help="silence between files (s)")
    parser.add_argument("--no-repeat", dest="repeat", action="store_false")
    parser.add_argument("--sets", type=int, help="run only the first SETS recordings")
    parser.add_argument("--keep", type=Path, help="write the built recordings here")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    models = load_models(settings_from_env().with_overrides(asr_workers=1))
    reused = _Reused(models)
    # the transcriber calls `transcribe_regions` and `find`; the rest passes through
    transcriber = FileTranscriber(
        replace(
            models,
            asr=cast(WhisperAsr, reused),
            speaker_finder=cast(LocalSpeakerFinder, reused),
        )
    )
    runner = Runner(transcriber)
    items = dev_items(args.folder)
    started = time.perf_counter()
    alone: dict[bool, dict[str, FileScore]] = {False: {}, True: {}}
    for item in items:  # both runs of a file in a row: the second reuses the first's words
        for expected in (False, True):
            alone[expected][item.name] = runner.score(item, expected).score
    print(f"files alone: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for built in built_sets(items, args.gap, args.repeat)[: args.sets]:
            rows.append(measure(runner, write(built, folder), built, alone))
            print(
                f"{built.recording.name}: {rows[-1].reference_speakers} people, "
                f"{rows[-1].duration_s:.0f} s, {time.perf_counter() - started:.0f} s in",
                file=sys.stderr,
            )
    print(format_table(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        figures = {
            "gap_s": args.gap,
            "findable_speech_s": FINDABLE_SPEECH_S,
            "rows": [{**asdict(row), "rtf": row.rtf, "cpu_rtf": row.cpu_rtf} for row in rows],
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
