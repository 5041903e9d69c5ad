# tickwire: `make run` and `make test` each set everything up on a fresh Debian machine.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSPKGS := redis-server haproxy chromium chromium-driver tmux librsvg2-bin fonts-firacode iproute2 \
           gcc python3-dev
# Python caches compiled modules (__pycache__, ignored by git) and pytest its assert-rewritten
# test modules: with PYTHONDONTWRITEBYTECODE set (some sandboxes set it) every process of the
# suite compiled every module from source again, and every pytest worker rewrote all 370 test
# modules (collection 9 s instead of 3.5 s per worker).
unexport PYTHONDONTWRITEBYTECODE
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup sysdeps pydeps compiled jsdeps run serve tui cluster test test-fast pytest pytest-main \
        pytest-pure jstest lint fmt bench clean

setup: sysdeps pydeps compiled jsdeps

# System packages: installed only when running as root with apt-get and something is missing.
sysdeps:
	@missing=""; \
	for c in redis-server haproxy chromium tmux rsvg-convert gcc; do command -v $$c >/dev/null || missing="$$missing $$c"; done; \
	$(PY) -c "import os, sysconfig; assert os.path.exists(sysconfig.get_paths()['include'] + '/Python.h')" \
	  2>/dev/null || missing="$$missing Python.h"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing system packages (missing:$$missing)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SYSPKGS) >/dev/null; \
	  else echo "warning: missing$$missing (run as root on Debian to install them)"; fi; \
	fi

# uv (pinned) installs the pinned packages in seconds where pip takes about a minute, and
# compiles their bytecode as pip does; when uv cannot be had or fails, pip installs the same set.
UV_VERSION := 0.13.10
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@if $(BIN)/pip install -q --disable-pip-version-check uv==$(UV_VERSION) 2>/dev/null && \
	   $(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e '.[dev,bench]'; then \
	  echo "python packages installed (uv $(UV_VERSION))"; \
	else \
	  echo "uv unavailable or failed: installing with pip"; \
	  $(BIN)/pip install -q --disable-pip-version-check -e '.[dev,bench]'; \
	fi
	@touch $(STAMP)

pydeps: $(STAMP)

# The engine compiled with mypyc (exchange/compiled): a no-op while its stamp matches the
# sources; without gcc or the Python headers it warns and the pure-Python engine runs.
compiled: pydeps
	@$(BIN)/python -m exchange.compiled build

jsdeps:
	@if [ -f web/package.json ]; then \
	  if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then \
	    (cd web && npm ci --no-audit --no-fund --loglevel=error); fi; fi

run: setup
	$(BIN)/tickwire serve --host $(HOST) --port $(PORT) --drills

serve: run

tui: setup
	$(BIN)/tickwire tui --start-server

cluster: setup
	$(BIN)/tickwire cluster --gateways 2

lint: pydeps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: pydeps
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Tests are independent per file (each starts its own servers on free ports) and mostly wait
# on I/O, so four workers on two cores cut the wall time; one file stays on one worker.
PYTEST_WORKERS ?= 4
pytest: pytest-pure pytest-main

pytest-main: setup
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadfile

# The engine tests once more on the pure-Python engine (the fallback when nothing is compiled).
# They need no compiled build, so `make test` runs them beside the build and lint; the one
# file about the build itself (it covers the pure form too) runs in the main suite only, as it
# would race the build.
pytest-pure: pydeps
	TICKWIRE_PURE_PYTHON=1 $(BIN)/pytest -q -p no:cacheprovider tests/engine \
	  --ignore tests/engine/test_compiled.py

jstest: jsdeps
	@if [ -d web/test ]; then node --test --test-reporter=dot web/test/*.test.js; fi

# The build (one gcc on one core), lint, the JS tests and the pure-Python engine tests do not
# depend on each other: they run side by side on the two cores, then the main suite runs.
test: sysdeps pydeps jsdeps
	@$(MAKE) --no-print-directory -j3 --output-sync=target compiled lint jstest pytest-pure
	@$(MAKE) --no-print-directory pytest-main

# The inner loop: no browser, no Redis, no multi-process cluster, no long drills.
test-fast: setup
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadfile -m "not slow and not browser and not redis"

bench: setup
	$(BIN)/python -m bench.engine

clean:
	rm -rf $(VENV) web/node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis build/mypyc
	rm -f exchange/engine/*.so shared/*.so exchange/.compiled-stamp
