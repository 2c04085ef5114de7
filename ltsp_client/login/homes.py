"""The state of a home directory: mounted by us (sshfs, tmpfs for guests), stale, or local."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path

from ltsp_client.errors import CommandError
from ltsp_client.run import Runner
from ltsp_client.system.mounts import find_mount, mount, umount

SSHFS = "fuse.sshfs"
TMPFS = "tmpfs"


def mount_type(path: Path) -> str | None:
    """The filesystem type mounted exactly at `path`, or None."""
    entry = find_mount(path)
    return entry.fstype if entry else None


def is_stale(path: Path) -> bool:
    """A FUSE mount whose daemon died: "Transport endpoint is not connected".

    statfs, not stat: the kernel answers a stat from its attribute cache for a
    while after the daemon died; a statfs always asks the daemon."""
    try:
        os.statvfs(path)
    except OSError as err:
        return err.errno in (errno.ENOTCONN, errno.ECONNABORTED)
    return False


def home_provided(home: Path) -> bool:
    """/home or the home itself is a mount point that is not ours (NFS, local disk)."""
    for path in (home.parent, home):
        kind = mount_type(path)
        if kind is not None and kind not in (SSHFS,) and not (path == home and kind == TMPFS):
            return True
    return False


def unmount(runner: Runner, home: Path) -> None:
    """Unmount a FUSE (fusermount -u; lazy when busy) or tmpfs home."""
    kind = mount_type(home)
    if kind is None:
        return
    if kind != SSHFS:
        umount(home)
        return
    tool = "fusermount3" if shutil.which("fusermount3") else "fusermount"
    result = runner([tool, "-u", str(home)], timeout=30, check=False)
    if not result.ok:
        runner([tool, "-u", "-z", str(home)], timeout=30, check=False)


def make_home(home: Path, uid: int, gid: int) -> bool:
    """Create a missing home (0755, the user's), as pam_mkhomedir; True if it was created."""
    if home.is_dir():
        return False
    home.mkdir(mode=0o755, parents=True)
    os.chown(home, uid, gid)
    return True


def remove_if_empty(home: Path) -> None:
    """After a failed mount: no empty local home to log into (work would be lost, #338)."""
    with contextlib.suppress(OSError):
        home.rmdir()


def mount_guest_home(home: Path, uid: int, gid: int) -> None:
    """An empty tmpfs home for a guest (gone after the last session)."""
    make_home(home, uid, gid)
    if mount_type(home) == TMPFS:
        return
    try:
        mount("tmpfs", home, "tmpfs", data=f"mode=0700,uid={uid},gid={gid}")
    except OSError as err:
        raise CommandError(f"cannot mount a tmpfs home on {home}: {err}") from None
