import numpy as np

from streamer.core.diarization import (
    UNASSIGNED,
    DiarizationParams,
    FrameGrid,
    chunk_starts,
    embedding_frames,
    frames_to_sample_spans,
    powerset_to_multilabel,
    speaker_turns,
    stitch,
)

GRID = FrameGrid(sample_rate=100, step_samples=10, receptive_field_samples=10)
"""A toy grid: frame t covers [t * 0.1 s, (t + 1) * 0.1 s)."""


def test_chunk_starts_cover_the_audio() -> None:
    assert chunk_starts(50, 100, 25) == [0]
    assert chunk_starts(100, 100, 25) == [0]
    assert chunk_starts(160, 100, 25) == [0, 25, 50, 60]


def test_powerset_decoding() -> None:
    log_probs = np.full((1, 7, 7), -10.0)
    for cls in range(7):
        log_probs[0, cls, cls] = 0.0
    multilabel = powerset_to_multilabel(log_probs)[0]
    assert multilabel.tolist() == [
        [0, 0, 0],
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
        [1, 1, 0],
        [1, 0, 1],
        [0, 1, 1],
    ]


def test_embedding_frames_prefer_frames_without_overlap() -> None:
    activity = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 0]], dtype=float)
    frames = embedding_frames(activity)
    assert frames.tolist() == [
        [True, False, False, False],
        [False, False, True, False],
        [False, False, False, False],
    ]
    only_overlap = np.array([[1, 1, 0], [1, 1, 0]], dtype=float)
    assert embedding_frames(only_overlap)[0].tolist() == [True, True]


def test_frames_to_sample_spans() -> None:
    frames = np.array([False, True, True, False, True])
    assert frames_to_sample_spans(frames, GRID, chunk_start_sample=1000) == [
        (1010, 1030),
        (1040, 1050),
    ]


def test_stitch_maps_local_speakers_to_global_ones() -> None:
    # two chunks of 4 frames, the second starting 2 frames later; local speaker numbering
    # differs between chunks but clustering says they are the same two people.
    activity = np.zeros((2, 4, 3))
    activity[0, :, 0] = [1, 1, 0, 0]
    activity[0, :, 1] = [0, 0, 1, 1]
    activity[1, :, 2] = [1, 1, 0, 0]  # = global 1
    activity[1, :, 0] = [0, 0, 1, 1]  # = global 0
    chunk_speaker = np.array([[0, 1, UNASSIGNED], [0, UNASSIGNED, 1]])
    score, binary = stitch(activity, chunk_speaker, [0, 20], GRID, num_speakers=2)
    assert binary.tolist() == [[1, 0], [1, 0], [0, 1], [0, 1], [1, 0], [1, 0]]
    assert score.shape == (6, 2)


def test_stitch_ignores_the_padding_past_the_audio_a_chunk_heard() -> None:
    # chunk 0 heard 2 frames of audio (then padding, where no one "speaks"); chunk 1, starting
    # with it, heard all 4 frames and speaker 0 in the last two
    activity = np.zeros((2, 4, 1))
    activity[0, :2, 0] = 1
    activity[1, :, 0] = 1
    chunk_speaker = np.array([[0], [0]])
    _, padded = stitch(activity, chunk_speaker, [0, 0], GRID, num_speakers=1)
    _, heard = stitch(activity, chunk_speaker, [0, 0], GRID, 1, chunk_end_samples=[20, 40])
    assert padded[:, 0].tolist() == [1, 1, 0, 0]  # half the chunks say silence: a tie, lost
    assert heard[:, 0].tolist() == [1, 1, 1, 1]


def test_speaker_turns_fill_short_gaps_and_drop_bursts() -> None:
    binary = np.zeros((30, 2))
    binary[0:5, 0] = 1
    binary[7:12, 0] = 1  # gap of 2 frames = 0.2 s: filled
    binary[20:21, 1] = 1  # 0.1 s burst: dropped
    params = DiarizationParams(min_turn_s=0.15, min_gap_s=0.25)
    turns = speaker_turns(binary, GRID, params)
    assert [(t.speaker, round(t.start_s, 3), round(t.end_s, 3)) for t in turns] == [(0, 0.0, 1.2)]
