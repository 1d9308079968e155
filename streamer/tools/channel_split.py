"""A call recorded a party per channel, built from a mono call and its reference speaker turns,
and how well a multichannel transcript of it keeps each party's words (benchmark and tests).

Channel k holds the call where the reference has party k talking (with `PAD_S` either side,
faded in and out over `RAMP_S`) and silence elsewhere: what a bridge recording each leg
apart gives, without the echo of the other leg a real line adds. Where both talk at once,
both channels hold both voices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import jiwer
import numpy as np
from scipy.optimize import linear_sum_assignment

from streamer.core.arrays import Float32Array
from streamer.core.attribution import ReferenceTurn
from streamer.core.audio import MODEL_SAMPLE_RATE
from streamer.core.words import Word
from streamer.tools.evaluation import normalize_text

PAD_S = 0.1
RAMP_S = 0.01
SCORING_MARGIN_S = 0.2
"""A word is its party's when its middle lies within this of one of the party's turns."""


def split_by_speaker(
    audio: Float32Array, turns: Sequence[ReferenceTurn], parties: Sequence[str]
) -> Float32Array:
    """(len(parties), samples): channel k is `audio` where `parties[k]` talks."""
    rate = MODEL_SAMPLE_RATE
    gains = np.zeros((len(parties), len(audio)), dtype=np.float32)
    for turn in turns:
        if turn.speaker in parties:
            start = max(0, round((turn.start_s - PAD_S) * rate))
            gains[parties.index(turn.speaker), start : round((turn.end_s + PAD_S) * rate)] = 1
    ramp = np.hanning(2 * round(RAMP_S * rate) + 1).astype(np.float32)
    for row in gains:
        row[:] = np.minimum(1, np.convolve(row, ramp / ramp.sum(), mode="same"))
    return gains * audio[None, :]


@dataclass(frozen=True, slots=True)
class ChannelScore:
    right: int
    """words whose middle lies in a turn of their channel's party"""
    scored: int
    """words whose middle lies in some reference turn (the others cannot be scored)"""
    party_wer: dict[str, float]
    """each party's WER: the words it was given against the words the reference gives it"""

    @property
    def accuracy(self) -> float:
        return self.right / self.scored if self.scored else 0.0


def score_split(
    words: Sequence[Word],
    party_of: dict[str, str],
    turns: Sequence[ReferenceTurn],
    reference: Sequence[tuple[float, str, str]],
) -> ChannelScore:
    """`words` (each with a speaker) against the reference `turns` and `reference` text
    ((start, speaker, text) segments); `party_of` maps a speaker label to the reference
    party it stands for (a channel's label, or a label mapped by the best assignment)."""
    right = scored = 0
    for word in words:
        middle = (word.start_ms + word.end_ms) / 2000
        speaking = {
            t.speaker
            for t in turns
            if t.start_s - SCORING_MARGIN_S <= middle <= t.end_s + SCORING_MARGIN_S
        }
        if speaking:
            scored += 1
            right += party_of.get(word.speaker or "", "") in speaking
    wer = {}
    for party in sorted({speaker for _, speaker, _ in reference}):
        said = normalize_text(" ".join(text for _, who, text in reference if who == party))
        given = " ".join(w.text for w in words if party_of.get(w.speaker or "") == party)
        wer[party] = float(jiwer.wer(said, normalize_text(given) or "<empty>"))
    return ChannelScore(right, scored, wer)


def best_parties(words: Sequence[Word], turns: Sequence[ReferenceTurn]) -> dict[str, str]:
    """Each speaker label of a mono transcript mapped to the reference party most of its
    words fall in (one-to-one, the most words kept): what `score_split` needs to score the
    mono file's words as it scores the channels'."""
    labels = sorted({w.speaker for w in words if w.speaker is not None})
    parties = sorted({t.speaker for t in turns})
    counts = np.zeros((len(labels), len(parties)))
    for word in words:
        middle = (word.start_ms + word.end_ms) / 2000
        for turn in turns:
            if word.speaker is not None and turn.start_s <= middle <= turn.end_s:
                counts[labels.index(word.speaker), parties.index(turn.speaker)] += 1
    rows, cols = linear_sum_assignment(-counts)
    return {labels[r]: parties[c] for r, c in zip(rows, cols, strict=True)}
