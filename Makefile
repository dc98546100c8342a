# Two entry points for people: `make demo` (the main job on the embedded default) and `make test`.
# Both install what they need first; re-running skips work already done.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: install image demo test lint bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ponder needs Python >= 3.11: set PYTHON=python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	# llama-cpp-python builds from source (~7 min on 2 cores); pip keeps the wheel in its cache.
	$(BIN)/python -m pip install -q -e '.[local,server,bench,dev]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

# IMAGE_FROM=debootstrap skips the registry probe (CI has no registry); auto tries the Dockerfile first.
IMAGE_FROM ?= auto

image: install
	$(BIN)/ponder sandbox build-image --from $(IMAGE_FROM)

demo: image
	$(BIN)/ponder repair examples/buggy_project --report ponder-report

test: image
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: image
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build dist *.egg-info ponder-report
