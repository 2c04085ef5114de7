"""kernelfs: which kernel filesystems pid 1 mounts, and how mount problems are reported."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from ltsp_client.errors import LtspError
from ltsp_client.system import kernelfs


def test_real_mounts_are_seen(tmp_path: Path) -> None:
    assert kernelfs.is_mounted(Path("/proc"))
    assert not kernelfs.is_mounted(tmp_path)


def test_only_missing_filesystems_are_mounted(tmp_path: Path) -> None:
    calls: list[tuple[str, str, str]] = []

    def mounter(source: str, target: Path, fstype: str, flags: int, options: str) -> None:
        calls.append((fstype, str(target.relative_to(tmp_path)), options))

    assert kernelfs.ensure(tmp_path, mounter=mounter) == ["/proc", "/sys", "/dev", "/run"]
    assert calls == [
        ("proc", "proc", ""),
        ("sysfs", "sys", ""),
        ("devtmpfs", "dev", "mode=0755"),
        ("tmpfs", "run", "mode=0755,size=20%"),
    ]
    assert all((tmp_path / d).is_dir() for d in ("proc", "sys", "dev", "run"))


def test_mount_failure_names_the_filesystem_with_a_hint(tmp_path: Path) -> None:
    def mounter(source: str, target: Path, fstype: str, flags: int, options: str) -> None:
        raise OSError(errno.ENODEV, "No such device", str(target))

    with pytest.raises(LtspError) as caught:
        kernelfs.ensure(tmp_path, mounter=mounter)
    assert caught.value.message == f"cannot mount proc on {tmp_path / 'proc'}: No such device"
    assert "kernel needs proc" in caught.value.hint


def test_real_mount_syscall_reports_errno(tmp_path: Path) -> None:
    with pytest.raises(OSError) as caught:
        kernelfs.mount("none", tmp_path / "missing-dir", "no-such-fstype-plg", 0, "")
    assert caught.value.errno in (errno.ENODEV, errno.ENOENT, errno.EPERM)
