"""The ASGI app: one port for health, REST and streaming. Models load once, in the lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from streamer import __version__
from streamer.api.auth import KeyRoles, RequireApiKey
from streamer.api.data_dir import announce_data_dir
from streamer.api.errors import install_error_handlers
from streamer.api.health import health_router
from streamer.api.inference import StreamingInference
from streamer.api.jobs.retention import sweep_forever
from streamer.api.jobs.runner import JobRunner, RunnerLimits, RunnerSlot
from streamer.api.jobs.store import SqlJobStore
from streamer.api.jobs.uploads import FolderUploadStore
from streamer.api.jobs.webhooks import TIMEOUT_S as WEBHOOK_TIMEOUT_S
from streamer.api.jobs.webhooks import deliver_forever
from streamer.api.live import LiveStreams
from streamer.api.metrics import ServiceMetrics, metrics_router
from streamer.api.openapi import documented_openapi
from streamer.api.outbound import AddressPolicy, allowed_networks, guarded_async_client
from streamer.api.pages import pages_router
from streamer.api.rest import router as rest_router
from streamer.api.schema import open_database
from streamer.api.sockets import KeySessions
from streamer.api.token_store import SqlUsedTokens
from streamer.api.tokens import TemporaryTokens
from streamer.api.twilio import router as twilio_router
from streamer.api.voice_store import SqlVoiceStore
from streamer.api.voices import router as voices_router
from streamer.api.ws import router as stream_router
from streamer.config import Settings
from streamer.files.pipeline import FileTranscriber
from streamer.models.loader import load_models

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        marker = announce_data_dir(settings)
        if not settings.accepted_keys:
            log.warning("no API keys configured (STREAMER_API_KEYS): the server is open to all")
        # Loading takes seconds of CPU: keep the event loop free while it runs.
        models = await asyncio.to_thread(load_models, settings)
        transcriber = FileTranscriber(models)
        app.state.streaming = StreamingInference(models, metrics=app.state.metrics)
        runner = JobRunner(
            app.state.jobs,
            app.state.uploads,
            transcriber,
            RunnerLimits(
                workers=settings.job_workers,
                lease_s=settings.job_lease_s,
                max_audio_bytes=settings.max_upload_bytes,
                max_audio_s=settings.max_audio_hours * 3600,
                niceness=settings.job_niceness,
            ),
            scratch=settings.data_dir / "scratch",
            outbound=app.state.outbound,
            voices=app.state.voices,
        )
        app.state.runner.attach(runner)
        webhooks = asyncio.create_task(
            deliver_forever(
                app.state.jobs,
                guarded_async_client(app.state.outbound, WEBHOOK_TIMEOUT_S),
                app.state.metrics.webhook_failures.inc,
            )
        )
        background = [webhooks]
        if settings.retention_hours:
            retention_s = settings.retention_hours * 3600
            background.append(
                asyncio.create_task(sweep_forever(app.state.jobs, app.state.uploads, retention_s))
            )
        app.state.models = models
        log.info("models loaded; serving")
        yield
        for task in background:
            task.cancel()
        runner.stop()
        app.state.streaming.close()
        marker.close()
        database.close()

    app = FastAPI(
        title="streamer", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.settings = settings
    app.state.models = None
    app.state.active_sessions = 0
    app.state.live_streams = LiveStreams()
    app.state.metrics = ServiceMetrics()
    app.state.metrics.sessions_active.set_function(lambda: app.state.active_sessions)
    database = open_database(settings.database)
    app.state.jobs = SqlJobStore(database)
    app.state.metrics.count_jobs(app.state.jobs.counts)
    app.state.uploads = FolderUploadStore(settings.uploads_dir)
    app.state.voices = SqlVoiceStore(database)
    app.state.runner = RunnerSlot()
    app.state.tokens = TemporaryTokens(SqlUsedTokens(database), settings.token_secret or None)
    app.state.key_sessions = KeySessions(settings.key_max_sessions)
    app.state.outbound = AddressPolicy(allowed_networks(settings.allow_private_urls))
    app.openapi = lambda: documented_openapi(app)  # type: ignore[method-assign]
    app.state.roles = KeyRoles(settings.api_keys, settings.admin_keys)
    app.add_middleware(RequireApiKey, keys=settings.accepted_keys)
    if settings.cors_origins:  # outermost: a preflight carries no key
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["authorization", "content-type"],
        )
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(metrics_router)
    app.include_router(rest_router)
    app.include_router(voices_router)
    app.include_router(stream_router)
    app.include_router(twilio_router)
    app.include_router(pages_router)
    return app
