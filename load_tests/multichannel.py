"""Channels as speakers: the dev telephone call split a party a channel, transcribed with
`multichannel` (each channel apart), against the mono call diarized as usual; and the same
two streamed (`/v3/ws` and `/v3/ws?channels=2`: a live session per channel).

    nice -n 5 .venv/bin/python load_tests/multichannel.py ../shared/eval/dev \\
        --json load_tests/results/multichannel.json

The split call is built from `fisher_sample` and its reference RTTM (`tools.channel_split`):
channel k holds the call where party k talks, silence elsewhere, both voices where both talk.
Scores, for both runs on the same words of reference: the share of scorable words (their
middle within 0.2 s of a reference turn) given to a party that is talking there (for the
mono call, its labels mapped one-to-one to the parties that most of their words fall in),
and each party's WER (the words given to the party against the reference words it says).
RTF is wall time per audio second, the runs one after the other in this process. The
streamed runs go through the real streaming session and models on a virtual clock
(`tools.simulation`, as `streamer eval --streaming`), a channel's session after the other's;
their words are timed by Moonshine's spread over the VAD's speech frames, not by Whisper.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from streamer.api.inference import StreamingInference
from streamer.config import settings_from_env
from streamer.core.channels import channel_name
from streamer.core.words import Word
from streamer.files.media import decode_file
from streamer.files.pipeline import FileTranscriber
from streamer.models.loader import load_models
from streamer.streaming.config import StreamConfig
from streamer.tools.channel_split import ChannelScore, best_parties, score_split, split_by_speaker
from streamer.tools.evaluation import read_rttm_turns, reference_segments
from streamer.tools.simulation import simulate

CALL = "fisher_sample"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dev", type=Path, help="the dev set folder (../shared/eval/dev)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()

    audio = decode_file(args.dev / f"{CALL}.wav")
    turns = read_rttm_turns(args.dev / f"{CALL}.rttm")
    reference = reference_segments(args.dev / f"{CALL}.json")
    parties = sorted({t.speaker for t in turns})
    transcriber = FileTranscriber(load_models(settings_from_env()))
    duration_s = len(audio) / 16000

    started = time.perf_counter()
    mono = transcriber.transcribe(audio, language="en")
    mono_rtf = (time.perf_counter() - started) / duration_s
    started = time.perf_counter()
    split = split_by_speaker(audio, turns, parties)
    channels = transcriber.transcribe_channels(list(split), language="en")
    channels_rtf = (time.perf_counter() - started) / duration_s

    inference = StreamingInference(transcriber.models)
    started = time.perf_counter()
    streamed = simulate(inference, StreamConfig(sample_rate=16000), audio).transcript.words
    streamed_rtf = (time.perf_counter() - started) / duration_s
    started = time.perf_counter()
    per_channel = StreamConfig(sample_rate=16000, speaker_labels=False)
    streamed_channels: list[Word] = []
    for index, channel in enumerate(split):
        name = channel_name(index)
        words = simulate(inference, per_channel, channel).transcript.words
        streamed_channels += [replace(w, speaker=name, channel=name) for w in words]
    streamed_channels.sort(key=lambda w: w.start_ms)
    streamed_channels_rtf = (time.perf_counter() - started) / duration_s
    by_channel = {channel_name(k): party for k, party in enumerate(parties)}

    scores = {
        "mono, diarized": (
            score_split(mono.words, best_parties(mono.words, turns), turns, reference),
            mono_rtf,
        ),
        "a party a channel": (
            score_split(channels.words, by_channel, turns, reference),
            channels_rtf,
        ),
        "streamed mono": (
            score_split(streamed, best_parties(streamed, turns), turns, reference),
            streamed_rtf,
        ),
        "streamed channels": (
            score_split(streamed_channels, by_channel, turns, reference),
            streamed_channels_rtf,
        ),
    }
    print(f"{CALL}: {duration_s:.0f} s, parties {', '.join(parties)}")
    print(
        f"{'run':<20} {'words on their party':>22} "
        + " ".join(f"{p + ' WER':>16}" for p in parties)
        + f" {'RTF':>6}"
    )
    for name, (score, rtf) in scores.items():
        print(
            f"{name:<20} {score.right:>9}/{score.scored:<3} ({score.accuracy:6.1%}) "
            + " ".join(f"{score.party_wer[p]:>16.1%}" for p in parties)
            + f" {rtf:>6.3f}"
        )
    if args.json:
        args.json.write_text(
            json.dumps({name: _json(s, rtf) for name, (s, rtf) in scores.items()}, indent=2) + "\n"
        )


def _json(score: ChannelScore, rtf: float) -> dict[str, object]:
    return {
        "words_on_their_party": score.right,
        "scored_words": score.scored,
        "accuracy": round(score.accuracy, 4),
        "party_wer": {p: round(w, 4) for p, w in score.party_wer.items()},
        "rtf": round(rtf, 4),
    }


if __name__ == "__main__":
    main()
