"""The frozen binary on a glibc 2.31 root (Debian 11 = Ubuntu 20.04's glibc), in a chroot.

It brings its own glibc 2.36; the programs it starts must get the root's own
libraries, i.e. no LD_LIBRARY_PATH pointing into /usr/lib/ltsp/_internal.
The bullseye minbase chroot is made once with debootstrap (about 2-3 min) and
cached in /var/tmp. Marked qemu because it is slow and needs the mirror.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from lab.ourstack import frozen_tree

CHROOT = Path("/var/tmp/ltsp-frz-bullseye")
MIRROR = "http://deb.debian.org/debian"

pytestmark = pytest.mark.freeze


def bullseye() -> Path:
    if os.geteuid() != 0:
        pytest.fail("needs root (debootstrap, chroot); CI runs as root")
    if shutil.which("debootstrap") is None:
        pytest.fail("debootstrap is missing: apt-get install debootstrap (apt-freeze.txt)")
    if not (CHROOT / "usr/bin/dpkg").exists():
        partial = CHROOT.with_name(CHROOT.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        subprocess.run(
            ["debootstrap", "--variant=minbase", "bullseye", str(partial), MIRROR],
            check=True,
            capture_output=True,
            timeout=900,
        )
        partial.rename(CHROOT)
    return CHROOT


@pytest.mark.qemu(timeout=1200)
def test_runs_on_glibc_231_and_its_children_use_the_roots_libc() -> None:
    root = bullseye()
    libc = subprocess.run(
        ["chroot", str(root), "ldd", "--version"], capture_output=True, text=True, check=True
    )
    assert "2.31" in libc.stdout.splitlines()[0]
    shutil.rmtree(root / "usr/lib/ltsp", ignore_errors=True)
    shutil.copytree(frozen_tree(), root / "usr/lib/ltsp", symlinks=True)
    target = root / "tmp/frz-target"
    shutil.rmtree(target, ignore_errors=True)
    (target / "sbin").mkdir(parents=True)
    init = target / "sbin/init"
    # the "real init" runs a dynamically linked bullseye program, as systemd would
    init.write_text(
        "#!/bin/sh\n/bin/ls / > /tmp/frz-target/ls.out 2>&1\n"
        'echo "rc=$? LD_LIBRARY_PATH=${LD_LIBRARY_PATH-unset}" > /tmp/frz-target/out\n'
    )
    init.chmod(0o755)
    version = subprocess.run(
        ["chroot", str(root), "/usr/lib/ltsp/ltsp", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert version.returncode == 0 and version.stdout.startswith("ltsp "), version.stderr
    proc = subprocess.run(
        ["chroot", str(root), "/usr/lib/ltsp/ltsp", "init", "--root", "/tmp/frz-target", "--"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    assert (target / "out").read_text() == "rc=0 LD_LIBRARY_PATH=unset\n"
    assert "GLIBC" not in (target / "ls.out").read_text()
    # and what would happen without the scrubbing: the reason clean_environ exists
    leaked = subprocess.run(
        ["chroot", str(root), "env", "LD_LIBRARY_PATH=/usr/lib/ltsp/_internal", "/bin/ls", "/"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert leaked.returncode != 0 and "GLIBC_2.3" in leaked.stderr
