"""Real files of Debian packages for server tests: `apt-get download` + `dpkg-deb -x`, cached.

The cache (env LTSP_TEST_DEBS, default /var/cache/ltsp-test-debs) keeps one extracted
tree per package; a missing tool or mirror fails the test (never skips).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

CACHE = Path(os.environ.get("LTSP_TEST_DEBS", "/var/cache/ltsp-test-debs"))


def extracted(package: str) -> Path:
    """The package's files, extracted under CACHE/<package>/root (downloaded once)."""
    root = CACHE / package / "root"
    if root.is_dir():
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        subprocess.run(
            ["apt-get", "download", "-q", package],
            cwd=tmp,
            check=True,
            capture_output=True,
            timeout=300,
        )
        (deb,) = Path(tmp).glob("*.deb")
        partial = Path(tmp) / "root"
        subprocess.run(["dpkg-deb", "-x", str(deb), str(partial)], check=True, timeout=120)
        root.parent.mkdir(parents=True, exist_ok=True)
        partial.rename(root)
    return root
