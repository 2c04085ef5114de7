"""`python -m ltsp_client` and the frozen binary's entry point."""

import os
import sys

from ltsp_client.cli import main

# Applets whose every start counts and that end without an exec: `ltsp login` at every
# PAM step of every login, `ltsp initrd-bottom` once per boot in the initramfs (`ltsp init`
# as pid 1 execs the real init, which replaces the process anyway). They skip the
# interpreter's teardown (a tenth of their instructions, docs/benchmarks.md) once their
# output and log are out.
FAST_EXIT = ("login", "initrd-bottom")

status = main()
if sys.argv[1:2] and sys.argv[1] in FAST_EXIT:
    import logging

    logging.shutdown()  # flushes and closes the log file (registered at exit otherwise)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
raise SystemExit(status)
