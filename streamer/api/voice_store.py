"""Enrolled voices: the `VoiceStore` interface and its SQL implementation, the `voices` table
of the database the jobs use (`streamer.api.database`: SQLite or PostgreSQL).

A voice is a name and a voiceprint (a unit CAM++ embedding, stored as float32 bytes), and
belongs to the API key that enrolled it: every method takes `key_id`, the caller's
(`auth.key_id`), and sees only that key's voices and those of no key (the operator's); None
sees every voice (a server without keys, an admin key, a job whose ids were checked when it
was submitted).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from sqlalchemy import RowMapping, bindparam, text

from streamer.api.database import Database
from streamer.core.arrays import FloatArray
from streamer.core.voices import KnownVoice


@dataclass(frozen=True, slots=True)
class Voice:
    id: str
    name: str
    created: float
    speech_s: float
    """seconds of speech the print was made from"""
    embedding: FloatArray
    """(dim,) the voiceprint"""
    key_id: str | None = None

    def known(self) -> KnownVoice:
        return KnownVoice(self.name, self.embedding)


class UnknownVoices(LookupError):
    """Some of the ids asked for name no voice."""

    def __init__(self, ids: Sequence[str]) -> None:
        super().__init__(f"no voice with id {', '.join(ids)}")
        self.ids = tuple(ids)


class VoiceStore(Protocol):
    def add(
        self, name: str, embedding: FloatArray, speech_s: float, key_id: str | None
    ) -> Voice: ...

    def voices(self, key_id: str | None) -> list[Voice]: ...

    def get(self, voice_id: str, key_id: str | None) -> Voice | None: ...

    def get_many(self, ids: Sequence[str], key_id: str | None) -> list[Voice]: ...

    def delete(self, voice_id: str, key_id: str | None) -> Voice | None: ...


def _mine(key_id: str | None) -> str:
    """The condition on the rows `key_id` may see: its own, and those of no key (enrolled
    by the operator with `streamer voices add`, or while the server had no keys)."""
    return "1 = 1" if key_id is None else "(key_id = :key_id OR key_id IS NULL)"


class SqlVoiceStore:
    """Every call is one short statement (the event loop may call it directly)."""

    def __init__(self, database: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = database
        self._clock = clock

    def add(self, name: str, embedding: FloatArray, speech_s: float, key_id: str | None) -> Voice:
        voice = Voice(
            id=uuid.uuid4().hex,
            name=name,
            created=self._clock(),
            speech_s=speech_s,
            embedding=np.asarray(embedding, dtype=np.float64),
            key_id=key_id,
        )
        with self._db.write() as db:
            db.execute(
                text(
                    "INSERT INTO voices (id, name, created, speech_s, embedding, key_id)"
                    " VALUES (:id, :name, :created, :speech_s, :embedding, :key_id)"
                ),
                {
                    "id": voice.id,
                    "name": voice.name,
                    "created": voice.created,
                    "speech_s": voice.speech_s,
                    "embedding": _blob(voice.embedding),
                    "key_id": key_id,
                },
            )
        return voice

    def voices(self, key_id: str | None) -> list[Voice]:
        """Every voice `key_id` may see, oldest first."""
        with self._db.read() as db:
            query = text(f"SELECT * FROM voices WHERE {_mine(key_id)} ORDER BY created")
            rows = db.execute(query, {"key_id": key_id})
            return [_voice(row) for row in rows.mappings()]

    def get_many(self, ids: Sequence[str], key_id: str | None) -> list[Voice]:
        """The voices of `ids`, in that order; `UnknownVoices` naming those that are not
        (or are not `key_id`'s)."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        query = text(f"SELECT * FROM voices WHERE id IN :ids AND {_mine(key_id)}").bindparams(
            bindparam("ids", expanding=True)
        )
        with self._db.read() as db:
            rows = db.execute(query, {"ids": wanted, "key_id": key_id}).mappings().all()
        found = {row["id"]: _voice(row) for row in rows}
        missing = [voice_id for voice_id in wanted if voice_id not in found]
        if missing:
            raise UnknownVoices(missing)
        return [found[voice_id] for voice_id in wanted]

    def get(self, voice_id: str, key_id: str | None) -> Voice | None:
        try:
            return self.get_many([voice_id], key_id)[0]
        except UnknownVoices:
            return None

    def delete(self, voice_id: str, key_id: str | None) -> Voice | None:
        """Forget the voice; the voice as it was, or None when `key_id` has none of that id."""
        voice = self.get(voice_id, key_id)
        if voice is not None:
            with self._db.write() as db:
                db.execute(text("DELETE FROM voices WHERE id = :id"), {"id": voice_id})
        return voice


def _blob(embedding: FloatArray) -> bytes:
    return embedding.astype("<f4").tobytes()


def _voice(row: RowMapping) -> Voice:
    return Voice(
        id=row["id"],
        name=row["name"],
        created=row["created"],
        speech_s=row["speech_s"],
        embedding=np.frombuffer(row["embedding"], "<f4").astype(np.float64),
        key_id=row["key_id"],
    )
