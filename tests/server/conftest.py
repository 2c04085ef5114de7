"""A real kernel module tree for the publisher tests, whatever kernel this machine has.

The host's /lib/modules/<kver> when one has a modules.dep (any version);
otherwise Debian's current linux-image-amd64 kernel package is downloaded and
extracted once into a cache, so the tests never depend on one kernel version.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ltsp_client.server import initrd

CACHE = Path(os.environ.get("LTSP_TEST_CACHE", "/var/cache/ltsp-tests")) / "kernel"


def _apt(*argv: str, cwd: Path | None = None) -> str:
    if shutil.which(argv[0]) is None:
        pytest.fail(f"{argv[0]} is missing (Debian packages apt, dpkg, kmod)")
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(argv)} failed: {proc.stderr.strip()[-500:]}")
    return proc.stdout


def downloaded_kernel_root() -> Path:
    """ROOT with lib/modules/<kver> from Debian's linux-image-amd64 dependency (cached)."""
    depends = _apt("apt-cache", "depends", "linux-image-amd64")
    package = next(
        (line.split(":", 1)[1].strip() for line in depends.splitlines() if "Depends:" in line),
        "",
    )
    if not package:
        pytest.fail("apt-cache knows no linux-image-amd64 dependency; run apt-get update")
    root = CACHE / package
    if initrd.kernel_module_dirs(root):
        return root
    work = CACHE / f".{package}.tmp-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    _apt("apt-get", "download", "-q", package, cwd=work)
    (deb,) = work.glob("*.deb")
    _apt("dpkg-deb", "-x", str(deb), str(work / "root"))
    deb.unlink()
    for base in (work / "root/lib/modules", work / "root/usr/lib/modules"):
        for moddir in base.glob("*") if base.is_dir() else ():
            _apt("depmod", "-b", str(work / "root"), moddir.name)  # the package has no modules.dep
    shutil.rmtree(root, ignore_errors=True)
    (work / "root").rename(root)
    shutil.rmtree(work)
    return root


@pytest.fixture(scope="session")
def modules_root() -> Path:
    """A root directory with at least one lib/modules/<kver> tree with modules.dep."""
    if initrd.kernel_module_dirs(Path("/")):
        return Path("/")
    return downloaded_kernel_root()


@pytest.fixture(scope="session")
def kernel_moddir(modules_root: Path) -> Path:
    """The newest kernel module directory under modules_root."""
    return initrd.kernel_module_dirs(modules_root)[-1]
