"""Where the kernel's NFS root came from, and NFSv3 mounts of further exports from there.

Used by the no-initramfs path (init/roroot.py): the kernel (or the lab's
stand-in initramfs) mounted `SERVER:PATH` on `/`; the image and ltsp.img are
further exports of the same server. mount(2) gets the text options with
`addr=`, so the kernel does the MOUNT protocol itself (no mount.nfs needed).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from ltsp_client.errors import LtspError
from ltsp_client.kcmdline import words
from ltsp_client.system import mounts

# upstream's options for these mounts (spec §1.7): NFSv3, no locking (no statd at boot)
NFS_OPTIONS = "vers=3,proto=tcp,nolock"


@dataclass(frozen=True)
class NfsSource:
    server: str  # an IPv4 address
    path: str


def parse_source(text: str) -> NfsSource | None:
    """`192.168.67.1:/srv/ltsp/raspios` (mountinfo, nfsroot=) -> NfsSource; None if not one."""
    server, colon, path = text.partition(":")
    if not colon or not path.startswith("/"):
        return None
    try:
        ipaddress.IPv4Address(server)
    except ValueError:
        return None
    return NfsSource(server, path.split(",", 1)[0])


def _ip_server(cmdline: str) -> str:
    """The server field of `ip=CLIENT:SERVER:GW:MASK:...` ("" if not given)."""
    for word in words(cmdline):
        if word.startswith("ip="):
            fields = word[3:].split(":")
            if len(fields) > 1 and parse_source(f"{fields[1]}:/") is not None:
                return fields[1]
    return ""


def root_source(cmdline: str, mountinfo: Path = Path("/proc/self/mountinfo")) -> NfsSource:
    """The NFS root: the mount table's `/` if it is NFS, else `nfsroot=` (its server part,
    else `ip=`'s server field, as the kernel's own NFS root reads them)."""
    root = mounts.find_mount("/", mounts.mount_table(mountinfo))
    if root is not None and root.fstype.startswith("nfs"):
        found = parse_source(root.source)
        if found is not None:
            return found
    for word in words(cmdline):
        if not word.startswith("nfsroot="):
            continue
        value = word[len("nfsroot=") :]
        found = parse_source(value)
        if found is not None:
            return found
        server = _ip_server(cmdline)
        if server and value.startswith("/"):
            return NfsSource(server, value.split(",", 1)[0])
    raise LtspError(
        "cannot tell the NFS server: / is not an NFS mount and nfsroot= names none",
        hint="boot with root=/dev/nfs nfsroot=SERVER:/srv/ltsp/NAME (cmdline.txt on a Pi)",
    )


def mount_nfs(server: str, path: str, target: Path, *, read_only: bool = True) -> None:
    """NFSv3 mount of SERVER:PATH on target (read-only unless asked)."""
    flags = mounts.MS_RDONLY if read_only else 0
    try:
        mounts.mount(
            f"{server}:{path}", target, "nfs", flags=flags, data=f"{NFS_OPTIONS},addr={server}"
        )
    except OSError as exc:
        raise LtspError(
            f"cannot mount {server}:{path} on {target}: {exc.strerror or exc}",
            hint=f"check that the server exports {path} over NFSv3 (`ltsp nfs`)",
        ) from exc
