# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
HOST   ?= 127.0.0.1
PORT   ?= 5000
# Worker processes for `make test` (pytest-xdist); 0 runs the suite in make's own pytest.
TEST_WORKERS ?= 2
BIN    := $(VENV)/bin

.PHONY: run test test-postgres lint format check-python clean

run: $(VENV)/.installed-run
	$(BIN)/kb init
	$(BIN)/kb seed --demo
	$(BIN)/kb serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# The database-facing tests (marker `postgres`, listed in tests/conftest.py) again on
# PostgreSQL. TEST_DATABASE_URL names an existing database the tests may create schemas in;
# .ci/run makes this one.
TEST_DATABASE_URL ?= postgresql+psycopg://kb_test:kb_test@127.0.0.1/kb_test

test-postgres: $(VENV)/.installed-test
	KB_TEST_DATABASE_URL='$(TEST_DATABASE_URL)' $(BIN)/python -m pytest -m postgres $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
	  { echo "Python 3.11 or newer is needed; '$(PYTHON)' is older. Set PYTHON=python3.11 (or newer)."; exit 1; }
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || \
	  { echo "Python's venv module is missing. On Debian or Ubuntu: sudo apt-get install python3-venv"; exit 1; }

$(BIN)/python: | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.installed-run

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Benchmarks (not part of `make test`; see bench/README.md). BENCH_ARGS passes options, e.g.
# make bench BENCH_ARGS="--sizes 2000,20000 --repeats 50".
.PHONY: bench bench-quick

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench.search_bench --sizes 20000 $(BENCH_ARGS)

bench-quick: $(VENV)/.installed-test
	$(BIN)/python -m bench.search_bench --quick $(BENCH_ARGS)
