"""The ASGI app: one port for health, REST and streaming. Models load once, in the lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from streamer import __version__
from streamer.config import Settings
from streamer.http import health_router
from streamer.inference import StreamingInference
from streamer.models.loader import load_models
from streamer.pipeline import FileTranscriber
from streamer.ws import router as stream_router

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.api_keys:
            log.warning("no API keys configured (STREAMER_API_KEYS): the server is open to all")
        # Loading takes seconds of CPU: keep the event loop free while it runs.
        models = await asyncio.to_thread(load_models, settings)
        app.state.models = models
        transcriber = FileTranscriber(models)
        app.state.transcriber = transcriber
        app.state.streaming = StreamingInference(models, transcriber.speaker_finder)
        log.info("models loaded; serving")
        yield
        app.state.streaming.close()

    app = FastAPI(title="streamer", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.models = None
    app.state.active_sessions = 0
    app.include_router(health_router)
    app.include_router(stream_router)
    return app
