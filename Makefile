# Two commands for a fresh clone: `make run` (the whole pipeline locally on the bundled data) and `make test`.
# Both create .venv and install the project on first use (and again when pyproject.toml changes).
# `make lint` is the one lint command: .ci/run and buildspec.yml run it as it is.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/hscode pipeline run --local $(ARGS)

test: $(STAMP)
	$(BIN)/pytest $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check pipelines steps infra tests bench
	$(BIN)/cfn-lint infra/*.yml

# The benchmark's own extra (fastText, MiniLM) on top of the test install; `make run` and `make test` never need it.
BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench.accuracy $(ARGS)

clean:
	rm -rf $(VENV) .hscode
