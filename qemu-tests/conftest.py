"""Fixtures for the QEMU lab tests; puts qemu-tests/ on sys.path so `import lab` works.

Every test marked `qemu` runs under a hard timeout (SIGALRM; pytest-timeout is not
installed): `@pytest.mark.qemu(timeout=300)`, default 600 s. The alarm raises
inside the test, so `with LabNetwork()` blocks and fixtures still tear down.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lab.netns import LabNetwork
from lab.runlog import new_run_dir

DEFAULT_TIMEOUT = 600


class HardTimeoutError(Exception):
    """A qemu test ran past its hard timeout."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise HardTimeoutError("hard test timeout expired")


@pytest.fixture(autouse=True)
def _hard_timeout(request: pytest.FixtureRequest) -> Iterator[None]:
    marker = request.node.get_closest_marker("qemu")
    if marker is None:
        yield
        return
    seconds = int(marker.kwargs.get("timeout", DEFAULT_TIMEOUT))
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the QEMU lab needs root (network namespaces, mounts)")


@pytest.fixture
def run_dir(request: pytest.FixtureRequest) -> Path:
    """A fresh run directory named after the test; kept after the test for its logs."""
    label = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)[:60]
    return new_run_dir(label)


@pytest.fixture
def lab_net(needs_root: None) -> Iterator[LabNetwork]:
    with LabNetwork(prefix="ltl", clients=1) as net:
        yield net
