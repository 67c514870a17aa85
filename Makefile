# The two commands the README gives: `make run` and `make test`.
# Everything else here is a step they depend on.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA   ?= $(or $(WARROOM_DATA),data)
PORT   ?= 8501
# two test processes (the machines have two cores); an idle one takes tests from the other, so the run ends together
PYTEST_ARGS ?= -n 2 --dist worksteal
# pytest keeps its rewritten test modules, and every CLI subprocess its compiled modules, as bytecode:
# an environment that turns bytecode off would recompile about 200 modules in each worker and subprocess
export PYTHONDONTWRITEBYTECODE :=

.PHONY: run test test-fast lint types install system-deps demo-data bench clean

run: install demo-data
	$(BIN)/streamlit run dashboard/app.py --server.port $(PORT) -- --data $(DATA)

# lint and types first: a style, import or type error fails in a minute, not after the suite
test: lint types system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# the edit loop: the core, SQL and CLI tests; not the browser tests, the AppTest page tests (tests/app)
# or the tests marked slow (`make test` runs them all); lint and types first, as in `make test`
test-fast: lint types
	$(BIN)/python -m pytest $(PYTEST_ARGS) -m "not e2e and not slow and not app"

# ruff (configured in pyproject.toml): pyflakes, pycodestyle errors, import order, bugbear, pyupgrade
lint: install
	$(BIN)/ruff check .

# mypy (configured in pyproject.toml): clean, and run by `make test` after lint
types: install
	$(BIN)/mypy

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,e2e]'
	touch $@

# Debian's chromium for the browser tests; never a downloaded browser build.
system-deps:
	bash scripts/install-system-deps.sh

# Generate the embedded demo week once; an existing store is left alone.
demo-data: install
	@if [ -z "$$(ls $(DATA)/requests/*.parquet 2>/dev/null)" ]; then \
		$(BIN)/warroom demo --data $(DATA); \
	else echo "demo data present in $(DATA)/ (delete it to regenerate)"; fi

bench: install demo-data
	$(BIN)/warroom bench query --data $(DATA)

clean:
	rm -rf $(VENV) .pytest_cache
