"""The app under uvicorn, with a shutdown that ends live streams as a client expects.

On SIGTERM or SIGINT uvicorn would close every WebSocket at once with 1012, and a stream's
open turn would be lost. `GracefulServer` first stops accepting connections, then asks each
live stream to end its open turn, send its final `Turn` and `Termination` (closing with
1012, "service restart", so a client knows to reconnect elsewhere), and waits for them up
to `SHUTDOWN_GRACE_S`; then uvicorn's own shutdown runs, and the lifespan's puts running jobs
back in the queue.
"""

from __future__ import annotations

import logging
import socket

import uvicorn
from fastapi import FastAPI

from streamer.api.http_protocol import HeadDeadlineProtocol
from streamer.api.live import LiveStreams
from streamer.config import Settings
from streamer.streaming.protocol import MAX_FRAME_BYTES

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 10
"""How long open streams get to deliver their last finals: one final decode takes well
under a second, even behind a full batch."""


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, live_streams: LiveStreams) -> None:
        super().__init__(config)
        self.live_streams = live_streams

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # accept nothing new while the streams finish
        if len(self.live_streams):
            log.info("shutting down: ending %d live streams", len(self.live_streams))
        await self.live_streams.drain(SHUTDOWN_GRACE_S)
        await super().shutdown(sockets)


def serve(app: FastAPI, settings: Settings) -> None:
    """Serve `app` on the settings' host and port (TLS when a certificate is set) until a
    signal, then shut down gracefully. Logging is the caller's (`streamer.api.logs`)."""
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=HeadDeadlineProtocol,  # httptools, with a deadline on each request's head
        ws="websockets-sansio",
        ws_max_size=MAX_FRAME_BYTES,
        ws_ping_interval=settings.ws_ping_s,
        ws_ping_timeout=settings.ws_ping_s,
        log_config=None,  # keep the caller's handler: uvicorn's loggers propagate to it
        log_level=settings.log_level,
        ssl_certfile=settings.tls_cert,
        ssl_keyfile=settings.tls_key,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,  # then for what is left (uploads, pages)
    )
    GracefulServer(config, app.state.live_streams).run()
