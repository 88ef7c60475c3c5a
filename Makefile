# The two commands: `make demo` and `make test`. Each bootstraps .venv from uv.lock
# when it is missing or older than the lock file, then does its job.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.synced
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
BIN := $(VENV)/bin

.PHONY: demo test lint lab golden bench clean system-deps-demo system-deps-test

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==0.13.9

# --compile-bytecode: every run, kernel and worker imports hundreds of modules; without
# .pyc files (PYTHONDONTWRITEBYTECODE, read-only installs) each process compiles them again.
$(STAMP): uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	touch $(STAMP)

# Debian packages: scripts/system-deps installs what is missing (apt-get as root or through
# sudo) or stops with the one command to run; it returns at once when all is present.
system-deps-demo system-deps-test: system-deps-%:
	PYTHON=$(PYTHON) bash scripts/system-deps $*

# The Debian packages first: bootstrapping uv may need python3-venv.
demo: system-deps-demo $(STAMP)
	$(BIN)/broadsheet demo

test: system-deps-test $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check lib runner admin tests benchmarks
	$(BIN)/ruff format --check lib runner admin tests benchmarks
	$(BIN)/lint-imports

lab: $(STAMP)
	$(BIN)/broadsheet extract --source demo
	$(BIN)/jupyter lab --notebook-dir=notebooks

golden: $(STAMP)
	$(BIN)/python -m tests.integration.golden.make

bench: $(STAMP)
	$(BIN)/python benchmarks/metrics.py
	$(BIN)/python benchmarks/api_calls.py
	$(BIN)/python benchmarks/fanout.py --sample 3
	$(BIN)/python benchmarks/startup.py --repeat 2 --naive-sample 2
	$(BIN)/python benchmarks/scale.py $(if $(BENCH_LARGE),--large,--sample 8)

clean:
	rm -rf $(VENV) .tools
