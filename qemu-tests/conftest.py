"""Fixtures for the QEMU lab tests; puts qemu-tests/ on sys.path so `import lab` works.

Every test marked `qemu` runs under hard timeouts, fixtures included
(hard_timeout.py): `@pytest.mark.qemu(timeout=300)`, default 600 s for the
test, 1800 s for its setup (a module fixture may build the lab image).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hard_timeout import (
    HardTimeoutError,
    pytest_runtest_call,
    pytest_runtest_setup,
    pytest_runtest_teardown,
)
from lab.netns import LabNetwork
from lab.runlog import new_run_dir

__all__ = [
    "HardTimeoutError",
    "pytest_runtest_call",
    "pytest_runtest_setup",
    "pytest_runtest_teardown",
]


@pytest.fixture
def needs_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("the QEMU lab needs root (network namespaces, mounts); CI runs as root")


@pytest.fixture
def run_dir(request: pytest.FixtureRequest) -> Path:
    """A fresh run directory named after the test; kept after the test for its logs."""
    label = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)[:60]
    return new_run_dir(label)


@pytest.fixture
def lab_net(needs_root: None) -> Iterator[LabNetwork]:
    with LabNetwork(prefix="ltl", clients=1) as net:
        yield net
