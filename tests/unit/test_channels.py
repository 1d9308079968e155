"""Channels transcribed apart, merged into one transcript (`core.channels`), and what groups
words (utterances, sentences, paragraphs) grouping them a channel at a time."""

from streamer.core.channels import channel_speaker, merge_channels
from streamer.core.passages import paragraphs, sentences
from streamer.core.utterances import utterances
from streamer.core.words import Transcript, Word


def _channel(*words: tuple[str, int, int, str | None], language: str = "en") -> Transcript:
    found = tuple(Word(text, start, end, 0.9, speaker) for text, start, end, speaker in words)
    return Transcript(found, utterances(found), 30.0, language)


def test_each_word_carries_its_channel_and_is_named_by_it_without_speaker_labels() -> None:
    caller = _channel(("Hello?", 0, 400, None), ("Is", 2000, 2100, None), ("it", 2100, 2200, None))
    agent = _channel(("Hi.", 700, 900, None), ("Yes.", 2150, 2400, None))
    merged = merge_channels([caller, agent], diarized=False)
    assert merged.audio_channels == 2
    assert [(w.text, w.channel, w.speaker) for w in merged.words] == [
        ("Hello?", "1", "1"),
        ("Hi.", "2", "2"),
        ("Is", "1", "1"),
        ("it", "1", "1"),
        ("Yes.", "2", "2"),  # starts inside "it": both parties' words kept, in time order
    ]


def test_utterances_run_per_channel_and_overlap_where_the_parties_talk_at_once() -> None:
    caller = _channel(("So", 0, 200, None), ("then", 300, 500, None), ("we", 600, 800, None))
    agent = _channel(("Mhm.", 250, 450, None))
    merged = merge_channels([caller, agent], diarized=False)
    found = [(u.channel, u.speaker, u.text, u.start_ms, u.end_ms) for u in merged.utterances]
    # the agent's back-channel does not cut the caller's sentence in two
    assert found == [("1", "1", "So then we", 0, 800), ("2", "2", "Mhm.", 250, 450)]


def test_speakers_found_inside_a_channel_keep_the_letter_the_channel_gave_them() -> None:
    room = _channel(("Hi", 0, 200, "1A"), ("all.", 200, 400, "1A"), ("Hey.", 500, 700, "1B"))
    remote = _channel(("Morning.", 800, 1200, "2A"))
    merged = merge_channels([room, remote], diarized=True)
    assert [w.speaker for w in merged.words] == ["1A", "1A", "1B", "2A"]
    assert [(u.speaker, u.channel) for u in merged.utterances] == [
        ("1A", "1"),
        ("1B", "1"),
        ("2A", "2"),
    ]


def test_the_language_is_the_one_most_words_were_heard_in() -> None:
    one = _channel(("Hola", 0, 100, None), language="es")
    other = _channel(("Hello", 0, 100, None), ("there", 100, 200, None), language="en")
    assert merge_channels([one, other], diarized=False).language_code == "en"


def test_a_silent_channel_counts_but_says_nothing() -> None:
    merged = merge_channels([_channel(("Hello.", 0, 300, None)), _channel()], diarized=False)
    assert merged.audio_channels == 2
    assert [w.channel for w in merged.words] == ["1"]


def test_sentences_and_paragraphs_are_found_a_channel_at_a_time() -> None:
    words = merge_channels(
        [
            _channel(("I", 0, 100, None), ("think", 150, 300, None), ("so.", 700, 900, None)),
            _channel(("Right.", 400, 600, None)),
        ],
        diarized=False,
    ).words
    assert [s.text for s in sentences(words)] == ["I think so.", "Right."]
    assert [(p.text, p.speaker) for p in paragraphs(words)] == [
        ("I think so.", "1"),
        ("Right.", "2"),
    ]


def test_a_live_channel_names_its_words_by_itself_or_before_its_session_labels() -> None:
    assert channel_speaker("A", "1", diarized=False) == "1"
    assert channel_speaker(None, "Caller", diarized=False) == "Caller"
    assert channel_speaker("B", "2", diarized=True) == "2B"
    assert channel_speaker(None, "2", diarized=True) == "2"  # before any voice is known
    assert channel_speaker("Ada", "1", diarized=True, people={"Ada"}) == "Ada"
