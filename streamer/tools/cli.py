"""`streamer serve | transcribe | stream | eval | voices | models | dev-cert`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from streamer.config import DeviceUnavailable, Settings, settings_from_env

if TYPE_CHECKING:
    from streamer.core.voices import KnownVoice

EXIT_BAD_INPUT = 2


def _common_model_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--asr-model", choices=["whisper-base", "whisper-tiny.en"])
    parser.add_argument("--threads", type=int, help="CPU threads per model")
    parser.add_argument("--device", choices=["cpu", "cuda"])


def _settings(args: argparse.Namespace) -> Settings:
    """Settings of the commands besides `serve`: one live-stream worker is all they run."""
    return settings_from_env().with_overrides(
        asr_model=args.asr_model, threads=args.threads, device=args.device, asr_workers=1
    )


def count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP + WebSocket server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--tls-cert", type=Path, help="PEM certificate: serve https:// and wss://")
    serve.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    serve.add_argument("--log-format", choices=["text", "json"])
    _common_model_flags(serve)
    serve.set_defaults(handler=_serve)

    transcribe = commands.add_parser("transcribe", help="transcribe one file with speakers")
    transcribe.add_argument("file", type=Path)
    transcribe.add_argument("--speakers-expected", type=count)
    transcribe.add_argument("--min-speakers", type=count)
    transcribe.add_argument("--max-speakers", type=count)
    transcribe.add_argument(
        "--language", default="en", help="language code such as en, en_us, fr (default: en)"
    )
    transcribe.add_argument(
        "--language-detection", action="store_true", help="detect the language instead"
    )
    transcribe.add_argument(
        "--multichannel",
        action="store_true",
        help="transcribe each channel apart: its words carry the channel, named by it",
    )
    transcribe.add_argument(
        "--channel-speakers",
        action="store_true",
        help="with --multichannel, also tell apart the speakers inside each channel (1A, 1B)",
    )
    transcribe.add_argument("--format", choices=["json", "text", "srt", "vtt"], default="json")
    transcribe.add_argument(
        "--known-voices", help="ids of enrolled voices (`streamer voices`), comma-separated"
    )
    _common_model_flags(transcribe)
    transcribe.set_defaults(handler=_transcribe)

    stream = commands.add_parser(
        "stream", help="stream a file (or the microphone) to a server, show captions"
    )
    source = stream.add_mutually_exclusive_group(required=True)
    source.add_argument("file", type=Path, nargs="?")
    source.add_argument("--mic", action="store_true", help="the microphone (`mic` extra)")
    stream.add_argument("--device", help="input device name or number for --mic")
    stream.add_argument("--url", default="ws://127.0.0.1:8000", help="server base URL")
    stream.add_argument("--api-key", help="sent as Authorization (default: STREAMER_API_KEY)")
    stream.add_argument("--speed", type=float, default=1.0, help="pace: 2 = twice real time")
    stream.set_defaults(handler=_stream)

    evaluate = commands.add_parser("eval", help="score the pipeline on a dev folder")
    evaluate.add_argument("folder", type=Path)
    evaluate.add_argument("--baseline", action="store_true", help="also run sherpa-onnx")
    evaluate.add_argument(
        "--streaming", action="store_true", help="also stream each file through a session"
    )
    evaluate.add_argument("--json", type=Path, help="write the figures to this file")
    evaluate.add_argument("--only", nargs="*", help="file names (stems) to run")
    _common_model_flags(evaluate)
    evaluate.set_defaults(handler=_evaluate)

    models = commands.add_parser("models", help="check model files against the manifest")
    models.add_argument("--verify", action="store_true", help="sha256 every file (slow)")
    _common_model_flags(models)
    models.set_defaults(handler=_models)

    dev_cert = commands.add_parser(
        "dev-cert", help="write a self-signed TLS certificate for localhost, for `serve`"
    )
    dev_cert.add_argument("--out", type=Path, default=Path("dev-cert"), help="folder to write")
    dev_cert.add_argument("--days", type=count, default=365, help="how long it is valid")
    dev_cert.set_defaults(handler=_dev_cert)

    voices = commands.add_parser(
        "voices", help="enrol, list and remove known voices (the data dir's store)"
    )
    actions = voices.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="enrol a voice from 5-60 s of one person's speech")
    add.add_argument("name")
    add.add_argument("file", type=Path)
    _common_model_flags(add)
    actions.add_parser("list", help="every enrolled voice: id, name, when")
    remove = actions.add_parser("remove", help="forget a voice")
    remove.add_argument("id")
    voices.set_defaults(handler=_voices)
    return parser


def _serve(args: argparse.Namespace) -> int:
    import ssl

    try:
        settings = settings_from_env().with_overrides(
            host=args.host,
            port=args.port,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            log_format=args.log_format,
            asr_model=args.asr_model,
            threads=args.threads,
            device=args.device,
        )
        if settings.tls_cert is not None:  # a bad pair fails here, not after the models load
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
                settings.tls_cert, settings.tls_key
            )
    except (ValueError, OSError) as error:  # ssl.SSLError is an OSError
        print(f"streamer: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT

    # only now: a bad flag or pair is answered before these slow imports
    from streamer.api.app import create_app
    from streamer.api.logs import configure_logging
    from streamer.api.serving import serve
    from streamer.models.loader import check_device

    configure_logging(settings.log_format, settings.log_level)
    check_device(settings)  # before serving: the models load in the server's lifespan
    serve(create_app(settings), settings)
    return 0


def _dev_cert(args: argparse.Namespace) -> int:
    from streamer.tools.dev_cert import DEV_CERT_HOSTS, write_dev_cert

    try:
        cert, key = write_dev_cert(args.out, args.days)
    except OSError as error:
        print(f"streamer: {error}", file=sys.stderr)
        return 1
    print(f"wrote {cert} and {key}: {', '.join(DEV_CERT_HOSTS)}, {args.days} days")
    print(f"serve:  streamer serve --tls-cert {cert} --tls-key {key}")
    print(f"trust:  NODE_EXTRA_CA_CERTS={cert} (Node), SSL_CERT_FILE={cert} (Python)")
    return 0


def _progress_bar() -> tuple[Callable[[float], None], Callable[[], None]]:
    """A tqdm bar on stderr when it is a terminal; otherwise silent."""
    if not sys.stderr.isatty():
        return (lambda _share: None), (lambda: None)
    from tqdm import tqdm

    bar = tqdm(total=100, unit="%", file=sys.stderr, leave=False)

    def update(share: float) -> None:
        bar.update(round(100 * share) - bar.n)

    return update, bar.close


def _transcribe(args: argparse.Namespace) -> int:
    # a long file is decoded to disk and read back a stretch at a time, as a job's is
    with tempfile.TemporaryDirectory(prefix="streamer-") as scratch:
        return _transcribe_in(args, Path(scratch))


def _transcribe_in(args: argparse.Namespace, scratch: Path) -> int:
    from streamer.api.wire import transcript_json
    from streamer.core import captions
    from streamer.core.clustering import SpeakerCount
    from streamer.files.media import (
        MAX_CHANNELS,
        MediaError,
        decode_channels_to_files,
        decode_to_file,
    )
    from streamer.files.pipeline import FileTranscriber
    from streamer.models.asr import LANGUAGES, whisper_language
    from streamer.models.loader import load_models

    if args.channel_speakers and not args.multichannel:
        print("streamer: --channel-speakers needs --multichannel", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        count = SpeakerCount(
            expected=args.speakers_expected,
            minimum=args.min_speakers or 1,
            maximum=args.max_speakers,
        )
        if args.multichannel:
            channels = decode_channels_to_files(args.file, scratch, MAX_CHANNELS)
        else:
            audio = decode_to_file(args.file, scratch / "audio.f32")
    except (MediaError, ValueError) as error:
        print(f"streamer: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    language = None if args.language_detection else whisper_language(args.language)
    if language is not None and language not in LANGUAGES:
        print(f"streamer: --language: unsupported language {args.language!r}", file=sys.stderr)
        return EXIT_BAD_INPUT
    settings = _settings(args)
    try:
        known = _known_voices(settings, args.known_voices)
    except LookupError as error:
        print(f"streamer: --known-voices: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    transcriber = FileTranscriber(load_models(settings))
    update, close = _progress_bar()
    try:
        if args.multichannel:
            transcript = transcriber.transcribe_channels(
                channels, count, language, args.channel_speakers, update, known
            )
        else:
            transcript = transcriber.transcribe(
                audio, count, language, progress=update, known_voices=known
            )
    finally:
        close()
    if args.format == "json":
        labels = not args.multichannel or args.channel_speakers
        body = transcript_json(
            transcript,
            audio_url=str(args.file),
            speaker_labels=labels,
            multichannel=args.multichannel,
        )
        print(json.dumps(body, indent=2, ensure_ascii=False))
    elif args.format == "text":
        print(captions.plain_text(transcript), end="")
    elif args.format == "srt":
        print(captions.srt(transcript), end="")
    else:
        print(captions.vtt(transcript), end="")
    return 0


def _known_voices(settings: Settings, ids: str | None) -> list[KnownVoice]:
    """The enrolled voices of comma-separated `ids`; `LookupError` naming those unknown."""
    if not ids:
        return []
    from streamer.api.schema import open_database
    from streamer.api.voice_store import SqlVoiceStore

    wanted = [part.strip() for part in ids.split(",") if part.strip()]
    store = SqlVoiceStore(open_database(settings.database))
    return [voice.known() for voice in store.get_many(wanted, key_id=None)]


def _voices(args: argparse.Namespace) -> int:
    from streamer.api.schema import open_database
    from streamer.api.voice_store import SqlVoiceStore
    from streamer.api.wire import voice_json

    settings = settings_from_env()
    store = SqlVoiceStore(open_database(settings.database))  # the operator's: every key's
    if args.action == "list":
        for voice in store.voices(key_id=None):
            shown = voice_json(voice.id, voice.name, voice.created)
            print(f"{voice.id}\t{voice.name}\t{shown['created']}\t{voice.speech_s:.1f} s")
        return 0
    if args.action == "remove":
        removed = store.delete(args.id, key_id=None)
        if removed is None:
            print(f"streamer: no voice with id {args.id}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"removed {removed.id} ({removed.name})")
        return 0
    from streamer.core.voices import voice_name
    from streamer.files.media import MediaError, decode_file
    from streamer.files.voiceprints import EnrolmentError, enrol
    from streamer.models.loader import load_models

    try:
        name = voice_name(args.name)
        audio = decode_file(args.file)
        models = load_models(_settings(args))
        enrolment = enrol(models, audio)
    except (MediaError, EnrolmentError, ValueError) as error:
        print(f"streamer: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    voice = store.add(name, enrolment.embedding, enrolment.speech_s, key_id=None)
    print(json.dumps(voice_json(voice.id, voice.name, voice.created)))
    return 0


def _stream(args: argparse.Namespace) -> int:
    from streamer.files.media import MediaError, decode_file
    from streamer.tools import stream_client

    if args.speed <= 0:
        print("streamer: --speed must be positive", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.mic:
        try:
            chunks = stream_client.microphone_chunks(args.device)
        except RuntimeError as error:
            print(f"streamer: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
    else:
        try:
            chunks = stream_client.file_chunks(decode_file(args.file), args.speed)
        except MediaError as error:
            print(f"streamer: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
    api_key = args.api_key or os.environ.get("STREAMER_API_KEY")
    try:
        return stream_client.run(args.url.rstrip("/"), chunks, api_key)
    except OSError as error:
        print(f"streamer: cannot reach {args.url}: {error}", file=sys.stderr)
        return 1


def _evaluate(args: argparse.Namespace) -> int:
    from streamer.core.arrays import Float32Array
    from streamer.files.pipeline import FileTranscriber
    from streamer.models.asr import DEFAULT_LANGUAGE
    from streamer.models.loader import load_models
    from streamer.tools import evaluation

    items = evaluation.discover(args.folder)
    if args.only:
        items = [i for i in items if i.name in set(args.only)]
    if not items:
        print(f"streamer: no audio with an .rttm reference in {args.folder}", file=sys.stderr)
        return EXIT_BAD_INPUT
    settings = _settings(args)
    transcriber = FileTranscriber(load_models(settings))

    def run_ours(audio: Float32Array) -> evaluation.SystemOutput:
        transcript = transcriber.transcribe(audio, language=DEFAULT_LANGUAGE)
        return evaluation.SystemOutput(transcript.speaker_turns, transcript)

    systems: list[tuple[evaluation.Summary, evaluation.SystemRun]] = [
        (evaluation.Summary(system="streamer"), run_ours)
    ]
    if args.streaming:
        from streamer.api.inference import StreamingInference
        from streamer.core.utterances import turns_from_words
        from streamer.streaming.config import StreamConfig
        from streamer.tools.simulation import simulate

        inference = StreamingInference(transcriber.models)

        def run_streaming(audio: Float32Array) -> evaluation.SystemOutput:
            result = simulate(inference, StreamConfig(sample_rate=16000), audio)
            turns = tuple(turns_from_words(result.transcript.words))
            return evaluation.SystemOutput(turns, result.transcript, result.stats)

        systems.append((evaluation.Summary(system="streamer streaming"), run_streaming))
    if args.baseline:
        from streamer.models.loader import baseline_model_files
        from streamer.tools.baseline import SherpaBaseline

        baseline = SherpaBaseline(*baseline_model_files(settings), settings.threads)
        systems.append(
            (
                evaluation.Summary(system="sherpa-onnx"),
                lambda audio: evaluation.SystemOutput(baseline.turns(audio)),
            )
        )
    for item in items:
        for summary, run in systems:
            summary.files.append(evaluation.evaluate_item(item, summary.system, run))
        print(f"scored {item.name}", file=sys.stderr)
    summaries = [summary for summary, _ in systems]
    print(evaluation.format_table(summaries))
    for summary in summaries:
        if any(f.streaming for f in summary.files):
            print(f"\nStreaming latency (s, p50 / p95), {summary.system}:")
            print(evaluation.format_streaming_table(summary))
    if args.json:
        args.json.write_text(json.dumps(evaluation.to_json(summaries), indent=2))
    return 0


def _models(args: argparse.Namespace) -> int:
    from streamer.models.manifest import (
        ModelFileError,
        load_manifest,
        model_path,
        verify_sources,
    )

    settings = _settings(args)
    try:
        for name, entry in load_manifest(settings.models_dir).items():
            if args.verify:
                verify_sources(entry, settings.models_dir)
            folder = model_path(
                name, entry, settings.models_dir, settings.model_cache_dir, args.verify
            )
            print(f"{name}: {folder}")
    except ModelFileError as error:
        print(f"streamer: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.handler is not _serve:  # `serve` sets up its own (STREAMER_LOG_FORMAT, text|json)
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        # faster-whisper logs every call at INFO.
        logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except DeviceUnavailable as error:
        print(f"streamer: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
