"""Uploaded audio: the `UploadStore` interface and its local-folder implementation.

An upload is streamed to a temporary file and renamed into place only when complete, so a
crash mid-upload never leaves a half file under a valid id. Replicas may share one folder
(`STREAMER_UPLOADS`, a volume every replica mounts): ids are random and files are only ever
renamed into place or deleted whole. An object store (S3 and the like)
would implement the same four methods.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Protocol

_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
STALE_PART_S = 3600.0
"""A part file not written to for this long was cut off by a crash. Younger ones may be
uploads in progress on another replica sharing the folder: they are left alone."""


class UploadTooLarge(Exception):
    pass


class UploadStore(Protocol):
    async def save(self, chunks: AsyncIterator[bytes], limit_bytes: int) -> tuple[str, int]: ...

    def path(self, upload_id: str) -> Path | None: ...

    def delete(self, upload_id: str) -> None: ...

    def saved_before(self, cutoff: float) -> list[str]: ...


class FolderUploadStore:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._folder = folder
        stale = time.time() - STALE_PART_S
        for unfinished in folder.glob("*.part"):  # never an upload
            with contextlib.suppress(FileNotFoundError):  # another replica's, just finished
                if unfinished.stat().st_mtime < stale:
                    unfinished.unlink()

    async def save(self, chunks: AsyncIterator[bytes], limit_bytes: int) -> tuple[str, int]:
        """Write the body to a new upload; (its id, its size). Raises `UploadTooLarge` past
        `limit_bytes` (and keeps nothing)."""
        upload_id = uuid.uuid4().hex
        handle, temporary = tempfile.mkstemp(dir=self._folder, suffix=".part")
        size = 0
        try:
            with os.fdopen(handle, "wb") as file:
                # disk writes on a thread: a slow disk must not stall the event loop
                async for chunk in chunks:
                    size += len(chunk)
                    if size > limit_bytes:
                        raise UploadTooLarge(f"uploads are limited to {limit_bytes} bytes")
                    await asyncio.to_thread(file.write, chunk)
                await asyncio.to_thread(_sync, file)
            os.replace(temporary, self._folder / upload_id)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return upload_id, size

    def path(self, upload_id: str) -> Path | None:
        if not _UPLOAD_ID.match(upload_id):
            return None
        path = self._folder / upload_id
        return path if path.is_file() else None

    def delete(self, upload_id: str) -> None:
        path = self.path(upload_id)
        if path is not None:
            path.unlink(missing_ok=True)

    def saved_before(self, cutoff: float) -> list[str]:
        """Ids of the uploads written before `cutoff` (seconds since the epoch)."""
        return [
            path.name
            for path in self._folder.iterdir()
            if _UPLOAD_ID.match(path.name) and path.stat().st_mtime < cutoff
        ]


def _sync(file: IO[bytes]) -> None:
    file.flush()
    os.fsync(file.fileno())
