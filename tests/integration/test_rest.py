"""`/v2` with the real `assemblyai` SDK and plain HTTP, against the real server and models."""

from __future__ import annotations

import io
import json
import threading
import time
import wave
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from http.server import BaseHTTPRequestHandler, HTTPServer, SimpleHTTPRequestHandler
from typing import ClassVar

import assemblyai as aai
import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.integration.conftest import AUTH, MAX_UPLOAD_BYTES, data_file, telephone_file

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def telephone_transcript(sdk: None) -> aai.Transcript:
    # "en_us" as AssemblyAI spells its default: Whisper has no regional variants
    config = aai.TranscriptionConfig(speaker_labels=True, language_code="en_us")
    return aai.Transcriber().transcribe(str(telephone_file()), config)


def wait_done(server: str, transcript_id: str, timeout_s: float = 240) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body: dict[str, object] = httpx.get(
            f"{server}/v2/transcript/{transcript_id}", headers=AUTH
        ).json()
        if body["status"] in ("completed", "error"):
            return body
        time.sleep(0.5)
    pytest.fail(f"transcript {transcript_id} never finished")


def upload(server: str, data: bytes) -> httpx.Response:
    return httpx.post(f"{server}/v2/upload", content=data, headers=AUTH, timeout=60)


def test_sdk_transcribes_a_call_with_its_two_speakers(telephone_transcript: aai.Transcript) -> None:
    transcript = telephone_transcript
    assert transcript.status == aai.TranscriptStatus.completed, transcript.error
    assert transcript.utterances and len(transcript.words or []) > 40
    assert {u.speaker for u in transcript.utterances} == {"A", "B"}
    assert all(w.speaker in ("A", "B") for w in transcript.words or [])
    assert transcript.audio_duration and transcript.audio_duration > 20


def test_sdk_exports_captions_sentences_and_paragraphs(
    telephone_transcript: aai.Transcript,
) -> None:
    srt = telephone_transcript.export_subtitles_srt(chars_per_caption=32)
    blocks = srt.strip().split("\n\n")
    assert blocks[0].startswith("1\n00:00:0") and " --> " in blocks[0]
    assert all(len(b.split("\n", 2)[2]) <= 32 + len("A: ") for b in blocks if b.count("\n") >= 2)
    vtt = telephone_transcript.export_subtitles_vtt()
    assert vtt.startswith("WEBVTT") and "A: " in vtt and "B: " in vtt
    sentences = telephone_transcript.get_sentences()
    assert len(sentences) > 5 and all(s.words and s.speaker for s in sentences)
    paragraphs = telephone_transcript.get_paragraphs()
    assert 1 < len(paragraphs) <= len(sentences)
    assert sum(len(p.words) for p in paragraphs) == len(telephone_transcript.words or [])


def test_sdk_word_search_finds_words_and_phrases(
    server: str, telephone_transcript: aai.Transcript
) -> None:
    """The SDK's `word_search` (`/word-search?words=...`): each term's count, times and
    indexes agree with the transcript's own words."""
    words = telephone_transcript.words or []
    first, second = words[3].text.strip(".,?!"), words[4].text.strip(".,?!")
    phrase = f"{first.upper()} {second}"
    found = telephone_transcript.word_search([first, phrase, "zyzzyva"])
    by_term = {m.text: m for m in found}
    assert set(by_term) == {first, phrase, "zyzzyva"}
    assert by_term["zyzzyva"].count == 0 and not by_term["zyzzyva"].indexes
    single = by_term[first]
    assert 3 in single.indexes and single.count == len(single.indexes)
    for index, (start, end) in zip(single.indexes, single.timestamps, strict=True):
        assert words[index].text.strip(".,?!'").lower() == first.lower().strip("'")
        assert (start, end) == (words[index].start, words[index].end)
    assert 3 in by_term[phrase].indexes
    at = by_term[phrase].indexes.index(3)
    assert by_term[phrase].timestamps[at] == (words[3].start, words[4].end)
    too_long = httpx.get(
        f"{server}/v2/transcript/{telephone_transcript.id}/word-search",
        params={"words": "one two three four five six"},
        headers=AUTH,
    )
    assert too_long.status_code == 400 and "1 to 5 words" in too_long.json()["error"]


def test_speakers_expected_is_honoured(sdk: None) -> None:
    """The 2-minute meeting (5 people, 3 of them with little to say) carries 2 speakers on
    its words unguided, 4 with speakers_expected=5 (the fifth wins no word)."""
    config = aai.TranscriptionConfig(speaker_labels=True, speakers_expected=5)
    transcript = aai.Transcriber().transcribe(str(data_file("ami_meeting_a_2min.flac")), config)
    assert transcript.status == aai.TranscriptStatus.completed, transcript.error
    assert 3 <= len({u.speaker for u in transcript.utterances or []}) <= 5


class _Receiver(BaseHTTPRequestHandler):
    calls: ClassVar[list[tuple[dict[str, str], dict[str, object]]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.calls.append((dict(self.headers), body))
        self.send_response(500 if len(self.calls) == 1 else 200)  # fail once: a retry comes
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_webhook_is_posted_with_its_auth_header_and_retried(server: str) -> None:
    receiver = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        upload_url = upload(server, data_file("ami_trn02.flac").read_bytes()).json()["upload_url"]
        created = httpx.post(
            f"{server}/v2/transcript",
            headers=AUTH,
            json={
                "audio_url": upload_url,
                "webhook_url": f"http://127.0.0.1:{receiver.server_port}/hook",
                "webhook_auth_header_name": "X-Secret",
                "webhook_auth_header_value": "s3cret",
            },
        ).json()
        done = wait_done(server, str(created["id"]))
        assert done["status"] == "completed"
        deadline = time.monotonic() + 20
        while len(_Receiver.calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(_Receiver.calls) == 2
        for headers, body in _Receiver.calls:
            assert body == {"transcript_id": created["id"], "status": "completed"}
            assert headers["X-Secret"] == "s3cret"
    finally:
        receiver.shutdown()


def test_list_shows_transcripts_and_filters_by_status(
    server: str, telephone_transcript: aai.Transcript
) -> None:
    listed = httpx.get(f"{server}/v2/transcript", params={"limit": 200}, headers=AUTH).json()
    ids = [t["id"] for t in listed["transcripts"]]
    assert telephone_transcript.id in ids
    assert listed["page_details"]["result_count"] == len(ids)
    completed = httpx.get(
        f"{server}/v2/transcript", params={"status": "completed"}, headers=AUTH
    ).json()
    assert completed["transcripts"]
    assert all(t["status"] == "completed" for t in completed["transcripts"])


def test_sentences_and_paragraphs_have_the_assemblyai_shape(
    server: str, telephone_transcript: aai.Transcript
) -> None:
    word_keys = {"text", "start", "end", "confidence", "speaker"}
    for kind in ("sentences", "paragraphs"):
        response = httpx.get(
            f"{server}/v2/transcript/{telephone_transcript.id}/{kind}", headers=AUTH
        )
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"id", kind, "confidence", "audio_duration"}
        assert body["id"] == telephone_transcript.id and isinstance(body["audio_duration"], int)
        assert 0 < body["confidence"] <= 1 and len(body[kind]) > 1
        for passage in body[kind]:
            assert set(passage) == word_keys | {"words"}
            words = passage["words"]
            assert words and all(set(w) == word_keys for w in words)
            assert passage["start"] == words[0]["start"] <= words[-1]["end"] == passage["end"]
            assert isinstance(passage["start"], int) and isinstance(passage["end"], int)
            assert passage["speaker"] in ("A", "B") and 0 <= passage["confidence"] <= 1
            assert all(w["text"] in passage["text"] for w in words)
        assert sum(len(p["words"]) for p in body[kind]) == len(telephone_transcript.words or [])


def _create(server: str, audio_url: str, **fields: object) -> dict[str, object]:
    response = httpx.post(
        f"{server}/v2/transcript", headers=AUTH, json={"audio_url": audio_url, **fields}
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def _get(server: str, transcript_id: object) -> dict[str, object]:
    body: dict[str, object] = httpx.get(
        f"{server}/v2/transcript/{transcript_id}", headers=AUTH
    ).json()
    return body


def _delete(server: str, transcript_id: object) -> dict[str, object]:
    response = httpx.delete(f"{server}/v2/transcript/{transcript_id}", headers=AUTH)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    assert body == _get(server, transcript_id)  # answers with the transcript as it now is
    return body


def _wait_status(server: str, transcript_id: object, status: str) -> None:
    deadline = time.monotonic() + 240
    while _get(server, transcript_id)["status"] != status:
        assert time.monotonic() < deadline, f"{transcript_id} never became {status}"
        time.sleep(0.1)


def _upload_exists(server: str, upload_url: str) -> bool:
    """Whether the server still has this upload: a job for a gone one is refused (400); a
    job it accepts is deleted at once (it never runs while the worker is busy)."""
    response = httpx.post(f"{server}/v2/transcript", headers=AUTH, json={"audio_url": upload_url})
    if response.status_code == 400 and "no such upload" in response.json()["error"]:
        return False
    assert response.status_code == 200, response.text
    _delete(server, response.json()["id"])
    return True


def _assert_deleted_before_it_finished(job: dict[str, object]) -> None:
    assert job["status"] == "error" and job["error"] == "deleted before it finished"
    assert job["text"] is None and job["words"] is None and job["utterances"] is None
    assert job["audio_url"] == "http://deleted_by_user"


def test_deleting_a_queued_a_running_and_a_completed_job(server: str, nowhere: str) -> None:
    """The server runs one job at a time (one worker), oldest first."""
    long_upload = upload(server, data_file("ami_meeting_a_2min.flac").read_bytes())
    short_upload = upload(server, data_file("ami_trn02.flac").read_bytes())
    long_url, short_url = long_upload.json()["upload_url"], short_upload.json()["upload_url"]
    running = _create(server, long_url, speaker_labels=True)
    _wait_status(server, running["id"], "processing")
    secret = {
        "webhook_url": f"{nowhere}/hook",
        "webhook_auth_header_name": "X-Secret",
        "webhook_auth_header_value": "s3cret",
    }
    queued = _create(server, short_url, **secret)  # both wait for the worker, one upload
    sharing = _create(server, short_url)
    assert _get(server, queued["id"])["status"] == "queued" and queued["webhook_auth"] is True
    assert _get(server, sharing["id"])["status"] == "queued"

    deleted_queued = _delete(server, queued["id"])
    _assert_deleted_before_it_finished(deleted_queued)
    assert deleted_queued["webhook_auth"] is False  # the secret is forgotten
    assert deleted_queued["webhook_url"] == f"{nowhere}/hook"
    time.sleep(1.0)  # let the worker get well into the models with the long one
    assert _get(server, running["id"])["status"] == "processing"
    _assert_deleted_before_it_finished(_delete(server, running["id"]))
    assert not _upload_exists(server, long_url)  # its only job is gone

    # the worker runs `sharing` only once it is done with the deleted job
    done = wait_done(server, str(sharing["id"]))
    assert done["status"] == "completed" and done["words"]  # its upload was kept for it
    # the deleted job's run has ended by now, and what it produced was thrown away
    _assert_deleted_before_it_finished(_get(server, running["id"]))
    _assert_deleted_before_it_finished(_get(server, queued["id"]))

    deleted = _delete(server, sharing["id"])  # a completed job stays completed, emptied
    assert deleted["status"] == "completed" and deleted["error"] is None
    assert deleted["text"] is None and deleted["words"] is None and deleted["utterances"] is None
    assert deleted["audio_url"] == "http://deleted_by_user"
    for route in ("srt", "vtt", "sentences", "paragraphs"):
        gone = httpx.get(f"{server}/v2/transcript/{sharing['id']}/{route}", headers=AUTH)
        assert gone.status_code == 400 and gone.json()["error"]
    assert not _upload_exists(server, short_url)  # no job uses it now
    missing = httpx.delete(f"{server}/v2/transcript/no-such-id", headers=AUTH)
    assert missing.status_code == 404 and missing.json()["error"]


def _page(url: str, **params: object) -> dict[str, object]:
    # no `params` at all for a page URL: httpx would replace its query with an empty one
    response = httpx.get(url, params=params or None, headers=AUTH)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def _ids(page: dict[str, object]) -> list[str]:
    return [t["id"] for t in page["transcripts"]]  # type: ignore[attr-defined]


def _details(page: dict[str, object]) -> dict[str, object]:
    details: dict[str, object] = page["page_details"]  # type: ignore[assignment]
    return details


def test_paging_over_http(server: str, nowhere: str) -> None:
    """Pages of the newest jobs: this test's own, as no other test makes jobs meanwhile."""
    listing = f"{server}/v2/transcript"
    ids = [str(_create(server, f"{nowhere}/page{i}.wav")["id"]) for i in range(5)]
    newest_first = ids[::-1]

    first = _page(listing, limit=2)
    assert _ids(first) == newest_first[:2]
    details = _details(first)
    assert details["limit"] == 2 and details["result_count"] == 2
    # prev_url: the older pages, each going on where the last stopped
    seen: list[str] = []
    url: object = details["prev_url"]
    seen += _ids(first)
    while len(seen) < len(ids):
        assert isinstance(url, str)
        page = _page(url)
        assert page["transcripts"], "ran out of pages"
        seen += _ids(page)
        url = _details(page)["prev_url"]
    assert seen[: len(ids)] == newest_first
    # next_url: the newer pages, from the oldest two up to an empty page past the newest
    page = _page(listing, limit=2, before_id=ids[2])
    assert _ids(page) == [ids[1], ids[0]]
    ascending = _ids(page)[::-1]
    while page["transcripts"]:
        next_url = _details(page)["next_url"]
        assert isinstance(next_url, str) and "after_id=" in next_url
        page = _page(next_url)
        ascending += _ids(page)[::-1]
    assert ascending == ids
    assert _details(page)["prev_url"] is None and _details(page)["next_url"] is None

    assert _ids(_page(listing, limit=10, before_id=ids[2]))[:2] == [ids[1], ids[0]]
    assert _ids(_page(listing, limit=2, after_id=ids[0])) == [ids[2], ids[1]]
    assert _ids(_page(listing, limit=10, after_id=ids[3])) == [ids[4]]
    assert _ids(_page(listing, after_id=ids[4])) == []
    assert _ids(_page(listing, before_id="no-such-id")) == []

    # created_on: the UTC date the job was created (today's), and no other
    created = {t["id"]: t["created"] for t in _page(listing, limit=200)["transcripts"]}  # type: ignore[attr-defined]
    day = str(created[ids[-1]])[:10]
    assert day == datetime.fromisoformat(str(created[ids[-1]])).astimezone(UTC).date().isoformat()
    mine_that_day = [i for i in newest_first if str(created[i])[:10] == day]
    on_day = _page(listing, limit=200, created_on=day)
    assert _ids(on_day)[: len(mine_that_day)] == mine_that_day
    assert all(str(t["created"]).startswith(day) for t in on_day["transcripts"])  # type: ignore[attr-defined]
    assert _ids(_page(listing, limit=200, created_on="2001-02-03")) == []
    # the filters carry over to the next page
    by_day = _page(listing, limit=2, created_on=day)
    prev_url = str(_details(by_day)["prev_url"])
    assert f"created_on={day}" in prev_url and "limit=2" in prev_url

    assert httpx.get(listing, params={"limit": 200}, headers=AUTH).status_code == 200
    for bad in ({"limit": 201}, {"limit": 0}, {"created_on": "2024-1-1"}, {"status": "done"}):
        response = httpx.get(listing, params=bad, headers=AUTH)
        assert response.status_code == 400 and response.json()["error"], bad


def _wav_header_only() -> bytes:
    with wave.open(str(telephone_file())) as source:
        params = source.getparams()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as target:
        target.setparams(params)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"", 400),  # zero bytes
        (b"these are not the sounds you are looking for\n" * 50, 400),  # not audio
        (None, 400),  # a WAV header and no samples: truncated before any audio
        (b"\0" * (MAX_UPLOAD_BYTES + 1), 413),  # over the limit
    ],
)
def test_bad_uploads_get_a_clear_4xx(server: str, data: bytes | None, status: int) -> None:
    response = upload(server, _wav_header_only() if data is None else data)
    assert response.status_code == status
    error = response.json()["error"]
    assert error and "/" not in error and "Errno" not in error  # no server path, no errno
    assert httpx.get(f"{server}/healthz").status_code == 200


def test_truncated_audio_transcribes_what_is_there(server: str) -> None:
    whole = telephone_file().read_bytes()
    cut = upload(server, whole[: len(whole) // 3])
    assert cut.status_code == 200
    created = httpx.post(
        f"{server}/v2/transcript", headers=AUTH, json={"audio_url": cut.json()["upload_url"]}
    ).json()
    done = wait_done(server, str(created["id"]))
    assert done["status"] == "completed" and done["words"]
    assert isinstance(done["audio_duration"], int) and 5 <= done["audio_duration"] <= 15


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/v2/transcript/no-such-id", None, 404),
        ("GET", "/v2/transcript/no-such-id/vtt", None, 404),
        ("POST", "/v2/transcript", b"{not json", 400),
        ("POST", "/v2/transcript", {"audio_url": 42}, 400),
        ("POST", "/v2/transcript", {"audio_url": "x", "speaker_labels": "maybe"}, 400),
        (
            "POST",
            "/v2/transcript",
            {"audio_url": "https://a.example/x", "speakers_expected": 0},
            400,
        ),
        ("POST", "/v2/transcript", {"audio_url": "file:///etc/passwd"}, 400),
        ("POST", "/v2/transcript", {}, 400),
        (
            "POST",
            "/v2/transcript",
            {"audio_url": "https://x.example", "webhook_url": "http://[::1"},
            400,
        ),
        (
            "POST",
            "/v2/transcript",
            {
                "audio_url": "https://x.example",
                "webhook_url": "https://x.example/h",
                "webhook_auth_header_name": "X-Key",
                "webhook_auth_header_value": "clé",
            },
            400,
        ),
        ("GET", "/v2/transcript?limit=0", None, 400),
    ],
)
def test_bad_requests_get_a_clear_4xx(
    server: str, method: str, path: str, body: object, status: int
) -> None:
    content = body if isinstance(body, bytes) else None
    payload = None if isinstance(body, bytes) or body is None else body
    response = httpx.request(method, f"{server}{path}", headers=AUTH, content=content, json=payload)
    assert response.status_code == status, response.text
    assert response.json()["error"]


def test_unknown_upload_of_ours_is_refused(server: str) -> None:
    gone = f"{server}/v2/upload/{'0' * 32}"
    response = httpx.post(f"{server}/v2/transcript", headers=AUTH, json={"audio_url": gone})
    assert response.status_code == 400 and "upload" in response.json()["error"]


def test_bad_key_is_401(server: str) -> None:
    for response in (
        httpx.get(f"{server}/v2/transcript", headers={"authorization": "wrong"}),
        httpx.post(f"{server}/v2/upload", content=b"x"),
        httpx.get(f"{server}/v3/token"),
    ):
        assert response.status_code == 401 and response.json()["error"]


def test_bad_json_without_a_key_is_401(server: str) -> None:
    for headers in ({}, {"authorization": "wrong"}):
        response = httpx.post(
            f"{server}/v2/transcript",
            content=b"{not json",
            headers={**headers, "content-type": "application/json"},
        )
        assert response.status_code == 401, response.text


def test_temporary_token_opens_one_stream(server: str) -> None:
    token = httpx.get(f"{server}/v3/token", params={"expires_in_seconds": 60}, headers=AUTH).json()[
        "token"
    ]
    url = server.replace("http://", "ws://") + f"/v3/ws?sample_rate=16000&token={token}"
    with connect(url) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "Begin"
        ws.send(json.dumps({"type": "Terminate"}))
        assert json.loads(ws.recv(timeout=30))["type"] == "Termination"
    with connect(url) as ws:  # used once already
        assert json.loads(ws.recv(timeout=10))["error_code"] == 4001
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)


def test_a_refused_stream_does_not_use_up_its_token(server: str) -> None:
    token = httpx.get(f"{server}/v3/token", headers=AUTH).json()["token"]
    base = server.replace("http://", "ws://") + "/v3/ws?token="
    with connect(f"{base}{token}&sample_rate=3") as ws:
        assert json.loads(ws.recv(timeout=10))["error_code"] == 3006
    with connect(f"{base}{token}&sample_rate=16000") as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "Begin"
    with connect(f"{base}tmp_%C3%A9.x&sample_rate=16000") as ws:  # not ASCII: refused, no 500
        assert json.loads(ws.recv(timeout=10))["error_code"] == 4001


def test_openapi_lists_the_routes(server: str) -> None:
    paths = httpx.get(f"{server}/openapi.json").json()["paths"]
    for path in (
        "/v2/upload",
        "/v2/transcript",
        "/v2/transcript/{transcript_id}/{caption_format}",
        "/v3/token",
    ):
        assert path in paths
    assert httpx.get(f"{server}/docs").status_code == 200


@pytest.fixture
def file_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local HTTP server holding one dev file, as a user's storage would."""
    folder = tmp_path_factory.mktemp("served")
    (folder / "call.wav").write_bytes(data_file("ami_trn02.flac").read_bytes())
    (folder / "notes.wav").write_bytes(b"RIFF\x00\x00garbage" * 40)
    handler = partial(SimpleHTTPRequestHandler, directory=str(folder))
    httpd = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def test_audio_url_is_fetched_over_http(server: str, file_server: str) -> None:
    good = httpx.post(
        f"{server}/v2/transcript", headers=AUTH, json={"audio_url": f"{file_server}/call.wav"}
    ).json()
    missing = httpx.post(
        f"{server}/v2/transcript", headers=AUTH, json={"audio_url": f"{file_server}/gone.wav"}
    ).json()
    assert wait_done(server, str(good["id"]))["status"] == "completed"
    failed = wait_done(server, str(missing["id"]))
    # not "404": an error that said what answered would let a caller map what the server reaches
    assert failed["status"] == "error" and failed["error"] == "could not fetch audio_url"
    garbage = httpx.post(
        f"{server}/v2/transcript", headers=AUTH, json={"audio_url": f"{file_server}/notes.wav"}
    ).json()
    unreadable = wait_done(server, str(garbage["id"]))
    assert unreadable["error"] == (  # the server's scratch path and FFmpeg's errno stay inside
        "not an audio file we can read: Invalid data found when processing input"
    )


def test_temporary_token_expires(server: str) -> None:
    token = httpx.get(f"{server}/v3/token", params={"expires_in_seconds": 1}, headers=AUTH).json()[
        "token"
    ]
    time.sleep(1.5)
    url = server.replace("http://", "ws://") + f"/v3/ws?sample_rate=16000&token={token}"
    with connect(url) as ws:
        assert json.loads(ws.recv(timeout=10))["error_code"] == 4001


def test_webhook_secret_is_never_echoed(server: str, nowhere: str) -> None:
    created = httpx.post(
        f"{server}/v2/transcript",
        headers=AUTH,
        json={
            "audio_url": f"{nowhere}/a.wav",
            "webhook_url": f"{nowhere}/hook",
            "webhook_auth_header_name": "X-Secret",
            "webhook_auth_header_value": "s3cret",
            "punctuate": True,  # not acted on, kept and echoed
            "speaker_options": {"use_two_stage_clustering": False},  # newer SDK options too
        },
    ).json()
    assert "s3cret" not in json.dumps(created)
    assert created["webhook_auth"] is True and created["punctuate"] is True
