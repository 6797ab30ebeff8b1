# Two commands: `make run` and `make test`. Both set up .venv first (idempotent).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test bench lint clean browser

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: setup
	$(BIN)/lifeboat run

test: setup browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2  # both cores: ~105 s instead of ~170 s

# Prints one table; rows marked NO missed their target (python -m bench exits 1 for scripts).
bench: setup
	@$(BIN)/python -m bench || echo "bench: some targets were missed: see the rows marked NO"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Headless Chromium for the playground's browser tests (Debian's package; Playwright's own
# browser download needs the internet). Best effort here: without it the browser tests skip with a
# reason, and with CI=true a skipped browser test fails the run (tests/conftest.py).
browser:
	@command -v chromium >/dev/null 2>&1 || (command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null 2>&1) || true)
	@command -v chromium >/dev/null 2>&1 || echo "browser: chromium could not be installed; the browser tests will skip (and fail under CI=true)" >&2

clean:
	rm -rf $(VENV) .lifeboat .pytest_cache
