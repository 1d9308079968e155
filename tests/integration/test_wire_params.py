"""`/v3/ws` query params (`StreamParams`) and `UpdateConfiguration` settings (`turn_changes`)
as `streamer.api.wire` validates them, with no server: what a client may give, what it gets
refused for, and what is ignored. (The socket closes a refused query with 3006 and a refused
`UpdateConfiguration` with 4101; test_streaming_ws and test_streaming_params check that over
a real socket.) Query values arrive as strings, as a query string carries them."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from streamer.api.errors import first_problem
from streamer.api.wire import MAX_SPEAKERS, StreamParams, TranscriptRequest, turn_changes
from streamer.streaming.protocol import CloseCode, ProtocolError, TurnChanges


def refusal(query: dict[str, str]) -> str:
    """Why `query` is refused, in the one line the client is sent."""
    with pytest.raises(ValidationError) as refused:
        StreamParams.model_validate(query)
    return first_problem(refused.value)


# ---- query params -----------------------------------------------------------------------------


def test_only_sample_rate_is_required_and_the_rest_have_defaults() -> None:
    params = StreamParams.model_validate({"sample_rate": "16000"})
    assert params.sample_rate == 16000
    assert params.encoding == "pcm_s16le"
    assert params.speaker_labels is True
    assert params.max_speakers is None and params.inactivity_timeout is None
    assert params.token is None
    assert params.changes() == TurnChanges()  # every end-of-turn setting left as it is


@pytest.mark.parametrize("rate", ["8000", "16000", "44100", "48000"])
def test_sample_rates_from_8_to_48_khz_are_taken(rate: str) -> None:
    assert StreamParams.model_validate({"sample_rate": rate}).sample_rate == int(rate)


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ({}, "invalid sample_rate: Field required"),
        ({"sample_rate": "7999"}, "invalid sample_rate: Input should be greater than or equal"),
        ({"sample_rate": "48001"}, "invalid sample_rate: Input should be less than or equal"),
        ({"sample_rate": "16k"}, "invalid sample_rate: Input should be a valid integer"),
        ({"sample_rate": "16000.5"}, "invalid sample_rate: Input should be a valid integer"),
        ({"sample_rate": ""}, "invalid sample_rate: Input should be a valid integer"),
    ],
)
def test_a_missing_or_bad_sample_rate_is_refused(query: dict[str, str], problem: str) -> None:
    assert refusal(query).startswith(problem)


@pytest.mark.parametrize("encoding", ["pcm_s16le", "pcm_mulaw"])
def test_the_two_encodings_are_taken(encoding: str) -> None:
    params = StreamParams.model_validate({"sample_rate": "8000", "encoding": encoding})
    assert params.encoding == encoding


@pytest.mark.parametrize("encoding", ["opus", "PCM_S16LE", "pcm_alaw", ""])
def test_an_unknown_encoding_is_refused(encoding: str) -> None:
    problem = refusal({"sample_rate": "16000", "encoding": encoding})
    assert problem == "invalid encoding: Input should be 'pcm_s16le' or 'pcm_mulaw'"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        *[("true", True), ("True", True), ("1", True), ("yes", True), ("on", True)],
        *[("false", False), ("False", False), ("0", False), ("no", False), ("off", False)],
    ],
)
@pytest.mark.parametrize("name", ["speaker_labels", "format_turns"])
def test_booleans_read_as_a_query_string_spells_them(name: str, text: str, value: bool) -> None:
    params = StreamParams.model_validate({"sample_rate": "16000", name: text})
    assert getattr(params, name) is value


@pytest.mark.parametrize("text", ["maybe", "", "2", "yep", "truee"])
@pytest.mark.parametrize("name", ["speaker_labels", "format_turns"])
def test_a_bad_boolean_is_refused(name: str, text: str) -> None:
    problem = refusal({"sample_rate": "16000", name: text})
    assert problem.startswith(f"invalid {name}: Input should be a valid boolean")


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("end_of_turn_confidence_threshold", "1.5", "less than or equal to 1"),
        ("end_of_turn_confidence_threshold", "-0.1", "greater than or equal to 0"),
        ("min_turn_silence", "10001", "less than or equal to 10000"),
        ("min_turn_silence", "-1", "greater than or equal to 0"),
        ("min_turn_silence", "400.5", "a valid integer"),
        ("min_end_of_turn_silence_when_confident", "10001", "less than or equal to 10000"),
        ("max_turn_silence", "-1", "greater than or equal to 0"),
        ("max_turn_silence", "soon", "a valid integer"),
        ("vad_threshold", "0", "greater than 0"),
        ("vad_threshold", "1", "less than 1"),
        ("max_speakers", "0", "greater than or equal to 1"),
        ("max_speakers", "36", "less than or equal to 35"),
        ("inactivity_timeout", "4", "greater than or equal to 5"),
        ("inactivity_timeout", "3601", "less than or equal to 3600"),
    ],
)
def test_bad_or_out_of_range_settings_are_refused_naming_the_param(
    name: str, text: str, problem: str
) -> None:
    problem_given = refusal({"sample_rate": "16000", name: text})
    assert problem_given.startswith(f"invalid {name}: Input should be {problem}")


RANGES = {
    "sample_rate": ("8000", "48000"),
    "end_of_turn_confidence_threshold": ("0", "1"),
    "min_turn_silence": ("0", "10000"),
    "min_end_of_turn_silence_when_confident": ("0", "10000"),
    "max_turn_silence": ("0", "10000"),
    "vad_threshold": ("0.01", "0.99"),
    "max_speakers": ("1", "35"),
    "inactivity_timeout": ("5", "3600"),
}
"""the lowest and highest value of each numeric param that is taken"""


@pytest.mark.parametrize("end", [0, 1], ids=["lowest", "highest"])
def test_the_ends_of_each_range_are_taken(end: int) -> None:
    params = StreamParams.model_validate({name: ends[end] for name, ends in RANGES.items()})
    for name, ends in RANGES.items():
        assert getattr(params, name) == float(ends[end]), name


def test_end_of_turn_params_become_turn_changes() -> None:
    params = StreamParams.model_validate(
        {
            "sample_rate": "16000",
            "format_turns": "true",
            "end_of_turn_confidence_threshold": "0.7",
            "min_turn_silence": "300",
            "max_turn_silence": "2000",
            "vad_threshold": "0.6",
        }
    )
    assert params.changes() == TurnChanges(
        format_turns=True,
        end_of_turn_confidence_threshold=0.7,
        min_turn_silence_ms=300,
        max_turn_silence_ms=2000,
        vad_threshold=0.6,
    )


def test_the_older_name_of_min_turn_silence_is_read_and_the_new_one_wins() -> None:
    older = {"sample_rate": "16000", "min_end_of_turn_silence_when_confident": "250"}
    assert StreamParams.model_validate(older).changes().min_turn_silence_ms == 250
    both = {**older, "min_turn_silence": "500"}
    assert StreamParams.model_validate(both).changes().min_turn_silence_ms == 500


def test_unknown_query_params_are_ignored() -> None:
    """Clients send params this server does not act on (the SDK's `keyterms_prompt`,
    `voice_focus`, ...): they are neither refused nor kept."""
    query = {
        "sample_rate": "16000",
        "keyterms_prompt": '["streamer"]',
        "voice_focus": "near-field",
        "language": "xx",
        "encoding_quality": "best",
    }
    params = StreamParams.model_validate(query)
    assert params == StreamParams.model_validate({"sample_rate": "16000"})
    assert not hasattr(params, "voice_focus")


def test_the_token_param_is_kept_for_the_key_check() -> None:
    params = StreamParams.model_validate({"sample_rate": "16000", "token": "abc"})
    assert params.token == "abc"


# ---- UpdateConfiguration ---------------------------------------------------------------------


def update(**settings: Any) -> dict[str, Any]:
    return {"type": "UpdateConfiguration", **settings}


def test_update_configuration_with_nothing_changes_nothing() -> None:
    assert turn_changes(update()) == TurnChanges()
    assert turn_changes(update(max_turn_silence=None)) == TurnChanges()


def test_update_configuration_gives_the_settings_it_names() -> None:
    changes = turn_changes(
        update(
            format_turns=True,
            end_of_turn_confidence_threshold=0.6,
            min_turn_silence=200,
            max_turn_silence=900,
            vad_threshold=0.3,
        )
    )
    assert changes == TurnChanges(True, 0.6, 200, 900, 0.3)
    assert turn_changes(update(min_end_of_turn_silence_when_confident=250)) == TurnChanges(
        min_turn_silence_ms=250
    )
    assert turn_changes(update(max_turn_silence=900.0)).max_turn_silence_ms == 900  # whole


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"max_turn_silence": "soon"}, "invalid max_turn_silence: Input should be a valid integer"),
        ({"max_turn_silence": 900.7}, "invalid max_turn_silence: Input should be a valid integer"),
        ({"max_turn_silence": 10_001}, "invalid max_turn_silence: Input should be less than"),
        ({"min_turn_silence": -1}, "invalid min_turn_silence: Input should be greater than"),
        ({"vad_threshold": 1.0}, "invalid vad_threshold: Input should be less than 1"),
        ({"vad_threshold": 0}, "invalid vad_threshold: Input should be greater than 0"),
        (
            {"end_of_turn_confidence_threshold": 2},
            "invalid end_of_turn_confidence_threshold: Input should be less than or equal to 1",
        ),
        ({"format_turns": "maybe"}, "invalid format_turns: Input should be a valid boolean"),
    ],
)
def test_a_bad_update_configuration_closes_4101_naming_the_setting(
    settings: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ProtocolError) as refused:
        turn_changes(update(**settings))
    assert refused.value.code == CloseCode.INVALID_MESSAGE == 4101
    assert refused.value.reason.startswith(f"UpdateConfiguration: {problem}")


def test_update_configuration_ignores_what_it_cannot_change() -> None:
    """Only the end-of-turn settings and `format_turns` change mid-stream: a sample rate,
    encoding or speaker setting in the message is ignored (even a bad one), not refused."""
    ignored = update(sample_rate=1, encoding="opus", speaker_labels="maybe", max_speakers=99)
    assert turn_changes(ignored) == TurnChanges()
    assert turn_changes({**ignored, "format_turns": True}) == TurnChanges(format_turns=True)


def test_a_transcript_may_expect_up_to_35_speakers() -> None:
    url = {"audio_url": "http://127.0.0.1/a.wav"}
    request = TranscriptRequest.model_validate({**url, "speakers_expected": MAX_SPEAKERS})
    assert request.speaker_count().expected == 35
    with pytest.raises(ValidationError):
        TranscriptRequest.model_validate({**url, "speakers_expected": MAX_SPEAKERS + 1})
    options = {"min_speakers_expected": 30, "max_speakers_expected": 35}
    count = TranscriptRequest.model_validate({**url, "speaker_options": options}).speaker_count()
    assert (count.minimum, count.maximum) == (30, 35)


def test_a_transcript_is_decoded_in_english_unless_it_names_a_language_or_asks_to_detect() -> None:
    url = {"audio_url": "http://127.0.0.1/a.wav"}
    assert TranscriptRequest.model_validate(url).language == "en"  # AssemblyAI's en_us default
    # the SDK's LanguageCode values carry regions Whisper does not have
    for code, decoded in (("en_us", "en"), ("en_au", "en"), ("fr", "fr"), ("de", "de")):
        assert TranscriptRequest.model_validate({**url, "language_code": code}).language == decoded
    detect = {**url, "language_code": "fr", "language_detection": True}
    assert TranscriptRequest.model_validate(detect).language is None
    for bad in ("xx", "zz_us", "EN", "english"):
        with pytest.raises(ValidationError):
            TranscriptRequest.model_validate({**url, "language_code": bad})


# ---- v2 request fields acted on (README, "The v2 request") --------------------------------------

URL = {"audio_url": "http://127.0.0.1/a.wav"}


def request_refusal(fields: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as refused:
        TranscriptRequest.model_validate({**URL, **fields})
    return first_problem(refused.value)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"audio_start_from": 5000, "audio_end_at": 5000}, "audio_end_at must be after"),
        ({"audio_start_from": -1}, "audio_start_from"),
        ({"speech_threshold": 1.5}, "speech_threshold"),
        ({"language_confidence_threshold": -0.1}, "language_confidence_threshold"),
        ({"boost_param": "high"}, "boost_param"),
        ({"word_boost": ["x" * 101]}, "word_boost"),
        ({"keyterms_prompt": ["term"] * 1001}, "keyterms_prompt"),
        ({"custom_spelling": [{"from": [], "to": "X"}]}, "custom_spelling"),
        ({"custom_spelling": [{"from": ["..."], "to": "X"}]}, "each 'from' needs a word"),
        ({"custom_spelling": [{"to": "X"}]}, "custom_spelling"),
        ({"known_voices": ["v1"]}, "known_voices names speakers: it needs speaker_labels"),
        ({"punctuate": "maybe"}, "punctuate"),
        ({"auto_chapters": True}, "auto_chapters is not supported by this server"),
        ({"redact_pii": True, "redact_pii_policies": ["ssn"]}, "redact_pii is not supported"),
    ],
)
def test_a_request_field_that_cannot_be_honoured_is_refused_naming_it(
    fields: dict[str, Any], problem: str
) -> None:
    assert problem in request_refusal(fields)


def test_request_fields_become_the_pipelines_options() -> None:
    request = TranscriptRequest.model_validate(
        {
            **URL,
            "audio_start_from": 1500,
            "audio_end_at": 9000,
            "speech_threshold": 0.4,
            "language_confidence_threshold": 0.7,
            "punctuate": False,
            "format_text": False,
            "disfluencies": True,
            "filter_profanity": True,
            "custom_spelling": [{"from": ["Di Carlo", "dicarlo"], "to": "DiCarlo"}],
            "keyterms_prompt": ["Sheila", "New Jersey"],
            "word_boost": ["Yankee"],
            "boost_param": "default",
        }
    )
    options = request.file_options(frozenset({"damn"}))
    assert (options.start_s, options.end_s) == (1.5, 9.0)
    assert (options.min_speech_share, options.min_language_confidence) == (0.4, 0.7)
    rules = options.rules
    assert (rules.punctuate, rules.format_text, rules.disfluencies) == (False, False, True)
    assert rules.profane == frozenset({"damn"})
    assert [(s.said, s.written) for s in rules.spellings] == [
        (("di", "carlo"), "DiCarlo"),
        (("dicarlo",), "DiCarlo"),
    ]
    assert options.hotwords == "Sheila, New Jersey, Yankee"


def test_a_plain_request_asks_for_assemblyais_defaults() -> None:
    """Fillers left out (`disfluencies` is off by default), nothing else changed."""
    options = TranscriptRequest.model_validate(URL).file_options(frozenset({"damn"}))
    rules = options.rules
    assert not rules.disfluencies and rules.punctuate and rules.format_text
    assert rules.profane == frozenset() and rules.spellings == ()
    assert options.hotwords is None
    assert (options.start_s, options.end_s, options.min_speech_share) == (0.0, None, 0.0)


def test_a_feature_left_off_is_taken_and_echoed() -> None:
    request = TranscriptRequest.model_validate(
        {**URL, "auto_chapters": False, "summarization": None}
    )
    assert request.model_extra == {"auto_chapters": False, "summarization": None}


def test_a_stream_is_english_unless_the_multilingual_model_is_asked_for() -> None:
    def params(**query: str) -> StreamParams:
        return StreamParams.model_validate({"sample_rate": "16000", **query})

    english = params()
    assert (english.multilingual, english.language) == (False, "en")
    assert params(language_code="en_us").language == "en"
    found = params(speech_model="universal-streaming-multilingual")
    assert (found.multilingual, found.language) == (True, None)  # found from the speech
    told = params(speech_model="whisper-rt", language_code="es")
    assert (told.multilingual, told.language) == (True, "es")
    detect = params(speech_model="universal-streaming-multilingual", language_code="es")
    assert (
        params(**{**detect.model_dump(exclude_none=True), "language_detection": "true"}).language
        is None
    )
    assert "universal-streaming-multilingual" in refusal(
        {"sample_rate": "16000", "language_code": "fr"}
    )
    assert "speech_model" in refusal({"sample_rate": "16000", "speech_model": "nano"})


@pytest.mark.parametrize("codes", ['["es", "fr"]', "es,fr", "es, fr_ca"])
def test_language_codes_list_the_languages_a_stream_may_be_in(codes: str) -> None:
    query = {"sample_rate": "16000", "speech_model": "universal-streaming-multilingual"}
    several = StreamParams.model_validate({**query, "language_codes": codes})
    assert (several.language, several.languages) == (None, ("es", "fr"))  # found among them
    one = StreamParams.model_validate({**query, "language_codes": '["de"]'})
    assert (one.language, one.languages) == ("de", ("de",))  # as language_code=de
    english = StreamParams.model_validate({"sample_rate": "16000", "language_codes": "en_us"})
    assert (english.multilingual, english.language) == (False, "en")


@pytest.mark.parametrize(
    ("codes", "problem"),
    [
        ('["es", "xx"]', "unsupported language_code 'xx'"),
        ("[]", "language_codes"),
        ('["es"', "language_codes"),
        (",".join(["es"] * 21), "language_codes"),
    ],
)
def test_bad_language_codes_are_refused_naming_the_param(codes: str, problem: str) -> None:
    query = {"sample_rate": "16000", "speech_model": "universal-streaming-multilingual"}
    assert problem in refusal({**query, "language_codes": codes})


def test_language_codes_other_than_english_need_the_multilingual_model() -> None:
    reason = refusal({"sample_rate": "16000", "language_codes": "en,es"})
    assert "universal-streaming-multilingual" in reason
    both = {"speech_model": "whisper-rt", "language_code": "es", "language_codes": "es,fr"}
    assert "not both" in refusal({"sample_rate": "16000", **both})
