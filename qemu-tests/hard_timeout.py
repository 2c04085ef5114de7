"""Hard timeouts for tests marked `qemu` (SIGALRM; pytest-timeout is not installed).

Each phase of such a test runs under its own alarm, so nothing of a lab test
can hang CI: setup (which includes module- and session-scoped fixtures, e.g.
a lab that builds its image and boots a client), the test itself, and
teardown (where module fixtures tear their lab down). Limits come from the
marker: `@pytest.mark.qemu(timeout=300, setup_timeout=900)`.

The alarm raises HardTimeoutError where the code is, so `with LabNetwork()`
blocks and fixtures still tear down.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import pytest

CALL_TIMEOUT = 600
SETUP_TIMEOUT = 1800  # fixtures may build the lab image from scratch (docs/lab.md: ~4 min)
TEARDOWN_TIMEOUT = 300


class HardTimeoutError(Exception):
    """A qemu test, or one of its fixtures, ran past its hard timeout."""


def limit(item: pytest.Item, phase: str) -> float | None:
    """Seconds allowed for this phase of the item, or None (not a qemu test)."""
    marker = item.get_closest_marker("qemu")
    if marker is None:
        return None
    if phase == "setup":
        return float(marker.kwargs.get("setup_timeout", SETUP_TIMEOUT))
    if phase == "teardown":
        return float(marker.kwargs.get("teardown_timeout", TEARDOWN_TIMEOUT))
    return float(marker.kwargs.get("timeout", CALL_TIMEOUT))


@contextmanager
def alarm(seconds: float | None, what: str) -> Iterator[None]:
    if seconds is None:
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise HardTimeoutError(f"hard timeout: {what} ran longer than {seconds:g}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with alarm(limit(item, "setup"), f"setup of {item.nodeid} (fixtures included)"):
        return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with alarm(limit(item, "call"), item.nodeid):
        return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    with alarm(limit(item, "teardown"), f"teardown after {item.nodeid} (fixtures included)"):
        return (yield)
