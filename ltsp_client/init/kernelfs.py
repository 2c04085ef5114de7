"""Mount /proc, /sys, /dev and /run when they are missing (pid 1 without an initramfs).

After initramfs-tools or dracut they are already there (moved into the new
root); the kernel's `init=` path and some containers leave them to us.
mount(2) is called through ctypes with CDLL(None): `ctypes.util.find_library`
would spawn ldconfig, and no mount binary is needed.
"""

from __future__ import annotations

import ctypes
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ltsp_client.errors import LtspError
from ltsp_client.paths import under

MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8


@dataclass(frozen=True)
class KernelFs:
    target: str
    fstype: str
    flags: int
    options: str = ""


KERNEL_FILESYSTEMS = (
    KernelFs("/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC),
    KernelFs("/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC),
    KernelFs("/dev", "devtmpfs", MS_NOSUID, "mode=0755"),
    KernelFs("/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=20%"),
)

Mounter = Callable[[str, Path, str, int, str], None]


def mount(source: str, target: Path, fstype: str, flags: int, options: str) -> None:
    """mount(2); raises OSError with the errno."""
    libc = ctypes.CDLL(None, use_errno=True)
    result = libc.mount(
        source.encode(),
        os.fsencode(target),
        fstype.encode(),
        ctypes.c_ulong(flags),
        options.encode() if options else None,
    )
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(target))


def mount_points(mountinfo: Path = Path("/proc/self/mountinfo")) -> set[str] | None:
    """Our mount points from mountinfo (None when /proc is not mounted yet)."""
    try:
        text = mountinfo.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError:
        return None
    points = set()
    for line in text.splitlines():
        fields = line.split()
        if len(fields) > 4:
            points.add(_unescape(fields[4]))
    return points


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes (\\040...)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)


def is_mounted(target: Path) -> bool:
    """Mountinfo when /proc is there (it also sees bind mounts), else a stat comparison."""
    points = mount_points()
    if points is None:
        return os.path.ismount(target)
    return os.path.realpath(target) in points


def ensure(root: Path, *, mounter: Mounter = mount) -> list[str]:
    """Mount each kernel filesystem that is not mounted under `root`; returns what was mounted."""
    mounted: list[str] = []
    for fs in KERNEL_FILESYSTEMS:
        target = under(root, fs.target)
        if is_mounted(target):
            continue
        try:
            target.mkdir(mode=0o755, parents=True, exist_ok=True)
            mounter(fs.fstype, target, fs.fstype, fs.flags, fs.options)
        except OSError as exc:
            raise LtspError(
                f"cannot mount {fs.fstype} on {target}: {exc.strerror}",
                hint=f"the kernel needs {fs.fstype} support (and /dev needs CONFIG_DEVTMPFS)",
            ) from exc
        mounted.append(fs.target)
    return mounted
