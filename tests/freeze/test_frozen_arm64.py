"""The arm64 frozen binary (`build-tools/freeze --arch arm64`), run here under qemu-aarch64.

It is built in a cached arm64 Debian chroot under qemu-user (cold: minutes, see
docs/benchmarks.md). binfmt_misc runs the aarch64 ELF through qemu-aarch64-static
(flag F), so a chroot needs no emulator inside: the roots below hold our tree
and, for the pid-1 test, the build chroot's static busybox as the "real init"'s
shell, nothing else (no libc but ours, no /proc).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ltsp_client

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "build-tools"))

from freeze_foreign import build_chroot  # noqa: E402

from ltsp_client.server.initrd import check_binary_tree, elf_arch  # noqa: E402

FREEZE = ROOT / "build-tools" / "freeze"
DEB = ROOT / "build-tools" / "deb"
LIBS = ("ld-linux-aarch64.so.1", "libc.so.6", "libm.so.6", "libz.so.1", "libpthread.so.0")
REAL_INIT = """#!/bin/sh
root=${0%/sbin/init}
{
  echo "pid=$$"
  echo "args=$*"
  echo "ld=${LD_LIBRARY_PATH-unset}"
  [ -r "$root/proc/self/status" ] && echo "proc=mounted"
} > "$root/result"
"""

pytestmark = [pytest.mark.freeze, pytest.mark.root]


@pytest.fixture(scope="session")
def tree() -> Path:
    if os.geteuid() != 0:
        pytest.fail("the arm64 build needs root (debootstrap, chroot, binfmt_misc)")
    for tool, package in (("qemu-aarch64-static", "qemu-user-static"), ("debootstrap", "")):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: apt-get install {package or tool} (apt-freeze.txt)")
    proc = subprocess.run(
        [str(FREEZE), "--arch", "arm64"], capture_output=True, text=True, timeout=2400, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1])


def in_root(root: Path, *argv: str, pid_ns: bool = False) -> subprocess.CompletedProcess[str]:
    prefix = ["unshare", "--pid", "--fork", "--mount", "--propagation", "private"] if pid_ns else []
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEVICE": "lo", "IP_ADDRESS": "127.0.0.1"}
    env["MAC_ADDRESS"] = "52:54:00:12:34:56"
    return subprocess.run(
        [*prefix, "chroot", str(root), *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


def test_an_arm64_tree_with_its_own_glibc_at_absolute_paths(tree: Path) -> None:
    check_binary_tree(tree)  # what `ltsp initrd` and build-tools/deb accept
    assert elf_arch(tree / "ltsp") == "arm64"
    internal = tree / "_internal"
    for lib in LIBS:
        assert (internal / lib).is_file(), lib
        assert elf_arch(internal / lib) == "arm64", lib
    interp, rpath = (
        subprocess.run(
            ["patchelf", flag, str(tree / "ltsp")], capture_output=True, text=True, check=True
        ).stdout.strip()
        for flag in ("--print-interpreter", "--print-rpath")
    )
    assert (interp, rpath) == (
        "/usr/lib/ltsp/_internal/ld-linux-aarch64.so.1",
        "/usr/lib/ltsp/_internal",
    )
    assert not list(internal.rglob("libssl*")) and not list(internal.rglob("libcrypto*"))
    assert not list(internal.rglob("*x86_64*"))


def test_runs_under_qemu_aarch64_in_a_root_without_libc_or_proc(tree: Path, tmp_path: Path) -> None:
    shutil.copytree(tree, tmp_path / "usr/lib/ltsp", symlinks=True)
    assert not (tmp_path / "proc").exists() and not (tmp_path / "lib").exists()
    version = in_root(tmp_path, "/usr/lib/ltsp/ltsp", "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout == f"ltsp {ltsp_client.__version__}\n"
    usage = in_root(tmp_path, "/usr/lib/ltsp/ltsp", "--help")
    assert usage.returncode == 0 and "initrd" in usage.stdout, usage.stderr


def test_pid1_of_a_pid_namespace_before_proc_exists(tree: Path, tmp_path: Path) -> None:
    """`ltsp init` as pid 1 (started in a root without /proc), plugins, then the real init."""
    root = tmp_path / "root"
    shutil.copytree(tree, root / "usr/lib/ltsp", symlinks=True)
    (root / "bin").mkdir()
    shutil.copy2(build_chroot("arm64") / "bin/busybox", root / "bin/busybox")
    (root / "bin/sh").symlink_to("busybox")
    target = root / "target"
    (target / "sbin").mkdir(parents=True)
    (target / "etc/ltsp").mkdir(parents=True)
    (target / "etc/ltsp/ltsp.conf").write_text("[clients]\nHOSTNAME=arm%{IP}\n")
    (target / "etc/hosts").write_text("127.0.0.1\tlocalhost\n")
    saved = target / "sbin/init.ltsp"
    saved.write_text(REAL_INIT)
    saved.chmod(0o755)
    (target / "sbin/init").symlink_to("/usr/lib/ltsp/ltsp")
    proc = in_root(
        root, "/usr/lib/ltsp/ltsp", "init", "--root", "/target", "--", "splash", pid_ns=True
    )
    assert proc.returncode == 0, proc.stderr
    result = dict(line.split("=", 1) for line in (target / "result").read_text().splitlines())
    assert result == {"pid": "1", "args": "splash", "ld": "unset", "proc": "mounted"}
    assert (target / "etc/hostname").read_text() == "arm1\n"
    assert not (root / "proc").exists()


def test_the_arm64_client_package(tree: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(DEB), "--tree", str(tree), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    deb = Path(proc.stdout.strip())
    assert deb.name == f"ltsp-client_{ltsp_client.__version__}-1_arm64.deb"
    unpacked = tmp_path / "x"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
    assert elf_arch(unpacked / "usr/lib/ltsp/ltsp") == "arm64"
    assert elf_arch(unpacked / "usr/lib/ltsp/_internal/libc.so.6") == "arm64"
