"""`python -m ltsp_client` and the frozen binary's entry point."""

from ltsp_client.cli import main

raise SystemExit(main())
