"""The job store on its own, on SQLite and on PostgreSQL: leases, attempts, paging, deletion,
webhooks, migrations."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import text

from streamer.api.database import Database
from streamer.api.jobs.store import DELETED_AUDIO_URL, MAX_RUN_ATTEMPTS, SqlJobStore
from streamer.api.schema import MIGRATIONS, open_database
from tests.integration.conftest import FakeClock


def test_a_job_is_leased_to_one_worker_and_claimed_again_when_the_lease_runs_out(
    database: Database,
) -> None:
    clock = FakeClock()
    store = SqlJobStore(database, clock=clock)
    job = store.create("https://x.example/a.wav", None, {"speaker_labels": True})
    assert job.status == "queued" and job.request == {"speaker_labels": True}
    assert job.created == clock.now
    claimed = store.claim("w1", lease_s=10)
    assert claimed is not None and claimed.id == job.id and claimed.status == "processing"
    assert store.claim("w2", lease_s=10) is None  # leased: nobody else gets it
    clock.advance(9)
    assert store.claim("w2", lease_s=10) is None  # 1 s of the lease left
    assert store.renew(job.id, "w1", lease_s=10) and not store.renew(job.id, "w2", lease_s=10)
    clock.advance(9)  # 18 s after the claim: alive only because w1 renewed at 9 s
    assert store.claim("w2", lease_s=10) is None
    clock.advance(1.5)  # w1 died after renewing: its lease (to 19 s) runs out
    again = store.claim("w2", lease_s=10)
    assert again is not None and again.id == job.id and again.attempts == 2
    assert not store.renew(job.id, "w1", lease_s=10)  # w1 lost it
    assert store.finish(job.id, "w1", {"text": "late"}, None) is None
    clock.advance(2)
    done = store.finish(job.id, "w2", {"text": "hi"}, None)
    assert done is not None and done.status == "completed" and done.result == {"text": "hi"}
    assert done.completed == clock.now and done.attempts == 2


def test_a_released_job_is_queued_again_without_counting_the_attempt(database: Database) -> None:
    store = SqlJobStore(database, clock=FakeClock())
    job = store.create("https://x.example/a.wav", None, {})
    assert store.claim("w1", lease_s=60) is not None
    store.release("w1")  # a normal shutdown
    assert store.get(job.id).status == "queued"  # type: ignore[union-attr]
    again = store.claim("w2", lease_s=60)  # at once: no lease to wait for
    assert again is not None and again.id == job.id and again.attempts == 1


def test_a_job_whose_worker_keeps_dying_ends_in_error(database: Database) -> None:
    clock = FakeClock()
    store = SqlJobStore(database, clock=clock)
    job = store.create("https://x.example/a.wav", None, {"webhook_url": "https://x.example/h"})
    for attempt in range(1, MAX_RUN_ATTEMPTS + 1):
        claimed = store.claim("w", lease_s=30)
        assert claimed is not None and claimed.status == "processing"
        assert claimed.attempts == attempt
        clock.advance(31)  # the worker died: its lease runs out
    failed = store.claim("w", lease_s=30)
    assert failed is not None and failed.status == "error" and failed.error
    assert failed.completed == clock.now and failed.attempts == MAX_RUN_ATTEMPTS
    assert store.claim("w", lease_s=30) is None
    assert store.get(job.id) == failed
    (hook,) = store.claim_webhooks(clock.now, 10)  # the failure is reported
    assert hook.body == {"transcript_id": job.id, "status": "error"}


def test_concurrent_claims_never_share_a_job(database: Database) -> None:
    store = SqlJobStore(database)
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


def test_paging_and_deleting(database: Database) -> None:
    store = SqlJobStore(database)
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


def test_created_on_is_the_utc_date(database: Database) -> None:
    clock = FakeClock(datetime(2025, 6, 15, 23, 59, 58, tzinfo=UTC).timestamp())
    store = SqlJobStore(database, clock=clock)
    late = [store.create("https://x.example/a.wav", None, {}).id for _ in range(2)]
    clock.advance(4)  # past midnight UTC
    early = store.create("https://x.example/a.wav", None, {}).id
    assert [j.id for j in store.page(10, None, date(2025, 6, 15), None, None)] == late[::-1]
    assert [j.id for j in store.page(10, None, date(2025, 6, 16), None, None)] == [early]
    assert store.page(10, None, date(2025, 6, 14), None, None) == []


def test_deleting_a_queued_or_running_job_ends_it_and_keeps_no_later_outcome(
    database: Database,
) -> None:
    clock = FakeClock()
    store = SqlJobStore(database, clock=clock)
    secret = {
        "webhook_url": "https://x.example/h",
        "webhook_auth_header_name": "X-Key",
        "webhook_auth_header_value": "s3cret",
        "punctuate": True,
    }
    running = store.create("https://x.example/a.wav", "u1", secret)
    queued = store.create("https://x.example/b.wav", "u2", secret)
    assert store.claim("w", lease_s=30) is not None  # `running` is the oldest
    for job in (queued, running):
        before = store.delete(job.id)
        assert before is not None and before.upload_id == job.upload_id  # the caller frees it
        after = store.get(job.id)
        assert after is not None and after.status == "error"
        assert after.error == "deleted before it finished" and after.result is None
        assert after.audio_url == DELETED_AUDIO_URL and after.upload_id is None
        kept = {k: v for k, v in secret.items() if k != "webhook_auth_header_value"}
        assert after.request == kept  # the webhook secret is forgotten
    assert not store.upload_in_use("u1") and not store.upload_in_use("u2")
    # the worker still running `running` finds it is no longer its own
    assert not store.renew(running.id, "w", lease_s=30)
    assert store.finish(running.id, "w", {"text": "late"}, None) is None
    clock.advance(60)
    assert store.claim("w2", lease_s=30) is None  # neither is ever run again
    assert store.get(running.id).error == "deleted before it finished"  # type: ignore[union-attr]
    assert store.claim_webhooks(clock.now, 10) == []  # and no webhook is sent for them


def test_deleting_a_finished_job_drops_its_pending_webhook_and_the_secret_in_it(
    database: Database,
) -> None:
    clock = FakeClock()
    store = SqlJobStore(database, clock=clock)
    request = {
        "webhook_url": "https://x.example/h",
        "webhook_auth_header_name": "X-Key",
        "webhook_auth_header_value": "s3cret",
    }
    job = store.create("https://x.example/a.wav", None, request)
    assert store.claim("w", lease_s=30) is not None
    done = store.finish(job.id, "w", {"text": "hi"}, None)
    assert done is not None
    (hook,) = store.claim_webhooks(clock.now, 10)
    assert hook.headers == {"X-Key": "s3cret"}
    store.delete(job.id)
    deleted = store.get(job.id)
    assert deleted is not None and deleted.status == "completed" and deleted.result is None
    assert store.claim_webhooks(clock.now + 3600, 10) == []  # gone, not only leased


def test_finishing_a_job_queues_its_webhook_in_the_same_step(database: Database) -> None:
    clock = FakeClock()
    store = SqlJobStore(database, clock=clock)
    request = {
        "webhook_url": "https://x.example/hook",
        "webhook_auth_header_name": "X-Key",
        "webhook_auth_header_value": "v",
    }
    job = store.create("https://x.example/a.wav", None, request)
    assert store.claim("w", lease_s=60) is not None
    assert store.claim_webhooks(clock.now + 3600, 10) == []
    store.finish(job.id, "w", None, "could not fetch audio_url")
    (hook,) = store.claim_webhooks(clock.now, 10)  # due at once
    assert hook.headers == {"X-Key": "v"} and hook.attempts == 0
    assert hook.body == {"transcript_id": job.id, "status": "error"}
    store.webhook_failed(hook.id, clock.now + 60)
    assert store.claim_webhooks(clock.now + 59, 10) == []
    (again,) = store.claim_webhooks(clock.now + 60, 10)
    assert again.id == hook.id and again.attempts == 1
    store.webhook_done(hook.id)
    assert store.claim_webhooks(clock.now + 120, 10) == []


def test_a_database_made_before_migrations_gains_the_new_columns_and_keeps_its_jobs(
    tmp_path: Path,
) -> None:
    """A SQLite file of the first release (no `schema_version`, no `key_id`) is migrated in
    place at start-up; migrating again changes nothing."""
    import sqlite3

    path = tmp_path / "jobs.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE jobs (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, status TEXT NOT NULL,"
        " created REAL NOT NULL, completed REAL, audio_url TEXT NOT NULL, upload_id TEXT,"
        " request TEXT NOT NULL, result TEXT, error TEXT, lease_owner TEXT, lease_until REAL,"
        " attempts INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE voices (id TEXT PRIMARY KEY, name TEXT NOT NULL, created REAL NOT NULL,"
        " speech_s REAL NOT NULL, embedding BLOB NOT NULL);"
        "INSERT INTO jobs (id, seq, status, created, audio_url, request)"
        " VALUES ('old', 1, 'queued', 1.0, 'https://x.example/a.wav', '{}');"
    )
    old.commit()
    old.close()
    url = f"sqlite:///{path}"
    for _ in range(2):  # a restart migrates nothing more
        store = SqlJobStore(open_database(url), clock=FakeClock())
    versions = sqlite3.connect(path).execute("SELECT version FROM schema_version").fetchall()
    assert [v for (v,) in versions] == list(range(1, len(MIGRATIONS) + 1))
    assert store.get("old") is not None
    store.create("https://x.example/b.wav", None, {}, key_id="k1")
    store.create("https://x.example/c.wav", None, {}, key_id="k1")
    assert store.active_jobs("k1") == 2 and store.active_jobs("k2") == 0
    claimed = store.claim("w", lease_s=60)  # the old job first
    assert claimed is not None and claimed.id == "old"


def test_replicas_migrating_at_once_migrate_once(database_url: str) -> None:
    """Replicas started together each run the migrations at start-up: one does them, the
    others find them done (on PostgreSQL, under one advisory lock)."""
    opened: list[Database] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            opened.append(open_database(database_url))
        except BaseException as error:  # reported below: a thread's exception is lost
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(opened) == 4
    with opened[0].read() as db:
        versions = [v for (v,) in db.execute(text("SELECT version FROM schema_version"))]
    assert sorted(versions) == list(range(1, len(MIGRATIONS) + 1))


def _replicas(database_url: str, clock: FakeClock | None = None) -> list[SqlJobStore]:
    """Two stores, each with a database connection pool of its own, as two replicas."""
    return [SqlJobStore(open_database(database_url), clock=clock or FakeClock()) for _ in "ab"]


def test_replicas_claiming_at_once_never_share_a_job(database_url: str) -> None:
    replicas = _replicas(database_url)
    created = {replicas[0].create(f"https://x.example/{i}.wav", None, {}).id for i in range(60)}
    claimed: list[str] = []

    def worker(store: SqlJobStore, name: str) -> None:
        while (job := store.claim(name, lease_s=60)) is not None:
            claimed.append(job.id)

    threads = [
        threading.Thread(target=worker, args=(store, f"{n}-{i}"))
        for n, store in enumerate(replicas)
        for i in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(created)  # every job once, none twice


def test_replicas_creating_at_once_number_jobs_apart(database_url: str) -> None:
    """`seq` orders the queue and the pages: jobs created at once on two replicas get
    distinct numbers (none fails on the unique index)."""
    replicas = _replicas(database_url)
    made: list[str] = []

    def submit(store: SqlJobStore) -> None:
        for n in range(20):
            made.append(store.create(f"https://x.example/{n}.wav", None, {}).id)

    threads = [threading.Thread(target=submit, args=(store,)) for store in replicas * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 80
    assert sorted(job.id for job in replicas[1].page(200, None, None, None, None)) == sorted(made)


def test_a_key_pages_only_its_own_jobs(database: Database) -> None:
    store = SqlJobStore(database)
    mine = [store.create("https://x.example/a.wav", None, {}, key_id="k1").id for _ in range(3)]
    store.create("https://x.example/b.wav", None, {}, key_id="k2")
    assert [j.id for j in store.page(10, None, None, None, None, "k1")] == mine[::-1]
    assert len(store.page(10, None, None, None, None)) == 4  # an admin's view
    assert store.get(mine[0]).key_id == "k1"  # type: ignore[union-attr]


def test_two_replicas_on_one_database_send_each_webhook_once(database_url: str) -> None:
    """Two stores on one database, as two replicas hold it: each due webhook goes to one of
    them; one whose sender died unreported is due again once its lease is over."""
    clock = FakeClock()
    first, second = _replicas(database_url, clock)
    for n in range(6):
        job = first.create(
            f"https://x.example/{n}.wav", None, {"webhook_url": "https://x.example/h"}
        )
        assert first.claim("w", lease_s=60) is not None
        first.finish(job.id, "w", {"text": "hi"}, None)
    taken = [first.claim_webhooks(clock.now, 4), second.claim_webhooks(clock.now, 4)]
    ids = [hook.id for hooks in taken for hook in hooks]
    assert len(ids) == 6 and len(set(ids)) == 6  # all six, none twice
    for hook in taken[1]:
        second.webhook_done(hook.id)  # the second replica delivered its share
    assert first.claim_webhooks(clock.now + 59, 10) == []  # the first one's still leased
    clock.advance(61)  # the first replica died without reporting: its share is due again
    again = second.claim_webhooks(clock.now, 10)
    assert sorted(hook.id for hook in again) == sorted(hook.id for hook in taken[0])
