"""Throughput of the transcript job pool: every audio file of a folder is uploaded and queued
at once against a running server, and the wall time until all are completed gives audio hours
transcribed per hour.

    STREAMER_JOB_WORKERS=2 .venv/bin/streamer serve --port 8000 &
    .venv/bin/python load_tests/job_throughput.py ../shared/eval/dev --url http://127.0.0.1:8000

Prints the job count, audio duration, wall time and audio hours per hour (with speaker
labels). Sends traffic to the given URL only (use loopback).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import httpx

AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".m4a", ".ogg", ".opus", ".webm"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--api-key")
    args = parser.parse_args()
    headers = {"authorization": args.api_key} if args.api_key else {}
    files = sorted(p for p in args.folder.iterdir() if p.suffix in AUDIO_SUFFIXES)
    with httpx.Client(base_url=args.url, headers=headers, timeout=120) as client:
        uploads = [client.post("/v2/upload", content=f.read_bytes()).json() for f in files]
        started = time.monotonic()
        ids = [
            client.post(
                "/v2/transcript", json={"audio_url": u["upload_url"], "speaker_labels": True}
            ).json()["id"]
            for u in uploads
        ]
        pending, audio_s = set(ids), 0.0
        while pending:
            time.sleep(0.5)
            for transcript_id in list(pending):
                body = client.get(f"/v2/transcript/{transcript_id}").json()
                if body["status"] in ("completed", "error"):
                    pending.discard(transcript_id)
                    audio_s += body.get("audio_duration") or 0
                    if body["status"] == "error":
                        print(f"{transcript_id}: {body['error']}")
        wall_s = time.monotonic() - started
    print(
        f"{len(ids)} jobs, {audio_s / 60:.1f} min of audio in {wall_s:.1f} s: "
        f"{audio_s / wall_s:.1f} audio hours per hour"
    )


if __name__ == "__main__":
    main()
