"""Enrolled voices: the `VoiceStore` interface and its SQLite implementation, a table of its
own in the jobs' database file (`Settings.jobs_db`).

A voice is a name and a voiceprint (a unit CAM++ embedding, stored as float32 bytes). A
PostgreSQL store would implement the same five methods on a table of the same shape.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from streamer.core.arrays import FloatArray
from streamer.core.voices import KnownVoice

_SCHEMA = """
CREATE TABLE IF NOT EXISTS voices (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created REAL NOT NULL,
    speech_s REAL NOT NULL,
    embedding BLOB NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Voice:
    id: str
    name: str
    created: float
    speech_s: float
    """seconds of speech the print was made from"""
    embedding: FloatArray
    """(dim,) the voiceprint"""

    def known(self) -> KnownVoice:
        return KnownVoice(self.name, self.embedding)


class UnknownVoices(LookupError):
    """Some of the ids asked for name no voice."""

    def __init__(self, ids: Sequence[str]) -> None:
        super().__init__(f"no voice with id {', '.join(ids)}")
        self.ids = tuple(ids)


class VoiceStore(Protocol):
    def add(self, name: str, embedding: FloatArray, speech_s: float) -> Voice: ...

    def voices(self) -> list[Voice]: ...

    def get(self, voice_id: str) -> Voice | None: ...

    def get_many(self, ids: Sequence[str]) -> list[Voice]: ...

    def delete(self, voice_id: str) -> Voice | None: ...


class SqliteVoiceStore:
    """The `voices` table of one SQLite file (in WAL mode, as the job store keeps it). Every
    call is one short statement on a connection of its own (voices change seldom: no
    connection is kept per thread), so the event loop may call it directly."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._clock = clock
        with self._connection() as db:
            db.execute("PRAGMA journal_mode=WAL")  # kept by the file: once is enough
            db.executescript(_SCHEMA)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self._path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            yield db
        finally:
            db.close()

    def add(self, name: str, embedding: FloatArray, speech_s: float) -> Voice:
        voice = Voice(
            id=uuid.uuid4().hex,
            name=name,
            created=self._clock(),
            speech_s=speech_s,
            embedding=np.asarray(embedding, dtype=np.float64),
        )
        row = (voice.id, voice.name, voice.created, voice.speech_s, _blob(voice.embedding))
        with self._connection() as db:
            db.execute("INSERT INTO voices VALUES (?, ?, ?, ?, ?)", row)
        return voice

    def voices(self) -> list[Voice]:
        """Every voice, oldest first."""
        with self._connection() as db:
            return [_voice(row) for row in db.execute("SELECT * FROM voices ORDER BY created")]

    def get_many(self, ids: Sequence[str]) -> list[Voice]:
        """The voices of `ids`, in that order; `UnknownVoices` naming those that are not."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        marks = ", ".join("?" * len(wanted))
        with self._connection() as db:
            rows = db.execute(f"SELECT * FROM voices WHERE id IN ({marks})", wanted).fetchall()
        found = {row["id"]: _voice(row) for row in rows}
        missing = [voice_id for voice_id in wanted if voice_id not in found]
        if missing:
            raise UnknownVoices(missing)
        return [found[voice_id] for voice_id in wanted]

    def get(self, voice_id: str) -> Voice | None:
        with self._connection() as db:
            row = db.execute("SELECT * FROM voices WHERE id = ?", (voice_id,)).fetchone()
        return _voice(row) if row is not None else None

    def delete(self, voice_id: str) -> Voice | None:
        """Forget the voice; the voice as it was, or None when there was none of that id."""
        voice = self.get(voice_id)
        if voice is not None:
            with self._connection() as db:
                db.execute("DELETE FROM voices WHERE id = ?", (voice_id,))
        return voice


def _blob(embedding: FloatArray) -> bytes:
    return embedding.astype("<f4").tobytes()


def _voice(row: sqlite3.Row) -> Voice:
    """A row of `voices` (its columns in the order of `Voice`'s fields)."""
    voice_id, name, created, speech_s, blob = tuple(row)
    return Voice(voice_id, name, created, speech_s, np.frombuffer(blob, "<f4").astype(np.float64))
