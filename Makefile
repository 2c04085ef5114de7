# `make demo`: install what is needed, bring the QEMU lab up and netboot one client.
# `make test`: install what is needed, run the linters and every test (quick, freeze and QEMU).
PYTHON ?= python3
# every group; --require-groups fails the run when a group selected no test (see conftest.py)
ALL_TESTS = -m 'qemu or freeze or not (qemu or freeze)' --require-groups=quick,freeze,qemu

.PHONY: deps demo test quick freeze deb freeze-arm64 deb-arm64
deps:
	./scripts/install-deps

demo: deps
	$(PYTHON) qemu-tests/lab.py demo

test: deps
	$(PYTHON) -m pytest $(ALL_TESTS)

quick:
	$(PYTHON) -m pytest

# the frozen ltsp binary for /usr/lib/ltsp (dist/ltsp/; skipped when the sources did not change)
freeze:
	./build-tools/freeze

# dist/ltsp-client_<version>_<arch>.deb: the frozen client, its initramfs hook (docs/publisher.md)
deb: freeze
	./build-tools/deb

# dist/ltsp-arm64/: the same tree for arm64, built here in a cached arm64 chroot under qemu-user
# (build-tools/freeze_foreign.py; the chroot is kept in /var/cache/ltsp-build)
freeze-arm64:
	./build-tools/freeze --arch arm64

deb-arm64: freeze-arm64
	./build-tools/deb --tree dist/ltsp-arm64
