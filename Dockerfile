# CPU image: the service with its models assembled and checked at build time, run as a
# non-root user. Build: docker build -t streamer .   Run: docker compose up (compose.yaml)
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STREAMER_HOST=0.0.0.0 \
    STREAMER_PORT=8000 \
    STREAMER_MODELS_DIR=/app/models \
    STREAMER_MODEL_CACHE=/opt/streamer/models \
    STREAMER_DATA_DIR=/var/lib/streamer \
    STREAMER_LOG_FORMAT=json

RUN useradd --system --uid 10001 --create-home --home-dir /home/streamer streamer \
 && mkdir -p /opt/streamer/models /var/lib/streamer \
 && chown streamer:streamer /opt/streamer/models /var/lib/streamer

WORKDIR /app
COPY pyproject.toml README.md ./
COPY streamer ./streamer
COPY models ./models
# silero-vad declares torch as a dependency; only its ONNX file is read (as in the Makefile)
RUN python -m venv /opt/streamer/venv \
 && /opt/streamer/venv/bin/pip install . \
 && /opt/streamer/venv/bin/pip install --no-deps silero-vad==6.2.3
ENV PATH=/opt/streamer/venv/bin:$PATH

USER streamer
# assemble the model files (Whisper's parts, Moonshine's ONNX re-saves) and check every sha256
RUN streamer models --verify

VOLUME ["/var/lib/streamer"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
# SIGTERM ends open streams with their finals (up to 10 s): compose's stop_grace_period covers it
STOPSIGNAL SIGTERM
CMD ["streamer", "serve"]
