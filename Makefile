# One task runner. `make test` works on a fresh machine; `make demo` serves the demo site.
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: test demo bench lint typecheck size bootstrap

bootstrap:
	bash scripts/bootstrap.sh

test: bootstrap
	$(PY) -m pytest $(PYTEST_ARGS)

demo: bootstrap
	PORT=$(PORT) $(PY) examples/demo.py

bench: bootstrap
	$(PY) benchmarks/run.py

lint:
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples

typecheck:
	$(VENV)/bin/mypy

size:
	$(PY) scripts/size_report.py
