from streamer.core.utterances import turns_from_words, utterances
from streamer.core.words import Word
from streamer.files.windows import asr_windows


def test_asr_windows_pack_regions_up_to_the_window() -> None:
    regions = [(0.0, 5.0), (6.0, 20.0), (21.0, 29.0), (31.0, 40.0)]
    assert asr_windows(regions, max_window_s=30.0) == [(0.0, 29.0), (31.0, 40.0)]


def test_asr_windows_do_not_bridge_long_silence() -> None:
    assert asr_windows([(0.0, 2.0), (10.0, 12.0)], max_gap_s=5.0) == [(0.0, 2.0), (10.0, 12.0)]


def test_asr_windows_split_long_region_evenly() -> None:
    assert asr_windows([(0.0, 70.0)], max_window_s=30.0) == [
        (0.0, 70 / 3),
        (70 / 3, 140 / 3),
        (140 / 3, 70.0),
    ]


def test_utterances_group_consecutive_speakers() -> None:
    words = (
        Word("Hello", 0, 400, 0.9, "A"),
        Word("there.", 450, 800, 0.7, "A"),
        Word("Hi.", 1000, 1300, 0.8, "B"),
        Word("Yes.", 1500, 1700, 0.6, "A"),
    )
    result = utterances(words)
    assert [(u.speaker, u.start_ms, u.end_ms, u.text) for u in result] == [
        ("A", 0, 800, "Hello there."),
        ("B", 1000, 1300, "Hi."),
        ("A", 1500, 1700, "Yes."),
    ]
    assert result[0].confidence == 0.8
    assert result[0].words == words[:2]


def test_turns_from_words_merge_close_words_of_one_speaker() -> None:
    words = (
        Word("a", 0, 400, 0.9, "B"),
        Word("b", 600, 900, 0.9, "B"),  # 200 ms gap: same turn
        Word("c", 950, 1200, 0.9, "A"),
        Word("d", 2000, 2400, 0.9, "B"),  # 1100 ms after "b": a new turn
    )
    turns = turns_from_words(words, max_gap_ms=500)
    assert [(t.speaker, t.start_s, t.end_s) for t in turns] == [
        (0, 0.0, 0.9),
        (1, 0.95, 1.2),
        (0, 2.0, 2.4),
    ]
