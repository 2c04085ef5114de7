"""The frozen ltsp tree for the slow tests, built (or found current) by build-tools/freeze."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def frozen_tree() -> Path:
    proc = subprocess.run(
        [str(ROOT / "build-tools" / "freeze")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1])
