"""Fixtures shared by every test directory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import debroot as _debroot
import pytest

from ltsp_client import log as ltsp_log
from ltsp_client.applet import Host
from ltsp_client.paths import ETC_LTSP, RUN_LTSP, live_etc_dir, live_run_dir


@pytest.fixture(autouse=True, scope="session")
def _own_run_ltsp() -> Iterator[None]:
    """In-process applets read an empty /etc/ltsp and write events and logs in the run's temp
    dirs ($LTSP_RUN_DIR, $LTSP_ETC_DIR: the root conftest.py), like the `ltsp` children: never
    the host's /etc/ltsp or /run/ltsp (a host's /run/ltsp/client would make every applet think
    it runs on a client). Also for a Host given its own environ, and for the event log made
    at import."""
    run, etc = live_run_dir(), live_etc_dir()
    assert run != Path(RUN_LTSP) and etc != Path(ETC_LTSP), "the root conftest.py sets them"
    defaults = Host.__init__.__kwdefaults__
    assert defaults is not None
    saved = ltsp_log.events.path, dict(defaults)
    ltsp_log.events.path = run / "events.jsonl"
    defaults.update(run_dir=run, etc_dir=etc)
    yield
    ltsp_log.events.path, kwdefaults = saved
    defaults.update(kwdefaults)


@pytest.fixture
def debroot(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Build a fake client root from real Debian packages: `debroot("network-manager")`.

    Returns tmp_path/"root" (or `name=`); base-files is always included. See
    tests/debroot.py. A package that cannot be fetched fails the test.
    """
    shared = _debroot.SharedFiles()

    def make(*packages: str, name: str = "root") -> Path:
        root = tmp_path / name
        try:
            _debroot.build_root(root, packages, shared=shared)
        except _debroot.DebError as exc:
            pytest.fail(f"cannot build a root from Debian packages {packages}: {exc}")
        return root

    yield make
    if written := shared.check():
        pytest.fail(
            "the test wrote in place into files hard-linked from the package cache "
            f"({', '.join(map(str, written))}); write a new file and rename it over instead"
        )
