# Two entry points for people: `make demo` (the main job on the embedded default) and `make test`.
# Both install what they need first; re-running skips work already done. While working on the code,
# `make lint` and `make unit` are the fast loop: neither needs Docker, the sandbox image or the model.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | sha1sum | cut -c1-12)
PYTEST_ARGS ?=

# llama-cpp-python builds llama.cpp from source with -march=native. On VMs whose CPU advertises AMX
# but cannot run it, ggml's AMX kernels crash (SIGSEGV in ldtilecfg, seen on this project's CI
# machines), so AMX is compiled out. The wheel is kept per CPU in ~/.cache/ponder: pip's own cache
# would hand back a wheel built with other flags.
LLAMA_CPP_VERSION ?= 0.3.36
ifeq ($(shell uname -m),x86_64)
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
LLAMA_CMAKE_ARGS ?= -DCMAKE_C_FLAGS='$(NO_AMX)' -DCMAKE_CXX_FLAGS='$(NO_AMX)'
endif
CPU_KEY := $(shell (uname -m; grep -m1 '^flags' /proc/cpuinfo 2>/dev/null; echo "$(LLAMA_CMAKE_ARGS)") | sha1sum | cut -c1-10)
WHEELS  := $(HOME)/.cache/ponder/wheels/llama-cpp-python-$(LLAMA_CPP_VERSION)-$(CPU_KEY)

.PHONY: install image demo test lint unit typecheck bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ponder needs Python >= 3.11: set PYTHON=python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	@ls $(WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1 || { \
	  echo "building llama-cpp-python $(LLAMA_CPP_VERSION) from source (~7 min on 2 cores, once per machine)"; \
	  rm -rf $(WHEELS).part && \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip wheel -q --no-deps --no-cache-dir \
	    -w $(WHEELS).part llama-cpp-python==$(LLAMA_CPP_VERSION) && mv $(WHEELS).part $(WHEELS); }
	$(BIN)/python -m pip install -q $(WHEELS)/llama_cpp_python-*.whl
	$(BIN)/python -m pip install -q -e '.[local,server,bench,scale,dev]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

# IMAGE_FROM=debootstrap skips the registry probe (CI has no registry); auto tries the Dockerfile first.
IMAGE_FROM ?= auto

image: install
	$(BIN)/ponder sandbox build-image --from $(IMAGE_FROM)

demo: image
	$(BIN)/ponder repair examples/buggy_project --report ponder-report

test: image
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory typecheck

# Tests that need neither Docker nor the model (markers `docker`, `model`), nor the benchmark-wide
# sweeps (`slow`): `make test` runs those. They run on every core (pytest-xdist); `make test` runs
# serially, since its Docker and model tests share one engine and one sandbox pool. DOCKER_HOST points at no engine, so a test that needs
# Docker without its marker fails here instead of quietly using the machine's engine.
UNIT_MARKERS ?= not docker and not model and not slow
unit: install
	DOCKER_HOST=unix:///nonexistent/docker.sock $(BIN)/python -m pytest -m "$(UNIT_MARKERS)" -n auto $(PYTEST_ARGS)

# ponder/ holds the installed names (its sub-packages are relative links to the top-level folders),
# so mypy checks the package from the root like any other tool.
typecheck: install
	$(BIN)/mypy -p ponder

bench: image
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build dist *.egg-info ponder-report
