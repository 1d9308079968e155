"""A multilingual session (sans-I/O): what language its decodes are told, when what a
decode found becomes the session's language, and what its turns say of it."""

from __future__ import annotations

from streamer.core.words import Word
from streamer.streaming.config import StreamConfig
from streamer.streaming.pieces import HeardLanguage
from streamer.streaming.session import StreamSession
from streamer.streaming.turns import TurnParams
from tests.unit.test_session import GRID, feed, turn_of

TURN = TurnParams(min_turn_silence_ms=300, max_turn_silence_ms=600, min_speech_ms=64)
HOLA = [Word("Hola", 100, 400, 0.9)]


def multilingual(language: str | None = None) -> StreamSession:
    config = StreamConfig(sample_rate=16000, turn=TURN, language=language, multilingual=True)
    return StreamSession(config, GRID)


def test_an_english_session_tells_every_decode_english_and_its_turns_name_no_language() -> None:
    s = StreamSession(StreamConfig(sample_rate=16000, turn=TURN), GRID)
    _, requests = feed(s, 1.0, speech=True)
    assert [r.language for r in requests] == ["en"]
    turn = turn_of(s.on_decoded(requests[0], HOLA, None))
    assert turn.language_code is None and turn.language_confidence is None


def test_a_session_told_its_language_tells_its_decodes_and_its_turns() -> None:
    s = multilingual("es")
    _, requests = feed(s, 1.0, speech=True)
    assert [r.language for r in requests] == ["es"]
    turn = turn_of(s.on_decoded(requests[0], HOLA, None))
    assert (turn.language_code, turn.language_confidence) == ("es", 1.0)


def test_the_first_sure_finding_of_enough_speech_becomes_the_sessions_language() -> None:
    s = multilingual()
    _, requests = feed(s, 0.6, speech=True)
    (short,) = requests
    assert short.language is None  # not known yet: the decode finds it
    # 0.6 s heard, and not sure: the turn says what it found, the session does not take it
    turn = turn_of(
        s.on_decoded(short, [Word("Let's", 100, 400, 0.3)], None, HeardLanguage("en", 0.3))
    )
    assert (turn.language_code, turn.language_confidence) == ("en", 0.3)
    assert s.language is None
    _, requests = feed(s, 1.0, speech=True)
    (longer,) = requests
    assert longer.language is None
    turn = turn_of(s.on_decoded(longer, HOLA, None, HeardLanguage("es", 0.88)))
    assert s.language == HeardLanguage("es", 0.88)
    assert (turn.language_code, turn.language_confidence) == ("es", 0.88)
    # from now on every decode is told, the final too, and the turns carry it
    _, requests = feed(s, 1.0, speech=False)
    (final,) = [r for r in requests if r.final]
    assert final.language == "es"
    turn = turn_of(s.on_decoded(final, HOLA, None))
    assert turn.end_of_turn and (turn.language_code, turn.language_confidence) == ("es", 0.88)


def test_a_final_settles_the_language_however_little_it_heard() -> None:
    s = multilingual()
    feed(s, 0.4, speech=True)
    _, requests = feed(s, 1.0, speech=False)
    (final,) = [r for r in requests if r.final]
    assert final.language is None
    s.on_decoded(final, HOLA, None, HeardLanguage("es", 0.4))
    assert s.language == HeardLanguage("es", 0.4)


def test_a_session_found_to_be_english_goes_back_to_the_fast_path() -> None:
    s = multilingual()
    _, requests = feed(s, 1.2, speech=True)
    s.on_decoded(requests[0], [Word("Hello", 100, 400, 0.9)], None, HeardLanguage("en", 0.97))
    _, requests = feed(s, 1.0, speech=False)
    (final,) = [r for r in requests if r.final]
    assert final.language == "en"  # Moonshine's
    turn = turn_of(s.on_decoded(final, [Word("Hello", 100, 400, 0.9)], None))
    assert (turn.language_code, turn.language_confidence) == ("en", 0.97)


def test_a_session_finding_its_language_among_some_tells_its_decodes_which() -> None:
    config = StreamConfig(
        sample_rate=16000, turn=TURN, language=None, languages=("es", "fr"), multilingual=True
    )
    s = StreamSession(config, GRID)
    _, requests = feed(s, 1.0, speech=True)
    s.on_decoded(requests[0], HOLA, None, HeardLanguage("es", 0.4))  # not sure yet
    _, finals = feed(s, 1.0, speech=False)
    assert [(r.language, r.languages) for r in requests + finals] == [(None, ("es", "fr"))] * 2
    s.on_decoded(finals[0], HOLA, None, HeardLanguage("es", 0.4))  # a final settles it
    _, requests = feed(s, 1.0, speech=True)
    assert [(r.language, r.languages) for r in requests] == [("es", ())]
