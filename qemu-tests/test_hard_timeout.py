"""hard_timeout.py: a qemu test's setup (module fixtures included), call and teardown are cut."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

HANGING = """
import time
import pytest

@pytest.fixture(scope="module")
def lab():
    time.sleep(60)  # a lab that never comes up
    yield

@pytest.fixture(scope="module")
def stuck_teardown():
    yield
    time.sleep(60)  # a lab that never goes down

@pytest.mark.qemu(timeout=30, setup_timeout=0.3)
def test_needs_a_lab(lab):
    pass

@pytest.mark.qemu(timeout=0.3)
def test_hangs():
    time.sleep(60)

@pytest.mark.qemu(timeout=30, teardown_timeout=0.3)
def test_last(stuck_teardown):
    pass
"""


def test_hanging_module_fixture_test_and_teardown_are_cut(tmp_path: Path) -> None:
    (tmp_path / "test_hanging.py").write_text(HANGING)
    start = time.monotonic()
    argv = [sys.executable, "-m", "pytest", "-q", "-c", os.devnull, "--rootdir", str(tmp_path)]
    argv += ["-p", "hard_timeout", "-p", "no:cacheprovider", "-p", "no:hypothesispytest"]
    argv += ["-W", "ignore::pytest.PytestUnknownMarkWarning", str(tmp_path / "test_hanging.py")]
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    took = time.monotonic() - start
    out = proc.stdout + proc.stderr
    assert took < 30, f"not cut: {took:.0f}s\n{out}"
    assert proc.returncode == 1, out
    assert "ERROR at setup of test_needs_a_lab" in out, out
    assert "hard timeout: setup of" in out and "(fixtures included)" in out, out
    assert "hard timeout: " in out and "test_hangs ran longer than 0.3s" in out, out
    assert "ERROR at teardown of test_last" in out, out
    assert "1 failed, 1 passed, 2 errors" in out, out
