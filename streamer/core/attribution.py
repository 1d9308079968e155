"""Who said each word, scored against reference speaker turns (pure): word speaker accuracy,
boundary bleed, short-utterance accuracy, phantom speakers, phantom turns and turns per minute.

The rules, exactly (seconds). Only the scored regions (the UEM) count: found words whose
midpoint lies in one, and the reference turns cut to them.
- A word's reference speaker is the reference speaker active over the largest part of its span.
  A word with no reference speech over its span is "outside"; one with more than half of its
  span in overlapped reference speech (two or more speakers active), or that two speakers cover
  equally, is "shared". Neither is scored: the reference cannot say whose it is.
- Word speaker accuracy: the share of scored words whose found speaker maps to their reference
  speaker, under the one-to-one mapping of found to reference speakers that gets the most scored
  words right. A found speaker with no scored word of its match maps to none.
- Short-utterance accuracy: the same (the same mapping), over the scored words whose reference
  turn (the RTTM line of their reference speaker covering most of the word) is shorter than
  `SHORT_TURN_S`.
- Boundary bleed: sentences are the found words up to each word ending in `SENTENCE_END`. The
  first and the last word of a sentence of two or more words are its edges; the rest is the
  sentence without that edge. A label agrees with the rest when it is one of the most frequent
  labels of the rest. An edge is checked when it is scored and its reference speaker agrees with
  those of the rest's scored words (the reference has no change there); it bleeds when its found
  speaker does not agree with the rest's found speakers. Bleed is bled / checked edges. No
  mapping is involved: it asks whether labels keep together where the truth does.
- Phantom speakers: found speakers that map to no reference speaker, or whose words span under
  `PHANTOM_SPEECH_S` in all (so a rightly found speaker of one short reply counts too). Two
  kinds of them are counted apart as well, to tell a split or invented voice from a real
  person the rules cannot credit: those heard in overlap (unmapped, yet matched one to one
  with a reference speaker the mapping left unused who is active, overlap included, over at
  least half of their words) and those of a short speaker (mapped to a reference speaker
  whose turns span under `PHANTOM_SPEECH_S` in all).
- Phantom turns: found speaker changes (consecutive words, in time order, of different
  speakers) with no reference change within `CHANGE_TOLERANCE_S` of the gap between the two
  words. The reference changes wherever the set of active reference speakers differs from one
  stretch of speech to the next: one speaker pausing is no change, another speaker starting or
  stopping over them is (the change spans the pause between the stretches, if any).
- Turns per minute: found turns are runs of consecutive words of one speaker; reference turns
  are runs of its current speaker, the active one who started talking last (a pause keeps the
  speaker; a back-channel inside a long turn makes three turns, as it does in words). Both over
  the minutes of the scored regions.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from enum import Enum
from itertools import pairwise

import numpy as np
from scipy.optimize import linear_sum_assignment

from streamer.core.words import SENTENCE_END, Word

SHORT_TURN_S = 1.0
"""Reference turns shorter than this are short utterances ("Yeah.", "Okay.")."""
PHANTOM_SPEECH_S = 2.0
"""A found speaker whose words span less than this in all is a phantom."""
CHANGE_TOLERANCE_S = 0.5
"""A found speaker change is real when a reference change lies this close to it."""
_MIN_SPAN_S = 0.001
"""A word without duration is scored over this much."""


@dataclass(frozen=True, slots=True)
class ReferenceTurn:
    """One reference RTTM line: a speaker talking from `start_s` to `end_s`."""

    speaker: str
    start_s: float
    end_s: float


class Unscored(Enum):
    """Why a word has no reference speaker."""

    OUTSIDE = "outside reference speech"
    SHARED = "shared by reference speakers (overlap)"


@dataclass(frozen=True, slots=True)
class Attribution:
    """Counts of one file (or several pooled: `pooled`); the rates are properties."""

    words: int = 0
    """found words in the scored regions"""
    words_scored: int = 0
    words_shared: int = 0
    words_outside: int = 0
    words_right: int = 0
    short_scored: int = 0
    short_right: int = 0
    edges_checked: int = 0
    edges_bled: int = 0
    found_speakers: int = 0
    phantom_speakers: int = 0
    unmapped_speakers: int = 0
    """the phantoms that map to no reference speaker (the others hold under 2 s)"""
    phantoms_in_overlap: int = 0
    """unmapped phantoms that are a reference speaker heard in overlap"""
    phantoms_of_short_speakers: int = 0
    """mapped phantoms whose reference speaker speaks under 2 s in all"""
    found_changes: int = 0
    phantom_changes: int = 0
    found_turns: int = 0
    reference_turns: int = 0
    minutes: float = 0.0

    @property
    def word_accuracy(self) -> float | None:
        return _share(self.words_right, self.words_scored)

    @property
    def short_accuracy(self) -> float | None:
        return _share(self.short_right, self.short_scored)

    @property
    def boundary_bleed(self) -> float | None:
        return _share(self.edges_bled, self.edges_checked)

    @property
    def phantom_turn_share(self) -> float | None:
        return _share(self.phantom_changes, self.found_changes)

    @property
    def found_turns_per_min(self) -> float | None:
        return self.found_turns / self.minutes if self.minutes else None

    @property
    def reference_turns_per_min(self) -> float | None:
        return self.reference_turns / self.minutes if self.minutes else None

    def rates(self) -> dict[str, float | None]:
        return {
            "word_accuracy": self.word_accuracy,
            "short_accuracy": self.short_accuracy,
            "boundary_bleed": self.boundary_bleed,
            "phantom_turn_share": self.phantom_turn_share,
            "found_turns_per_min": self.found_turns_per_min,
            "reference_turns_per_min": self.reference_turns_per_min,
        }


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def pooled(scores: Iterable[Attribution]) -> Attribution:
    """Several files as one: every count summed (so rates are over all words, not averaged)."""
    scores = list(scores)
    if not scores:
        return Attribution()
    return Attribution(
        **{f.name: sum(getattr(s, f.name) for s in scores) for f in fields(Attribution)}
    )


@dataclass(frozen=True, slots=True)
class Stretch:
    """A stretch of reference time in which the same speakers are active (never none)."""

    start_s: float
    end_s: float
    speakers: frozenset[str]


def stretches(turns: Sequence[ReferenceTurn]) -> list[Stretch]:
    """The reference cut at every turn boundary, silences left out, in time order."""
    bounds = sorted({t.start_s for t in turns} | {t.end_s for t in turns})
    found = []
    for start, end in pairwise(bounds):
        middle = (start + end) / 2
        active = frozenset(t.speaker for t in turns if t.start_s <= middle < t.end_s)
        if active:
            found.append(Stretch(start, end, active))
    return found


def crop(
    turns: Iterable[ReferenceTurn], regions: Sequence[tuple[float, float]]
) -> list[ReferenceTurn]:
    """The turns cut to the scored regions (a turn across two regions gives two)."""
    cropped = []
    for turn in turns:
        for start, end in regions:
            lo, hi = max(turn.start_s, start), min(turn.end_s, end)
            if hi > lo:
                cropped.append(ReferenceTurn(turn.speaker, lo, hi))
    return sorted(cropped, key=lambda t: (t.start_s, t.end_s, t.speaker))


def reference_speaker(start_s: float, end_s: float, timeline: Sequence[Stretch]) -> str | Unscored:
    """The reference speaker active over most of [start_s, end_s] (`timeline`: `stretches` of
    the reference), or why there is none."""
    end_s = max(end_s, start_s + _MIN_SPAN_S)
    covered: dict[str, float] = {}
    overlapped = 0.0
    first = bisect_right(timeline, start_s, key=lambda stretch: stretch.end_s)
    for stretch in timeline[first:]:
        if stretch.start_s >= end_s:
            break
        length = min(stretch.end_s, end_s) - max(stretch.start_s, start_s)
        if length <= 0:
            continue
        for speaker in stretch.speakers:
            covered[speaker] = covered.get(speaker, 0.0) + length
        if len(stretch.speakers) > 1:
            overlapped += length
    if not covered:
        return Unscored.OUTSIDE
    most = max(covered.values())
    leaders = [s for s, length in covered.items() if length == most]
    if overlapped > (end_s - start_s) / 2 or len(leaders) > 1:
        return Unscored.SHARED
    return leaders[0]


def best_mapping(
    counts: dict[tuple[str | None, str], int],
) -> dict[str | None, str]:
    """Found -> reference speaker, one to one, with the most words right (`counts`: words per
    (found, reference) pair). A found speaker with no word of its match maps to none."""
    found = sorted({f for f, _ in counts}, key=lambda s: (s is None, s or ""))
    reference = sorted({r for _, r in counts})
    if not found:
        return {}
    matrix = np.array([[counts.get((f, r), 0) for r in reference] for f in found])
    rows, cols = linear_sum_assignment(-matrix)
    return {
        found[row]: reference[col]
        for row, col in zip(rows.tolist(), cols.tolist(), strict=True)
        if matrix[row, col] > 0
    }


def active_speakers(start_s: float, end_s: float, timeline: Sequence[Stretch]) -> set[str]:
    """The reference speakers active at any time in [start_s, end_s]."""
    active: set[str] = set()
    first = bisect_right(timeline, start_s, key=lambda stretch: stretch.end_s)
    for stretch in timeline[first:]:
        if stretch.start_s >= end_s:
            break
        active |= stretch.speakers
    return active


def _matched_in_overlap(
    spoken: dict[str | None, list[Word]],
    mapping: dict[str | None, str],
    turns: Sequence[ReferenceTurn],
    timeline: Sequence[Stretch],
) -> int:
    """How many unmapped found speakers match, one to one, a reference speaker the mapping
    left unused who is active (overlap included) over at least half of their words."""
    unused = {t.speaker for t in turns} - set(mapping.values())
    counts: dict[tuple[str | None, str], int] = {}
    for speaker, words in spoken.items():
        if speaker in mapping:
            continue
        for word in words:
            for other in active_speakers(*_span(word), timeline) & unused:
                counts[(speaker, other)] = counts.get((speaker, other), 0) + 1
    matched = best_mapping(counts)
    return sum(2 * counts[(found, ref)] >= len(spoken[found]) for found, ref in matched.items())


def _agrees(label: str | None, labels: Sequence[str | None]) -> bool:
    """Whether `label` is one of the most frequent of `labels`."""
    counts: dict[str | None, int] = {}
    for other in labels:
        counts[other] = counts.get(other, 0) + 1
    return counts.get(label, 0) == max(counts.values())


def sentences(words: Sequence[Word]) -> list[list[int]]:
    """Indexes of the words of each sentence: up to each word ending in `SENTENCE_END`."""
    found: list[list[int]] = [[]]
    for index, word in enumerate(words):
        found[-1].append(index)
        if word.text.endswith(SENTENCE_END):
            found.append([])
    return [sentence for sentence in found if sentence]


def _bleed(words: Sequence[Word], refs: Sequence[str | Unscored]) -> tuple[int, int]:
    """(edges checked, edges bled) over the sentences of `words`."""
    checked = bled = 0
    for sentence in sentences(words):
        if len(sentence) < 2:
            continue
        for edge in (sentence[0], sentence[-1]):
            rest = [i for i in sentence if i != edge]
            edge_ref = refs[edge]
            rest_refs = [r for i in rest if not isinstance(r := refs[i], Unscored)]
            if isinstance(edge_ref, Unscored) or not rest_refs or not _agrees(edge_ref, rest_refs):
                continue
            checked += 1
            bled += not _agrees(words[edge].speaker, [words[i].speaker for i in rest])
    return checked, bled


def _changes(timeline: Sequence[Stretch]) -> list[tuple[float, float]]:
    """The reference's speaker changes: (end of one stretch, start of the next) where the next
    stretch of speech has other speakers active."""
    return [
        (before.end_s, after.start_s)
        for before, after in pairwise(timeline)
        if before.speakers != after.speakers
    ]


def _reference_turns(timeline: Sequence[Stretch]) -> int:
    """Runs of the reference's current speaker: the active one who started talking last (the
    first in label order among equals); a pause keeps the speaker."""
    joined: dict[str, float] = {}
    current: str | None = None
    turns = 0
    previous_end: float | None = None
    for stretch in timeline:
        if previous_end is not None and stretch.start_s > previous_end:
            joined = {}  # a pause: everyone who talks next starts anew
        joined = {s: joined.get(s, stretch.start_s) for s in stretch.speakers}
        latest = max(joined.values())
        speaker = min(s for s, t in joined.items() if t == latest)
        if speaker != current:
            turns += 1
            current = speaker
        previous_end = stretch.end_s
    return turns


def _span(word: Word) -> tuple[float, float]:
    """A word's span in seconds, at least `_MIN_SPAN_S` long."""
    start = word.start_ms / 1000
    return start, max(word.end_ms / 1000, start + _MIN_SPAN_S)


def _near(lo: float, hi: float, changes: Sequence[tuple[float, float]]) -> bool:
    return any(a - CHANGE_TOLERANCE_S <= hi and b + CHANGE_TOLERANCE_S >= lo for a, b in changes)


def _speech_s(words: Iterable[Word]) -> float:
    """Seconds the words span, overlaps counted once."""
    total, reach = 0, None
    for word in sorted(words, key=lambda w: w.start_ms):
        start = word.start_ms if reach is None else max(word.start_ms, reach)
        if word.end_ms > start:
            total += word.end_ms - start
        reach = word.end_ms if reach is None else max(reach, word.end_ms)
    return total / 1000


def attribution(
    words: Sequence[Word],
    reference: Iterable[ReferenceTurn],
    regions: Sequence[tuple[float, float]],
) -> Attribution:
    """Score the found words' speakers against the reference turns over the scored regions
    (see the module's docstring for the rules)."""
    turns = crop(reference, regions)
    timeline = stretches(turns)
    kept = sorted(
        (w for w in words if any(a <= (w.start_ms + w.end_ms) / 2000 <= b for a, b in regions)),
        key=lambda w: w.start_ms,
    )
    refs = [reference_speaker(*_span(w), timeline) for w in kept]
    counts: dict[tuple[str | None, str], int] = {}
    for word, ref in zip(kept, refs, strict=True):
        if not isinstance(ref, Unscored):
            counts[(word.speaker, ref)] = counts.get((word.speaker, ref), 0) + 1
    mapping = best_mapping(counts)
    short_scored = short_right = 0
    for word, ref in zip(kept, refs, strict=True):
        if isinstance(ref, Unscored):
            continue
        start, end = _span(word)
        own = max(
            (t for t in turns if t.speaker == ref),
            key=lambda t: min(t.end_s, end) - max(t.start_s, start),
        )
        if own.end_s - own.start_s < SHORT_TURN_S:
            short_scored += 1
            short_right += mapping.get(word.speaker) == ref
    speakers: dict[str | None, list[Word]] = {}
    for word in kept:
        speakers.setdefault(word.speaker, []).append(word)
    phantoms = sum(
        speaker not in mapping or _speech_s(spoken) < PHANTOM_SPEECH_S
        for speaker, spoken in speakers.items()
    )
    unmapped = sum(speaker not in mapping for speaker in speakers)
    reference_speech: dict[str, float] = {}
    for stretch in timeline:
        for other in stretch.speakers:
            length = stretch.end_s - stretch.start_s
            reference_speech[other] = reference_speech.get(other, 0.0) + length
    of_short_speakers = sum(
        speaker in mapping
        and _speech_s(spoken) < PHANTOM_SPEECH_S
        and reference_speech[mapping[speaker]] < PHANTOM_SPEECH_S
        for speaker, spoken in speakers.items()
    )
    changes = _changes(timeline)
    found_changes = phantom_changes = 0
    for before, after in pairwise(kept):
        if before.speaker == after.speaker:
            continue
        found_changes += 1
        lo, hi = sorted((before.end_ms / 1000, after.start_ms / 1000))
        phantom_changes += not _near(lo, hi, changes)
    checked, bled = _bleed(kept, refs)
    return Attribution(
        words=len(kept),
        words_scored=sum(counts.values()),
        words_shared=refs.count(Unscored.SHARED),
        words_outside=refs.count(Unscored.OUTSIDE),
        words_right=sum(counts[(f, r)] for f, r in mapping.items()),
        short_scored=short_scored,
        short_right=short_right,
        edges_checked=checked,
        edges_bled=bled,
        found_speakers=len(speakers),
        phantom_speakers=phantoms,
        unmapped_speakers=unmapped,
        phantoms_in_overlap=_matched_in_overlap(speakers, mapping, turns, timeline),
        phantoms_of_short_speakers=of_short_speakers,
        found_changes=found_changes,
        phantom_changes=phantom_changes,
        found_turns=found_changes + 1 if kept else 0,
        reference_turns=_reference_turns(timeline),
        minutes=sum(b - a for a, b in regions) / 60,
    )
