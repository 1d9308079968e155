"""What one streaming session is set to do (from the client's params and our defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from streamer.core.clustering import ClusteringParams, OnlineParams
from streamer.core.diarization import DiarizationParams
from streamer.core.voices import KnownVoice, VoiceParams
from streamer.streaming.turns import TurnParams


@dataclass(frozen=True, slots=True)
class StreamConfig:
    sample_rate: int
    encoding: str = "pcm_s16le"
    speaker_labels: bool = True
    max_speakers: int | None = None
    format_turns: bool = False
    turn: TurnParams = field(default_factory=TurnParams)
    first_partial_s: float = 0.2
    """Re-decode after this much new audio while the turn has no words yet."""
    partial_interval_s: float = 0.5
    """Then after this much (if the last decode is back)."""
    partial_piece_fraction: float = 0.25
    """...or after this fraction of the piece the last decode heard, if longer: a partial re-decodes
    the whole piece, so its cost grows with the piece, and this keeps the decoding per second
    of speech about flat (an 8 s piece is refreshed every 2 s)."""
    partial_interval_max_s: float = 1.5
    """Under load the interval stretches toward this (or twice the piece's), before any
    partial is skipped: from one decode wanted per worker (the shell's `pressure` 1) to two
    (pressure 2). First partials and finals are not stretched."""
    min_piece_s: float = 3.0
    """A pause closes the open piece of a turn once it holds this much audio: its words are
    final and later decodes start after it, so a decode never re-reads a long turn."""
    max_piece_s: float = 8.0
    """Speech without a pause is cut (at its quietest frame) after this much."""
    speaker_context_s: float = 10.0
    """Audio before a piece's end that the segmentation sees (one model window)."""
    online: OnlineParams = field(default_factory=OnlineParams)
    revision: ClusteringParams = field(
        default_factory=lambda: ClusteringParams(linkage="average", distance_threshold=0.3)
    )
    """Re-clustering sees only the speech heard so far, often a few embeddings: average
    linkage with a margin keeps two close voices (telephone) apart where complete linkage
    tuned on meetings merged them."""
    revision_new_speaker_min_speech_s: float = 5.0
    """Speech a speaker found only by re-clustering needs before it gets a label of its own
    (online founding needs `online.new_speaker_min_speech_s` of one window). On the dev set
    streamed, 3 s left 10 phantom speakers of 24 found, 5 s (or 8 s) 7 of 22, at 2 words
    of 600 less right (`streamer eval --streaming`)."""
    diarization: DiarizationParams = field(default_factory=DiarizationParams)
    revision_move_margin: float = 0.1
    """A revision moves a stretch of speech to another speaker only when it is this much
    nearer (cosine) that speaker's centroid than its own speaker's (no flip-flopping of a
    short, ambiguous stretch)."""
    revision_turns: int = 50
    """Final turns that re-clustering revisits: older labels stay as sent. Keeps memory and
    the clustering done on the event loop bounded however long the call."""
    revision_span_s: float = 1800.0
    """...and only those that began within this long before the newest: re-clustering
    stitches one timeline over all the audio they span, so sparse turns would make each
    revision's arrays grow with the call (a revision's peak: 11 MB for 50 turns in 17
    minutes, 47 MB for 50 turns over two hours, 12 MB with this bound)."""
    buffer_s: float = 60.0
    """Audio kept per session: the longest piece plus the speaker context, with margin."""
    language: str | None = "en"
    """What the session's speech is decoded as (Whisper's code): "en" on the fast path
    (Moonshine), another language by Whisper; None: found by the first decode that hears
    `language_min_speech_s` of speech and is `language_min_confidence` sure of it, or by
    the first final (until then each decode finds its own)."""
    languages: tuple[str, ...] = ()
    """The languages a session not told its own finds it among (empty: any Whisper decodes)."""
    multilingual: bool = False
    """Turns carry `language_code` and `language_confidence` (the multilingual model)."""
    language_min_speech_s: float = 1.0
    language_min_confidence: float = 0.5
    """Whisper base on a Spanish reading: 0.5 s of it "en" at 0.30, 1 s "es" at 0.88, 4 s
    "es" at 0.95."""
    known_voices: tuple[KnownVoice, ...] = ()
    """Enrolled people: a label whose voice matches one's print carries that name."""
    voices: VoiceParams = field(default_factory=VoiceParams)


def whisper_paced(config: StreamConfig) -> StreamConfig:
    """`config` with partials as often as a stream decoded by Whisper can afford them: a
    Whisper decode costs about 0.55 s here whatever the clip's length (it pads every call to
    30 s), so the first partial after 0.5 s of speech and then one a second at most
    (Moonshine's: 0.2 s, then every 0.5 s). A multilingual stream found to be English keeps
    this pace."""
    return replace(config, first_partial_s=0.5, partial_interval_s=1.0, partial_interval_max_s=3.0)
