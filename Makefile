# One task runner. `make test` works on a fresh machine; `make demo` serves the demo site.
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000

# `make docs` serves the documentation site (docs/, mkdocs.yml) on http://127.0.0.1:$(DOCS_PORT).
DOCS_PORT ?= 8000

.PHONY: check docs test demo bench fuzz load catalogue catalogue-check lint typecheck size bootstrap coverage

bootstrap:
	bash scripts/bootstrap.sh

test: bootstrap
	$(PY) -m pytest $(PYTEST_ARGS)

docs: bootstrap
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve --dev-addr 127.0.0.1:$(DOCS_PORT)

demo: bootstrap
	PORT=$(PORT) $(PY) examples/demo.py

bench: bootstrap
	$(PY) benchmarks/run.py $(BENCH_ARGS)

# `make fuzz`: the HTML gate against a WHATWG parser (fuzz/gate.py), then the adapters
# (fuzz/adapters.py); GATE_ARGS / FUZZ_ARGS pass options (--cases, --seed, --workers). Then the
# slow lane with every property test's full examples (`make test` runs a slice: tests/slices.py).
fuzz: bootstrap
	$(PY) fuzz/gate.py $(GATE_ARGS)
	$(PY) fuzz/adapters.py $(FUZZ_ARGS)
	COOKIEGUARD_FULL_SLICES=1 $(PY) -m pytest -q -m slow $(PYTEST_ARGS)

load: bootstrap
	$(PY) benchmarks/load.py $(LOAD_ARGS)

# Rebuild src/cookieguard/data/trackers.json from scripts/catalogue_sources/.
# `make catalogue CATALOGUE_ARGS=--check` (or `make catalogue-check`) only verifies: exit 1 if
# the shipped file differs from what the sources build, 2 if a source is invalid (a vendor
# without docs URLs, hosts or a known category). The test suite runs the check too.
catalogue: bootstrap
	$(PY) scripts/build_catalogue.py $(CATALOGUE_ARGS)

catalogue-check:
	$(PY) scripts/build_catalogue.py --check

lint:
	$(VENV)/bin/ruff check src tests scripts benchmarks fuzz examples
	$(VENV)/bin/ruff format --check src tests scripts benchmarks fuzz examples
	$(VENV)/bin/lint-imports

# The fast lane (no bootstrap, no browser, no PostgreSQL, no real servers): lint and the
# import contracts (lint), mypy over src, tests and benchmarks (typecheck), the unit tests.
check: lint typecheck
	$(PY) -m pytest -q -m "not browser and not postgres and not servers and not install and not slow" $(PYTEST_ARGS)

# mypy --strict: the package (config in pyproject.toml), every test, then the benchmark scripts
# with their test. Those import each other as top-level modules (`import hostile`, run as
# `python benchmarks/x.py`) while tests/html_editing imports `benchmarks.hostile`: one run would
# see benchmarks/hostile.py under two names, so tests/tools/test_benchmarks.py gets its own.
typecheck:
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --strict tests scripts/size_report.py --exclude tests/tools/test_benchmarks.py
	MYPYPATH=src:benchmarks $(VENV)/bin/mypy --strict benchmarks/_*.py benchmarks/run.py benchmarks/ab.py \
		benchmarks/profile_paths.py tests/tools/test_benchmarks.py

coverage: bootstrap
	$(PY) -m coverage run --branch --source=cookieguard -m pytest -q -m "not browser and not postgres and not servers and not install"
	$(PY) -m coverage report -m

size:
	$(PY) scripts/size_report.py
