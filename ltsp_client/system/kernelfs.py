"""Mount /proc, /sys, /dev and /run when they are missing (pid 1 without an initramfs).

After initramfs-tools or dracut they are already there (moved into the new
root); the kernel's `init=` path and some containers leave them to us.
mount(2) comes from system/mounts.py (ctypes, no mount binary needed).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ltsp_client.errors import LtspError
from ltsp_client.paths import inside
from ltsp_client.system import mounts
from ltsp_client.system.mounts import MS_NODEV, MS_NOEXEC, MS_NOSUID


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
MOUNTINFO = Path("/proc/self/mountinfo")


def mount(source: str, target: Path, fstype: str, flags: int, options: str) -> None:
    """mount(2); raises OSError with the errno."""
    mounts.mount(source, target, fstype, flags=flags, data=options)


def is_mounted(target: Path) -> bool:
    """The mount table when /proc is there (it also sees bind mounts), else a stat comparison."""
    if not MOUNTINFO.exists():
        return os.path.ismount(target)
    return mounts.is_mounted(os.path.realpath(target))


def ensure(root: Path, *, mounter: Mounter = mount) -> list[str]:
    """Mount each kernel filesystem that is not mounted under `root`; returns what was mounted."""
    mounted: list[str] = []
    for fs in KERNEL_FILESYSTEMS:
        target = inside(root, fs.target)
        if is_mounted(target):
            continue
        try:
            target.mkdir(mode=0o755, parents=True, exist_ok=True)
            mounter(fs.fstype, target, fs.fstype, fs.flags, fs.options)
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise LtspError(
                f"cannot mount {fs.fstype} on {target}: {reason}",
                hint=f"the kernel needs {fs.fstype} support (and /dev needs CONFIG_DEVTMPFS)"
                if exc.errno in (errno.ENODEV, None)
                else "",
            ) from exc
        mounted.append(fs.target)
    return mounted
