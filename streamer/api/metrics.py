"""`/metrics`: Prometheus counters of the live path, the figures capacity is planned by.

Each app has its own registry (tests build several apps in one process). The costliest figure
is `streamer_asr_busy_seconds_total` over `streamer_stream_audio_seconds_total`: the worker
time one second of a live stream costs, which says how many streams the workers hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

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
        self.asr_queue_depth = Gauge(
            "streamer_asr_queue_depth",
            "Live-stream decodes waiting for a free ASR worker",
            registry=registry,
        )
        latency_buckets = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
        self.first_partial_latency_s = Histogram(
            "streamer_stream_first_partial_seconds",
            "From the audio that asked for a turn's first partial to the partial sent",
            buckets=latency_buckets,
            registry=registry,
        )
        self.final_latency_s = Histogram(
            "streamer_stream_final_seconds",
            "From the end of a turn heard to its final Turn sent",
            buckets=latency_buckets,
            registry=registry,
        )
        self.webhook_failures = Counter(
            "streamer_webhook_failures",
            "Webhook POSTs that failed (each attempt; retried with back-off)",
            registry=registry,
        )
        self.sessions_closed = Counter(
            "streamer_stream_sessions_closed",
            "Live-stream sessions closed, by WebSocket close code",
            ["code"],
            registry=registry,
        )

    def count_jobs(self, counts: Callable[[], Mapping[str, int]]) -> None:
        """Report `counts()` (transcript jobs by status) at each scrape."""
        self.registry.register(_JobCounts(counts))


class _JobCounts(Collector):
    def __init__(self, counts: Callable[[], Mapping[str, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "streamer_jobs", "Transcript jobs in the store, by status", labels=["status"]
        )
        for status, count in sorted(self._counts().items()):
            family.add_metric([status], count)
        yield family


@metrics_router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
