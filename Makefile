# Two commands on a fresh machine: `make demo` and `make test`.
# The interpreter is the one .python-version selects (pyenv's 3.12.1 here); any Python >= 3.12 works.
PYTHON ?= $(shell pyenv which python 2>/dev/null || command -v python3.12 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEMO := demo/archive
CLUSTER := demo/cluster

.PHONY: demo demo-cluster test test-fast lint clean system-deps browser postgres

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
	$(BIN)/firstseen --archive $(DEMO) search demo/evidence-clip.mp4 --top 3
	$(BIN)/firstseen --archive $(DEMO) report demo/evidence.jpg --claimed-date 2024-03-14 --out demo/report.html

# The same demo on a deployment tried on this machine (`firstseen cluster up`: PostgreSQL,
# Milvus Lite and a Ray head in demo/cluster), ingesting through Ray; it prints the same answers
# as `make demo`, and stops the services when done, whatever happened.
demo-cluster: $(BIN)/firstseen postgres
	@fs=$(BIN)/firstseen; at=$(CLUSTER)/deployment.toml; \
	$$fs cluster down --dir $(CLUSTER) >/dev/null 2>&1; rm -rf $(CLUSTER); \
	trap '$$fs cluster down --dir $(CLUSTER)' EXIT; \
	set -ex; \
	$$fs cluster up --dir $(CLUSTER); \
	$$fs --archive $$at add --ray auto --meta demo/media.csv; \
	$$fs --archive $$at search demo/evidence.jpg; \
	$$fs --archive $$at search demo/evidence-clip.mp4 --top 3; \
	$$fs --archive $$at report demo/evidence.jpg --claimed-date 2024-03-14 \
	  --out demo/report-cluster.html

# Debian packages the tests need: poppler-utils (pdftoppm, pdftotext: the report PDF test) and
# Pango with a font (WeasyPrint renders PDF reports with them). apt runs only if one is missing.
SYSTEM_PACKAGES := poppler-utils libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
system-deps:
	@if ! command -v dpkg >/dev/null; then echo "not Debian: install poppler-utils and Pango"; \
	elif ! dpkg -s $(SYSTEM_PACKAGES) >/dev/null 2>&1; then \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get -o DPkg::Lock::Timeout=600 update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
	    --no-install-recommends $(SYSTEM_PACKAGES); \
	fi

# Debian's Chromium and its WebDriver for the web UI's end-to-end tests (tests/test_browser.py);
# apt runs only if one is missing.
BROWSER_PACKAGES := chromium chromium-driver fonts-liberation
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif ! command -v apt-get >/dev/null; then echo "not Debian: install Chromium and chromedriver"; \
	else \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get -o DPkg::Lock::Timeout=600 update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
	    --no-install-recommends $(BROWSER_PACKAGES); \
	fi

# Debian's PostgreSQL server for the catalog's PostgreSQL tests (tests/test_catalogs.py start
# one in a temporary directory, as a user other than root); apt runs only if it is missing.
POSTGRES_PACKAGES := postgresql
postgres:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif ! command -v apt-get >/dev/null; then echo "not Debian: install the PostgreSQL server"; \
	else \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get -o DPkg::Lock::Timeout=600 update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
	    --no-install-recommends $(POSTGRES_PACKAGES); \
	fi

test: $(BIN)/firstseen system-deps browser postgres
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest

# The tests that need neither the SSCD model nor ../shared/data (tests/conftest.py tells them
# apart): under a minute, for the edit-and-check loop. `make test` runs everything.
test-fast: $(BIN)/firstseen
	$(BIN)/pytest -m "not slow"

lint: $(BIN)/firstseen
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .ruff_cache .mypy_cache
