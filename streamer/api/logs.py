"""Log lines that say whose they are: a session or job id on every line, as text or JSON.

`log_context` is a context variable: a WebSocket handler or a job thread sets it once, and
every line logged under it (by any module, any task it spawns) carries the id, because
asyncio copies the context into the tasks a coroutine creates.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

from streamer.config import LogFormat

log_context: ContextVar[str] = ContextVar("log_context", default="-")
"""What the current line is about: `session=<id>`, `job=<id>`, or `-`."""

_TEXT = "%(asctime)s %(levelname)s %(name)s [%(context)s]: %(message)s"
_JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(context)s %(message)s"


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.context = log_context.get()
        record.__dict__.pop("color_message", None)  # uvicorn's copy with terminal colours
        return True


def configure_logging(log_format: LogFormat, level: str = "info") -> None:
    """Replace the root handlers with one on stderr in `log_format`; uvicorn's own loggers
    propagate to it (its access and error lines get the same shape)."""
    handler = logging.StreamHandler()
    handler.addFilter(_ContextFilter())
    if log_format == "json":
        handler.setFormatter(
            JsonFormatter(_JSON_FIELDS, rename_fields={"asctime": "time", "levelname": "level"})
        )
    else:
        handler.setFormatter(logging.Formatter(_TEXT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_log = logging.getLogger(name)
        uvicorn_log.handlers[:] = []
        uvicorn_log.propagate = True
    logging.captureWarnings(True)  # a library's warning is a line of the same shape
    # faster-whisper logs every call at INFO; a server decodes many times a second.
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
