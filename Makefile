# `make demo`: install what is needed, bring the QEMU lab up and netboot one client.
# `make test`: install what is needed, run the linters and every test (quick and QEMU).
PYTHON ?= python3

.PHONY: deps demo test quick freeze
deps:
	./scripts/install-deps

demo: deps
	$(PYTHON) qemu-tests/lab.py demo

test: deps
	$(PYTHON) -m pytest -m 'qemu or not qemu'

quick:
	$(PYTHON) -m pytest

# the frozen ltsp binary for /usr/lib/ltsp (dist/ltsp/; skipped when the sources did not change)
freeze:
	./build-tools/freeze
