"""Fixtures shared by every test directory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import debroot as _debroot
import pytest


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
