"""A recording transcribed a channel at a time, as one transcript (pure): AssemblyAI's
`multichannel`, for calls recorded with each party on a channel of its own.

Channels are numbered "1", "2", ... in the file's order. A channel whose speakers were not
told apart names every word by the channel ("1"); one diarized inside itself names them by
channel and letter ("1A", "1B": its `channel_name` before the letter), and an enrolled voice
by the person's name.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import replace

from streamer.core.utterances import utterances
from streamer.core.words import Transcript, Word


def channel_name(index: int) -> str:
    """0 -> "1": channels count from 1 on the wire."""
    return str(index + 1)


def merge_channels(channels: Sequence[Transcript], diarized: bool) -> Transcript:
    """One transcript of `channels` (the transcript of each, in the file's order; `diarized`:
    each found the speakers inside it, their letters after its `channel_name`): every word
    tagged with its channel, words and utterances in time order across channels (overlapping
    speech keeps both parties' words); the language is the one most of the words were heard
    in."""
    words: list[Word] = []
    languages: Counter[str] = Counter()
    for index, transcript in enumerate(channels):
        channel = channel_name(index)
        words.extend(
            replace(w, channel=channel, speaker=(w.speaker if diarized else None) or channel)
            for w in transcript.words
        )
        if transcript.language_code is not None:
            languages[transcript.language_code] += len(transcript.words) or 1
    words.sort(key=lambda w: (w.start_ms, int(w.channel or 0)))
    merged = tuple(words)
    return Transcript(
        words=merged,
        utterances=utterances(merged),
        audio_duration_s=max((t.audio_duration_s for t in channels), default=0.0),
        language_code=languages.most_common(1)[0][0] if languages else None,
        audio_channels=len(channels),
    )


def channel_speaker(
    speaker: str | None, name: str, diarized: bool, people: Collection[str] = ()
) -> str:
    """Who said a word heard live on the channel named `name`, which its session labelled
    `speaker`: the channel's name; or, where the session told the channel's speakers apart
    (`diarized`), the name and then the label ("1A"), an enrolled person (one of `people`)
    by their name, as `merge_channels` names a file's words."""
    if not diarized or speaker is None:
        return name
    return speaker if speaker in people else name + speaker
