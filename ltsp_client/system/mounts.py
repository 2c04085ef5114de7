"""mount(2), umount2(2) and the mount table, without util-linux (the initramfs has busybox at best).

libc comes from `CDLL(None)`: `ctypes.util.find_library` would spawn ldconfig or gcc.
ctypes is imported when a mount is made: reading the mount table (`ltsp login`
at every PAM step) does not need it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ctypes

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 0x2

_FLAG_OPTIONS = {
    "ro": MS_RDONLY,
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "bind": MS_BIND,
}
_IGNORED_OPTIONS = {"rw", "loop", "defaults", "suid", "dev", "exec", "auto", "noauto"}


@cache
def libc() -> ctypes.CDLL:
    import ctypes

    lib = ctypes.CDLL(None, use_errno=True)
    lib.mount.argtypes = (
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_ulong,
        ctypes.c_char_p,
    )
    lib.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)
    return lib


def _errno() -> int:
    import ctypes

    return ctypes.get_errno()


def split_options(options: str) -> tuple[int, str]:
    """`ro,noload,loop` -> (MS_RDONLY, "noload"): flags for mount(2), the rest as fs data."""
    flags = 0
    data: list[str] = []
    for option in filter(None, options.split(",")):
        if option in _FLAG_OPTIONS:
            flags |= _FLAG_OPTIONS[option]
        elif option not in _IGNORED_OPTIONS:
            data.append(option)
    return flags, ",".join(data)


def mount(source: str, target: Path | str, fstype: str, *, flags: int = 0, data: str = "") -> None:
    rc = libc().mount(
        source.encode(),
        str(target).encode(),
        fstype.encode() if fstype else None,
        flags,
        data.encode() if data else None,
    )
    if rc != 0:
        err = _errno()
        raise OSError(err, f"mount -t {fstype or 'none'} {source} {target}: {os.strerror(err)}")


def umount(target: Path | str, *, lazy: bool = False) -> None:
    rc = libc().umount2(str(target).encode(), MNT_DETACH if lazy else 0)
    if rc != 0:
        err = _errno()
        raise OSError(err, f"umount {target}: {os.strerror(err)}")


@dataclass(frozen=True)
class MountEntry:
    device: str  # "major:minor"
    mountpoint: str
    fstype: str
    source: str


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n")


def mount_table(mountinfo: Path = Path("/proc/self/mountinfo")) -> list[MountEntry]:
    entries = []
    try:
        text = mountinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    for line in text.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        sep = fields.index("-")
        entries.append(
            MountEntry(
                device=fields[2],
                mountpoint=_unescape(fields[4]),
                fstype=fields[sep + 1],
                source=_unescape(fields[sep + 2]),
            )
        )
    return entries


def find_mount(mountpoint: Path | str, table: list[MountEntry] | None = None) -> MountEntry | None:
    """The topmost mount at exactly `mountpoint`, or None."""
    wanted = os.path.normpath(str(mountpoint))
    found = None
    for entry in mount_table() if table is None else table:
        if entry.mountpoint == wanted:
            found = entry
    return found


def is_mounted(mountpoint: Path | str) -> bool:
    return find_mount(mountpoint) is not None
