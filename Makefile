# Two commands do all set-up on a fresh machine: `make repro` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# The renderer's own environment (constraints-render.txt says why there are two): the tests need it, and
# `make repro` when params.yaml's datasets name clevr6_rendered.
RVENV   := .venv-render
RSTAMP  := $(RVENV)/.installed
REPRO_NEEDS := $(STAMP) $(if $(shell grep -E '^datasets:.*clevr6_rendered' params.yaml),$(RSTAMP))
export DVC_NO_ANALYTICS := 1
# Idle OpenMP threads sleep instead of spinning (the same numbers; far faster on a busy machine: drc/__init__.py).
export OMP_WAIT_POLICY ?= PASSIVE
# Stages run `python ...`: the venv's interpreter must come first on PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: venv render-venv repro seeds test lint bench deps mutants clean-venv

$(STAMP): constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade -c constraints.txt pip setuptools wheel || true
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

$(RSTAMP): constraints-render.txt
	test -x $(RVENV)/bin/python || $(PY) -m venv $(RVENV)
	$(RVENV)/bin/pip install --quiet -c constraints-render.txt bpy
	touch $(RSTAMP)

render-venv: $(RSTAMP)

# The default tables (one training seed); `make seeds` adds the spread over three (report_seeds and the
# stages it needs: two more training runs per dataset); `dvc repro` runs both.
repro: $(REPRO_NEEDS)
	$(BIN)/dvc repro report

seeds: $(REPRO_NEEDS)
	$(BIN)/dvc repro report_seeds

test: $(STAMP) $(RSTAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

# After an import changes: rewrite dvc.yaml's code deps from the stages' imports (drc/stagedeps.py).
deps: $(STAMP)
	$(BIN)/python -m drc.stagedeps

# Mutation testing of the method's core (bench/mutants.py): prints the kill rate; not part of `make test`.
mutants: $(STAMP)
	$(BIN)/python -m bench.mutants

clean-venv:
	rm -rf $(VENV) $(RVENV)
