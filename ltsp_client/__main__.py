"""`python -m ltsp_client` and the frozen binary's entry point."""

import os
import sys

from ltsp_client.cli import main

status = main()
if sys.argv[1:2] == ["login"]:
    # `ltsp login` runs at every PAM step of every login: it skips the interpreter's
    # teardown (a tenth of its instructions, docs/benchmarks.md) once its output is out
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
raise SystemExit(status)
