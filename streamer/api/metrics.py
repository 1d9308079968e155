"""`/metrics`: Prometheus counters of the live path, the figures capacity is planned by.

Each app has its own registry (tests build several apps in one process). The costliest figure
is `streamer_asr_busy_seconds_total` over `streamer_stream_audio_seconds_total`: the worker
time one second of a live stream costs, which says how many streams the workers hold.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

metrics_router = APIRouter()


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.asr_busy_s = Counter(
            "streamer_asr_busy_seconds",
            "Seconds ASR workers spent decoding live-stream batches, summed over workers",
            registry=registry,
        )
        self.asr_batch_rows = Histogram(
            "streamer_asr_batch_rows",
            "Requests per live-stream ASR batch",
            buckets=(1, 2, 3, 4, 6, 8, 12, 16),
            registry=registry,
        )
        self.vad_busy_s = Counter(
            "streamer_vad_busy_seconds",
            "Seconds the VAD thread spent on live-stream audio",
            registry=registry,
        )
        self.stream_audio_s = Counter(
            "streamer_stream_audio_seconds",
            "Seconds of audio received by live streams",
            registry=registry,
        )
        self.partials_skipped = Counter(
            "streamer_stream_partials_skipped",
            "Partial decodes skipped because the ASR workers were busy",
            registry=registry,
        )
        self.sessions_active = Gauge(
            "streamer_stream_sessions_active", "Open live-stream sessions", registry=registry
        )
        self.sessions_closed = Counter(
            "streamer_stream_sessions_closed",
            "Live-stream sessions closed, by WebSocket close code",
            ["code"],
            registry=registry,
        )


@metrics_router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
