"""Unit names as admins and upstream's lists write them: `ssh`, `portmap`, `apt-daily.timer`.

A name may lack its `.service` suffix, and may be an alias: Debian ships
/lib/systemd/system/portmap.service as a link to rpcbind.service, so
`systemctl disable portmap` disables rpcbind. `real_unit` follows such links
the way systemd does, so that a keep-list can be compared with the real units
(upstream's KEEP_SYSTEM_SERVICES=rpcbind still lost rpcbind through `portmap`).
SysV scripts without a unit are enabled by their /etc/rc?.d start links.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path, PurePosixPath

from ltsp_client.paths import inside
from ltsp_client.pluginkit.units import SYSTEM_UNIT_PATHS, UNIT_RE, USER_UNIT_PATHS, template_of

MAX_ALIASES = 10


def as_unit(name: str) -> str:
    """`ssh` -> `ssh.service`; a name with a unit type is kept."""
    return name if UNIT_RE.match(name) else f"{name}.service"


class UnitNames:
    """The unit files of the image at `root` (system, or global user units), listed once.

    A plugin that looks up dozens of names (the services plugin) reads each
    unit directory once instead of resolving every name in every directory.
    """

    def __init__(self, root: Path, *, user: bool = False) -> None:
        self.root = root
        self.entries: dict[str, Path] = {}
        for directory in reversed(USER_UNIT_PATHS if user else SYSTEM_UNIT_PATHS):
            folder = inside(root, directory)
            with contextlib.suppress(OSError):
                self.entries.update({e.name: Path(e.path) for e in os.scandir(folder)})

    def real_unit(self, name: str) -> str:
        """The unit file behind `name`, alias links followed (`portmap` -> `rpcbind.service`)."""
        unit = as_unit(name)
        for _ in range(MAX_ALIASES):
            entry = self.entries.get(unit)
            if entry is None or not entry.is_symlink():
                return unit
            target = os.readlink(entry)
            other = PurePosixPath(target).name
            if target == "/dev/null" or other == unit or not UNIT_RE.match(other):
                return unit
            unit = other
        return unit

    def installed(self, name: str) -> bool:
        """Whether `name` or `name.service` is a unit of the image (masked ones are not); an
        instance (`modprobe@loop.service`) is one when its template is."""
        names = (name, as_unit(name), template_of(as_unit(name)))
        for candidate in dict.fromkeys(names):
            entry = self.entries.get(candidate)
            if entry is None or not os.path.lexists(entry):
                continue
            if (
                not entry.is_symlink()
                or inside(self.root, "/" + str(entry.relative_to(self.root))).is_file()
            ):
                return True
        return False


def real_unit(root: Path, name: str, *, user: bool = False) -> str:
    """`UnitNames(root).real_unit(name)`, for one lookup."""
    return UnitNames(root, user=user).real_unit(name)


def installed(root: Path, name: str, *, user: bool = False) -> bool:
    """`UnitNames(root).installed(name)`, for one lookup."""
    return UnitNames(root, user=user).installed(name)


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
