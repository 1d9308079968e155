"""One speaker per sentence unless the evidence says otherwise (pure numpy).

A word's speaker is the one most active over it, and at a change of speaker the frames a
word spans are shared by both: the last word of a sentence bleeds into the next speaker,
or a change lands a word early or late. Within a sentence (words up to one that ends with
`SENTENCE_END`), a run of words given another speaker than the sentence's keeps that
speaker only on strong evidence: enough words whose scores prefer it (a word in overlapped
speech, scored near evenly, is evidence for neither), or scores that clearly prefer it on
average. A change that stays is moved to the word boundary the scores point to. A sentence of its
own ("Yeah.") is never merged into its neighbours: sentences are judged one by one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamer.core.arrays import FloatArray, IntArray
from streamer.core.word_speakers import label_runs
from streamer.core.words import SENTENCE_END, Word


@dataclass(frozen=True, slots=True)
class SentenceParams:
    min_run_words: int = 3
    """A run with this many decided words or more inside a sentence is evidence enough..."""
    decided_margin: float = 0.2
    """...a word being decided when its score for the run's speaker beats the sentence's
    speaker's by this much (scores are shares of activity, 0..1; two voices at once score
    about 0.5 each)."""
    min_run_margin: float = 0.6
    """A shorter run stays when its words' scores prefer its speaker over the sentence's by
    this much on average (scores are shares of activity, 0..1): one speaker clearly alone."""
    boundary_search_words: int = 2
    """How far (in words) a change that stays may move to where the scores put it."""


def sentences(words: list[Word] | tuple[Word, ...]) -> list[range]:
    """Index ranges of the sentences: up to and including a word ending with `SENTENCE_END`."""
    spans: list[range] = []
    start = 0
    for index, word in enumerate(words):
        if word.text.endswith(SENTENCE_END):
            spans.append(range(start, index + 1))
            start = index + 1
    if start < len(words):
        spans.append(range(start, len(words)))
    return spans


def keep_sentences_whole(
    words: list[Word] | tuple[Word, ...],
    scores: FloatArray,
    labels: IntArray,
    params: SentenceParams,
) -> IntArray:
    """`labels` (a speaker index per word; -1 none) with weak changes inside sentences
    undone and the changes that stay placed where `scores` (words x speakers) put them."""
    out = labels.copy()
    if scores.size == 0:
        return out
    for span in sentences(words):
        part = out[span.start : span.stop]
        if len(set(part.tolist())) > 1 and (part >= 0).all():
            out[span.start : span.stop] = _sentence(scores[span.start : span.stop], part, params)
    return out


def _sentence(scores: FloatArray, labels: IntArray, params: SentenceParams) -> IntArray:
    main = int(np.argmax(scores.sum(axis=0)))
    out = labels.copy()
    for first, last in label_runs(out):
        speaker = int(out[first])
        if speaker == main:
            continue
        run = slice(first, last + 1)
        margins = scores[run, speaker] - scores[run, main]
        decided = int(np.count_nonzero(margins >= params.decided_margin))
        if decided < params.min_run_words and float(np.mean(margins)) < params.min_run_margin:
            out[run] = main
    return _place_changes(scores, out, params.boundary_search_words)


def _place_changes(scores: FloatArray, labels: IntArray, reach: int) -> IntArray:
    """Move each change between two runs to the boundary (within `reach` words, never
    emptying a run) that best fits the scores: the words before it to the first speaker,
    those after to the second."""
    out = labels.copy()
    index = 0
    while index + 1 < len(runs := label_runs(out)):
        (first, last), (_, next_last) = runs[index], runs[index + 1]
        before, after = int(out[first]), int(out[next_last])
        gain = scores[:, before] - scores[:, after]  # > 0: the word is the first speaker's
        change = last + 1

        def fit(cut: int, gain: FloatArray = gain, change: int = change) -> tuple[float, int]:
            moved = gain[change:cut].sum() - gain[cut:change].sum()
            return float(moved), -abs(cut - change)  # ties: leave the change where it is

        cut = max(
            range(max(first + 1, change - reach), min(next_last, change + reach) + 1), key=fit
        )
        out[first:cut] = before
        out[cut : next_last + 1] = after
        index += 1
    return out
