# Two commands: `make demo` and `make test`. Both create or reuse .venv and install what they need.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO   ?= demo-centre

.PHONY: demo test check typecheck templates docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Re-install only when the project's dependencies change.
$(VENV)/.installed-base: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed-base

demo: $(VENV)/.installed-base
	$(BIN)/python -m tracker.demo $(DEMO)

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -n 2 -q tests
	$(BIN)/python -m mypy

templates: $(VENV)/.installed-base
	$(BIN)/tracker templates

docs: $(VENV)/.installed-base
	$(BIN)/python -m tracker.docs

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/generate.py
	$(BIN)/python benchmarks/validate.py
	$(BIN)/python benchmarks/rollup.py

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .mypy_cache .hypothesis
