# Kestrel: the two commands.  `make run` — headless demo on the default model; `make test` — the suite.
SHELL := /bin/bash
VENV ?= .venv
RUN_VENV ?= .venv-run
OUT ?= runs/demo

.PHONY: run test lint bootstrap-dev bootstrap-run clean

bootstrap-dev:
	scripts/bootstrap.sh $(VENV) dev,train,gpu,gui,triton

bootstrap-run:
	scripts/bootstrap.sh $(RUN_VENV) ""

run: bootstrap-run
	$(RUN_VENV)/bin/python -m app.demo --out $(OUT)

test: bootstrap-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest -q -rs

lint: bootstrap-dev  # the code keeps hand-wrapped argument lists (fmt: skip), so `ruff format` is not enforced
	$(VENV)/bin/ruff check .

clean:
	rm -rf build runs .pytest_cache .ruff_cache
