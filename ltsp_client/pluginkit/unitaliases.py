"""Unit names as admins and upstream's lists write them: `ssh`, `portmap`, `apt-daily.timer`.

A name may lack its `.service` suffix, and may be an alias: Debian ships
/lib/systemd/system/portmap.service as a link to rpcbind.service, so
`systemctl disable portmap` disables rpcbind. `real_unit` follows such links
the way systemd does, so that a keep-list can be compared with the real units
(upstream's KEEP_SYSTEM_SERVICES=rpcbind still lost rpcbind through `portmap`).
SysV scripts without a unit are enabled by their /etc/rc?.d start links.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from ltsp_client.paths import inside
from ltsp_client.pluginkit.units import SYSTEM_UNIT_PATHS, UNIT_RE, USER_UNIT_PATHS

MAX_ALIASES = 10


def as_unit(name: str) -> str:
    """`ssh` -> `ssh.service`; a name with a unit type is kept."""
    return name if UNIT_RE.match(name) else f"{name}.service"


def _entry(root: Path, name: str, user: bool) -> Path | None:
    """The first unit-path entry called `name` (a file, an alias link or a mask)."""
    for directory in USER_UNIT_PATHS if user else SYSTEM_UNIT_PATHS:
        entry = inside(root, directory) / name
        if os.path.lexists(entry):
            return entry
    return None


def real_unit(root: Path, name: str, *, user: bool = False) -> str:
    """The unit file name behind `name`, alias links followed (`portmap` -> `rpcbind.service`)."""
    unit = as_unit(name)
    for _ in range(MAX_ALIASES):
        entry = _entry(root, unit, user)
        if entry is None or not entry.is_symlink():
            return unit
        target = os.readlink(entry)
        other = PurePosixPath(target).name
        if target == "/dev/null" or other == unit or not UNIT_RE.match(other):
            return unit
        unit = other
    return unit


def installed(root: Path, name: str, *, user: bool = False) -> bool:
    """Whether `name` or `name.service` is a unit of the image (masked ones are not)."""
    for candidate in dict.fromkeys((name, as_unit(name))):
        entry = _entry(root, candidate, user)
        if entry is not None and inside(root, "/" + str(entry.relative_to(root))).is_file():
            return True
    return False


def disable_sysv(root: Path, name: str) -> list[PurePosixPath]:
    """Start links of /etc/init.d/NAME become stop links, as `update-rc.d NAME disable`."""
    script = name.removesuffix(".service")
    if not inside(root, f"/etc/init.d/{script}").is_file():
        return []
    changed = []
    for level in "S2345":  # nfs-common starts from rcS.d
        folder = inside(root, f"/etc/rc{level}.d")
        for link in sorted(folder.glob(f"S[0-9][0-9]{script}")) if folder.is_dir() else []:
            link.rename(link.with_name(f"K01{script}"))
            changed.append(PurePosixPath(f"/etc/rc{level}.d", link.name))
    return changed
