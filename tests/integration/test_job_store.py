"""The SQLite job store on its own: leases, attempts, paging, deletion, webhooks."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from streamer.api.jobs.store import MAX_ATTEMPTS, SqliteJobStore


def test_a_job_is_leased_to_one_worker_and_claimed_again_when_the_lease_runs_out(
    tmp_path: Path,
) -> None:
    store = SqliteJobStore(tmp_path / "jobs.sqlite3")
    job = store.create("https://x.example/a.wav", None, {"speaker_labels": True})
    assert job.status == "queued" and job.request == {"speaker_labels": True}
    claimed = store.claim("w1", lease_s=0.3)
    assert claimed is not None and claimed.id == job.id and claimed.status == "processing"
    assert store.claim("w2", lease_s=0.3) is None  # leased: nobody else gets it
    assert store.renew(job.id, "w1", lease_s=0.3) and not store.renew(job.id, "w2", lease_s=0.3)
    time.sleep(0.4)  # w1 died: its lease runs out
    again = store.claim("w2", lease_s=10)
    assert again is not None and again.id == job.id and again.attempts == 2
    assert store.finish(job.id, "w1", {"text": "late"}, None) is None  # w1 lost it
    done = store.finish(job.id, "w2", {"text": "hi"}, None)
    assert done is not None and done.status == "completed" and done.result == {"text": "hi"}


def test_a_released_job_is_queued_again_without_counting_the_attempt(tmp_path: Path) -> None:
    store = SqliteJobStore(tmp_path / "jobs.sqlite3")
    job = store.create("https://x.example/a.wav", None, {})
    assert store.claim("w1", lease_s=60) is not None
    store.release("w1")  # a normal shutdown
    again = store.claim("w2", lease_s=60)
    assert again is not None and again.id == job.id and again.attempts == 1


def test_a_job_whose_worker_keeps_dying_ends_in_error(tmp_path: Path) -> None:
    store = SqliteJobStore(tmp_path / "jobs.sqlite3")
    job = store.create("https://x.example/a.wav", None, {})
    for _ in range(MAX_ATTEMPTS):
        assert store.claim("w", lease_s=0.01) is not None
        time.sleep(0.02)
    failed = store.claim("w", lease_s=0.01)
    assert failed is not None and failed.status == "error" and failed.error
    assert store.claim("w", lease_s=0.01) is None
    assert store.get(job.id) == failed


def test_concurrent_claims_never_share_a_job(tmp_path: Path) -> None:
    store = SqliteJobStore(tmp_path / "jobs.sqlite3")
    created = {store.create(f"https://x.example/{i}.wav", None, {}).id for i in range(40)}
    claimed: list[str] = []

    def worker(name: str) -> None:
        while (job := store.claim(name, lease_s=60)) is not None:
            claimed.append(job.id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(created)


def test_paging_and_deleting(tmp_path: Path) -> None:
    store = SqliteJobStore(tmp_path / "jobs.sqlite3")
    ids = [store.create(f"https://x.example/{i}.wav", "u1", {}).id for i in range(5)]
    newest = store.page(2, None, None, None, None)
    assert [j.id for j in newest] == ids[:2:-1][:2]
    older = store.page(10, None, None, newest[-1].id, None)
    assert [j.id for j in older] == ids[2::-1]
    newer = store.page(2, None, None, None, ids[0])  # the two just after the oldest
    assert [j.id for j in newer] == [ids[2], ids[1]]
    assert store.page(10, "completed", None, None, None) == []
    assert store.upload_in_use("u1")
    for job_id in ids:
        assert store.delete(job_id) is not None
    assert not store.upload_in_use("u1") and store.get(ids[0]).status == "error"  # type: ignore[union-attr]
    assert store.delete("nope") is None


def test_finishing_a_job_queues_its_webhook_in_the_same_step(tmp_path: Path) -> None:
    store = SqliteJobStore(tmp_path / "jobs.sqlite3")
    request = {
        "webhook_url": "https://x.example/hook",
        "webhook_auth_header_name": "X-Key",
        "webhook_auth_header_value": "v",
    }
    job = store.create("https://x.example/a.wav", None, request)
    assert store.claim("w", lease_s=60) is not None
    assert store.due_webhooks(time.time(), 10) == []
    store.finish(job.id, "w", None, "could not download audio_url")
    (hook,) = store.due_webhooks(time.time(), 10)
    assert hook.headers == {"X-Key": "v"}
    assert hook.body == {"transcript_id": job.id, "status": "error"}
    store.webhook_failed(hook.id, time.time() + 60)
    assert store.due_webhooks(time.time(), 10) == []
    store.webhook_done(hook.id)
    assert store.due_webhooks(time.time() + 120, 10) == []
