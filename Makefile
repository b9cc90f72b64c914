# Two commands on a fresh machine: `make demo` and `make test`.
# The interpreter is the one .python-version selects (pyenv's 3.12.1 here); any Python >= 3.12 works.
PYTHON ?= $(shell pyenv which python 2>/dev/null || command -v python3.12 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEMO := demo/archive

.PHONY: demo test lint clean

$(BIN)/firstseen: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "firstseen needs Python >= 3.12; set PYTHON=/path/to/python3.12")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

demo: $(BIN)/firstseen
	rm -rf $(DEMO)
	$(BIN)/firstseen --archive $(DEMO) add --meta demo/media.csv
	$(BIN)/firstseen --archive $(DEMO) search demo/evidence.jpg

test: $(BIN)/firstseen
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest

lint: $(BIN)/firstseen
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .ruff_cache
