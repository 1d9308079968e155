"""Known voices on the dev set: identification of enrolled people and false accepts of
unknown voices, against the naming threshold.

    .venv/bin/python load_tests/known_voices.py ../shared/eval/dev [--enrol-s 5 8 12]
        [--part-s 10] [--details 0.66] [--json FILE]

Each reference speaker with enough speech heard alone (no one else over it) in one recording
is enrolled from their first `--enrol-s` seconds of it, as `POST /v2/voices` enrols (VAD,
6 s clips, CAM++, mean; the check for a second voice included). The AMI excerpts share
speakers across meetings, so a print made in one is tried in the others too (the four
quarters of the 2-minute meeting, which are also in the set, are left out: no print is tried
on its own audio). Identification runs the files' pipeline (segmentation, CAM++, clustering)
on parts of `--part-s` seconds: of the recording after the enrolment (for the one it was
enrolled from) or of another; each found speaker is mapped to the reference speaker it holds
most of, and the naming (`streamer.core.voices.match_voices`, one-to-one) is scored:

- identification: an enrolled person with >= 1.5 s of speech in the part gets their name,
  on a found speaker that is mostly theirs;
- false accept, unknown voices: a found speaker that is mostly a person with no print, with
  >= 1.5 s of their speech, takes a name; and the same for every identification trial with
  that person's own print left out (the hardest impostors: often in the same room).

Prints whose enrolment audio lies inside a tested part are left out of that part's naming.
A second table scores stretches of 3 s of one person's reference speech alone, each on its
own against the prints (harder than a found speaker, which gathers more speech). Prints the
figures per threshold and enrolment length; runs on the CPUs, no server (2 minutes here).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from streamer.config import settings_from_env
from streamer.core.audio import MODEL_SAMPLE_RATE
from streamer.core.clustering import SpeakerCount
from streamer.core.voices import KnownVoice, VoiceParams, match_voices, voiceprint
from streamer.files.media import decode_file
from streamer.files.pipeline import FileTranscriber
from streamer.files.voiceprints import EnrolmentError, enrol
from streamer.models.loader import ModelSet, load_models
from streamer.tools.evaluation import discover

MIN_TEST_SPEECH_S = 1.5
PART_S = 10.0
"""Recordings are tested in parts this long (a tail under MIN_PART_S joins the last)."""
MIN_PART_S = 5.0
PIECE_S = 3.0
"""Reference speech is tested in stretches of this much speech heard alone."""
CONTAINED = {f"ami_trn0{i}": "ami_meeting_a_2min" for i in range(4)}
"""Excerpts that are parts of another recording of the set (the 2-minute meeting's four
quarters): left out, so that no print is tried on its own audio."""
THRESHOLDS = [0.5, 0.55] + [round(0.6 + 0.02 * i, 2) for i in range(9)]

Span = tuple[float, float]


def read_turns(path: Path) -> dict[str, list[Span]]:
    turns: dict[str, list[Span]] = defaultdict(list)
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[0] == "SPEAKER":
            start, duration = float(parts[3]), float(parts[4])
            turns[parts[7]].append((start, start + duration))
    return {speaker: sorted(spans) for speaker, spans in turns.items()}


def subtract(spans: list[Span], others: list[Span]) -> list[Span]:
    """`spans` without any time covered by `others`."""
    out = []
    for start, end in spans:
        pieces = [(start, end)]
        for a, b in others:
            pieces = [
                piece
                for s, e in pieces
                for piece in ((s, min(e, a)), (max(s, b), e))
                if piece[1] - piece[0] > 1e-6
            ]
        out.extend(pieces)
    return sorted(out)


def overlap(a: list[Span], b: list[Span]) -> float:
    return sum(max(0.0, min(e1, e2) - max(s1, s2)) for s1, e1 in a for s2, e2 in b)


def within(spans: list[Span], start: float, end: float) -> list[Span]:
    return [(max(s, start), min(e, end)) for s, e in spans if e > start and s < end]


def first_seconds(spans: list[Span], seconds: float) -> tuple[list[Span], float]:
    """The first `seconds` of `spans`, and the time it ends at."""
    taken, total = [], 0.0
    for start, end in spans:
        take = min(end - start, seconds - total)
        taken.append((start, start + take))
        total += take
        if total >= seconds - 1e-6:
            return taken, start + take
    return taken, spans[-1][1] if spans else 0.0


@dataclass
class Print:
    speaker: str
    recording: str
    start_s: float
    end_s: float
    """where its enrolment audio lies in `recording`"""
    voice: KnownVoice


@dataclass
class Part:
    """A diarized stretch of a recording: its found speakers and who they mostly are."""

    recording: str
    from_print: str | None
    """the speaker whose enrolment this part follows (None: parts from the start)"""
    centroids: np.ndarray
    owner: list[str | None]
    """the reference speaker each found speaker holds most of"""
    held: list[dict[str, float]]
    """each found speaker's seconds of each reference speaker"""
    span: Span
    speech: dict[str, float]
    """each reference speaker's speech in the part"""
    voices: list[KnownVoice]
    """the prints it is named with: all but those whose enrolment audio lies in the part"""


def diarized(
    transcriber: FileTranscriber,
    audio: np.ndarray,
    ref: dict[str, list[Span]],
    recording: str,
    span: Span,
    from_print: str | None,
    prints: dict[str, Print],
) -> Part:
    start, end = span
    samples = audio[round(start * MODEL_SAMPLE_RATE) : round(end * MODEL_SAMPLE_RATE)]
    diarization = transcriber.diarize(samples, SpeakerCount())
    found: dict[int, list[Span]] = defaultdict(list)
    for turn in diarization.turns:
        found[turn.speaker].append((turn.start_s + start, turn.end_s + start))
    owner: list[str | None] = []
    helds = []
    for k in range(len(diarization.centroids)):
        held = {s: overlap(found[k], spans) for s, spans in ref.items()}
        best = max(held, key=lambda s: held[s])
        owner.append(best if held[best] > 0 else None)
        helds.append({s: round(v, 1) for s, v in held.items() if v > 0.05})
    inside = [
        p
        for p in prints.values()
        if p.recording == recording and p.start_s < end and p.end_s > start
    ]
    return Part(
        recording=recording,
        from_print=from_print,
        centroids=diarization.centroids,
        owner=owner,
        held=helds,
        span=span,
        speech={s: sum(e - b for b, e in within(spans, start, end)) for s, spans in ref.items()},
        voices=[p.voice for p in prints.values() if p not in inside],
    )


def part_spans(start: float, duration_s: float, part_s: float) -> list[Span]:
    """[start, duration_s) in consecutive parts of `part_s` (a short tail joins the last)."""
    spans = []
    for cut in np.arange(start, duration_s - MIN_PART_S, part_s).tolist():
        end = min(cut + part_s, duration_s)
        spans.append((cut, duration_s if duration_s - end < MIN_PART_S else end))
    return spans


@dataclass
class Trials:
    identified: list[bool]
    unknown_accepted: list[bool]
    impostor_accepted: list[bool]


def show(part: Part, named: dict[int, str], what: str) -> None:
    """One error of `--details`: the part's found speakers, who they hold, their similarities."""
    print(f"  {part.recording} {part.span[0]:.1f}-{part.span[1]:.1f} s: {what}")
    similarity = part.centroids @ np.stack([v.embedding for v in part.voices]).T
    for k, held in enumerate(part.held):
        close = " ".join(
            f"{v.name}={x:.2f}" for v, x in zip(part.voices, similarity[k], strict=True)
        )
        print(f"     found {k} holds {held}, named {named.get(k)}; {close}")


def score(
    parts: list[Part], prints: dict[str, Print], threshold: float, details: bool = False
) -> Trials:
    trials = Trials([], [], [])
    for part in parts:
        names = [v.name for v in part.voices]
        if part.from_print is None:  # people enrolled elsewhere; people with no print
            targets = [s for s in names if prints[s].recording != part.recording]
            unknowns = [s for s in part.speech if s not in names]
        else:  # the person enrolled from the speech just before
            targets, unknowns = [part.from_print], []
        targets = [s for s in targets if part.speech.get(s, 0.0) >= MIN_TEST_SPEECH_S]
        unknowns = [s for s in unknowns if part.speech[s] >= MIN_TEST_SPEECH_S]
        named = match_voices(part.centroids, part.voices, threshold)
        for s in targets:
            ok = any(named.get(k) == s and o == s for k, o in enumerate(part.owner))
            trials.identified.append(ok)
            without = [v for v in part.voices if v.name != s]
            named_without = match_voices(part.centroids, without, threshold)
            bad = any(k in named_without for k, o in enumerate(part.owner) if o == s)
            trials.impostor_accepted.append(bad)
            if details and not ok:
                show(part, named, f"{s} not named")
            if details and bad:
                show(part, named_without, f"{s} named without their print")
        for s in unknowns:
            bad = any(k in named for k, o in enumerate(part.owner) if o == s)
            trials.unknown_accepted.append(bad)
            if details and bad:
                show(part, named, f"unknown {s} named")
    return trials


def similarities(parts: list[Part], prints: dict[str, Print]) -> tuple[list[float], list[float]]:
    """Cosine similarity of each enrolled person's found speaker to their own print, and of
    every found speaker to the closest print of someone else."""
    own: list[float] = []
    other: list[float] = []
    for part in parts:
        for k, speaker in enumerate(part.owner):
            if speaker is None or part.speech[speaker] < MIN_TEST_SPEECH_S:
                continue
            for voice in part.voices:
                value = float(part.centroids[k] @ voice.embedding)
                (own if voice.name == speaker else other).append(value)
    return own, other


@dataclass
class Turn:
    """A stretch of one person's speech heard alone (up to PIECE_S of it), embedded whole."""

    speaker: str
    recording: str
    start_s: float
    embedding: np.ndarray


def pieces(spans: list[Span], seconds: float) -> list[list[Span]]:
    """`spans` cut into consecutive pieces of `seconds` of speech (a last piece of less than
    MIN_TEST_SPEECH_S is dropped)."""
    out: list[list[Span]] = [[]]
    held = 0.0
    for start, end in spans:
        while end - start > 1e-6:
            take = min(end - start, seconds - held)
            out[-1].append((start, start + take))
            held += take
            start += take
            if held >= seconds - 1e-6:
                out.append([])
                held = 0.0
    return [p for p in out if sum(e - s for s, e in p) >= MIN_TEST_SPEECH_S - 1e-6]


def reference_turns(
    models: ModelSet, audio: np.ndarray, recording: str, solo: dict[str, list[Span]]
) -> list[Turn]:
    out = []
    for speaker, spans in solo.items():
        for piece in pieces(spans, PIECE_S):
            clip = np.concatenate(
                [
                    audio[round(a * MODEL_SAMPLE_RATE) : round(b * MODEL_SAMPLE_RATE)]
                    for a, b in piece
                ]
            )
            embedding = voiceprint(models.embedder.embed([clip]))
            out.append(Turn(speaker, recording, piece[0][0], embedding))
    return out


def score_turns(turns: list[Turn], prints: dict[str, Print], threshold: float) -> Trials:
    """Each turn alone against the prints: named after the closest one, above `threshold`."""
    trials = Trials([], [], [])
    voices = [p.voice for p in prints.values()]
    matrix = np.stack([v.embedding for v in voices])
    names = [v.name for v in voices]
    for turn in turns:
        similarity = matrix @ turn.embedding
        own = prints.get(turn.speaker)
        if own is None:
            trials.unknown_accepted.append(bool(similarity.max() >= threshold))
            continue
        if own.recording == turn.recording and turn.start_s < own.end_s:
            continue  # the enrolment's own speech
        best = int(np.argmax(similarity))
        trials.identified.append(names[best] == turn.speaker and similarity[best] >= threshold)
        others = np.delete(similarity, names.index(turn.speaker))
        trials.impostor_accepted.append(bool(others.size and others.max() >= threshold))
    return trials


def rate(flags: list[bool]) -> str:
    return f"{sum(flags):3d}/{len(flags):<3d} {sum(flags) / max(1, len(flags)):6.1%}"


def enrol_all(
    models: ModelSet,
    audio: dict[str, np.ndarray],
    solo: dict[str, dict[str, list[Span]]],
    seconds: float,
    params: VoiceParams,
) -> dict[str, Print]:
    """Each speaker with `seconds` of speech alone in a recording, enrolled from the first
    `seconds` of it in the recording where they speak alone the longest."""
    prints: dict[str, Print] = {}
    for speaker in sorted({s for ref in solo.values() for s in ref}):
        name, spans = max(
            ((n, solo[n][speaker]) for n in solo if speaker in solo[n]),
            key=lambda pair: sum(e - s for s, e in pair[1]),
        )
        if sum(e - s for s, e in spans) < seconds:
            continue
        taken, end_s = first_seconds(spans, seconds)
        clip = np.concatenate(
            [
                audio[name][round(a * MODEL_SAMPLE_RATE) : round(b * MODEL_SAMPLE_RATE)]
                for a, b in taken
            ]
        )
        try:
            enrolment = enrol(models, clip, params)
        except EnrolmentError as error:
            print(f"  {speaker} not enrolled: {error}")
            continue
        voice = KnownVoice(speaker, enrolment.embedding)
        prints[speaker] = Print(speaker, name, taken[0][0], end_s, voice)
    return prints


HEADER = "threshold | identified      | false accept: unknown | own print left out | all impostors"


def row(threshold: float, trials: Trials) -> str:
    impostors = trials.unknown_accepted + trials.impostor_accepted
    return (
        f"{threshold:9.2f} | {rate(trials.identified)} | {rate(trials.unknown_accepted)}"
        f"   | {rate(trials.impostor_accepted)}    | {rate(impostors)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument(
        "--enrol-s", type=float, nargs="+", default=[5.0, 8.0, 12.0], help="enrolment speech (s)"
    )
    parser.add_argument("--part-s", type=float, default=PART_S, help="length of a tested part")
    parser.add_argument("--clip-s", type=float, default=VoiceParams().clip_s)
    parser.add_argument("--details", type=float, help="show the errors at this threshold")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()

    models = load_models(settings_from_env().with_overrides(asr_workers=1))
    transcriber = FileTranscriber(models)
    items = [item for item in discover(args.folder) if item.name not in CONTAINED]
    audio = {item.name: decode_file(item.audio) for item in items}
    turns = {item.name: read_turns(item.rttm) for item in items}
    solo = {
        name: {
            s: subtract(spans, [x for o, other in ref.items() if o != s for x in other])
            for s, spans in ref.items()
        }
        for name, ref in turns.items()
    }
    stretches = [
        turn for name in turns for turn in reference_turns(models, audio[name], name, solo[name])
    ]
    params = replace(VoiceParams(), clip_s=args.clip_s)
    figures: dict[str, dict[str, dict[str, float]]] = {}
    for seconds in args.enrol_s:
        prints = enrol_all(models, audio, solo, seconds, params)
        print(f"\n== enrolled from {seconds:g} s of speech alone: {len(prints)} speakers")
        for p in prints.values():
            print(f"  {p.speaker} from {p.recording} {p.start_s:.1f}-{p.end_s:.1f} s")
        parts: list[Part] = []
        for name, ref in turns.items():
            duration_s = len(audio[name]) / MODEL_SAMPLE_RATE
            starts: list[tuple[float, str | None]] = [(0.0, None)]
            starts += [(p.end_s, s) for s, p in prints.items() if p.recording == name]
            for start, from_print in starts:
                for span in part_spans(start, duration_s, args.part_s):
                    parts.append(
                        diarized(transcriber, audio[name], ref, name, span, from_print, prints)
                    )
        print(f"\nfound speakers of the pipeline, parts of {args.part_s:g} s:\n{HEADER}")
        found: dict[str, dict[str, float]] = {}
        for threshold in THRESHOLDS:
            trials = score(parts, prints, threshold)
            print(row(threshold, trials))
            impostors = trials.unknown_accepted + trials.impostor_accepted
            found[f"{threshold:.2f}"] = {
                "identified": sum(trials.identified),
                "trials": len(trials.identified),
                "false_accepts": sum(impostors),
                "impostor_trials": len(impostors),
            }
        figures[f"{seconds:g}"] = found
        print(f"\nstretches of {PIECE_S:g} s of one person's speech alone, each on its own:")
        print(HEADER)
        for threshold in THRESHOLDS:
            print(row(threshold, score_turns(stretches, prints, threshold)))
        if args.details is not None:
            print(f"\nerrors at {args.details}:")
            score(parts, prints, args.details, details=True)
        own, other = similarities(parts, prints)
        pct = [0, 5, 50, 95, 100]
        print(
            "\nfound speaker to own print (p0 / 5 / 50 / 95 / 100): "
            + " / ".join(f"{v:.2f}" for v in np.percentile(own, pct))
            + "\nto other people's prints:                       "
            + " / ".join(f"{v:.2f}" for v in np.percentile(other, pct))
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
