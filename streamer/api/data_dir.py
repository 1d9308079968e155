"""Where a server keeps its data, said at start-up, and a warning when another server
already uses the same place (two checkouts share the default directory, and with it one job
database: jobs queued on one may run on the other)."""

from __future__ import annotations

import fcntl
import logging
import os
from typing import IO

from sqlalchemy.engine import make_url

from streamer.config import Settings

log = logging.getLogger(__name__)

MARKER = "server.pid"
"""Holds the pid of the server that has it locked; the lock goes with the process."""


def announce_data_dir(settings: Settings) -> IO[str]:
    """Log the data paths and take the directory's marker; keep the file it returns open for
    as long as the server runs (closing it lets the next server take the marker)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = (
        make_url(settings.database_url).render_as_string(hide_password=True)
        if settings.database_url
        else settings.jobs_db.name
    )
    log.info(
        "data in %s (database %s, uploads %s); STREAMER_DATA_DIR moves it",
        settings.data_dir,
        database,
        settings.uploads_dir,
    )
    marker = open(settings.data_dir / MARKER, "a+")  # noqa: SIM115 (held while serving)
    try:
        fcntl.flock(marker, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        if settings.database_url:  # replicas of one service: the database is not in here
            return marker
        marker.seek(0)
        other = marker.read().strip() or "?"
        log.warning(
            "another server (pid %s) uses %s: the two share one job database; "
            "give each its own STREAMER_DATA_DIR unless they are replicas of one service",
            other,
            settings.data_dir,
        )
        return marker
    marker.seek(0)
    marker.truncate()
    marker.write(f"{os.getpid()}\n")
    marker.flush()
    return marker
