"""Put LTSP into the new root and make /sbin/init start `ltsp init` (§1.6.5).

Paths inside the new root are resolved like a chroot would: an absolute
symlink such as /sbin -> /usr/sbin in the image must not lead us into the
initramfs's own tree.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ltsp_client.errors import LtspError

log = logging.getLogger(__name__)

LTSP_TREE = Path("/usr/lib/ltsp")
LTSP_BINARY = "/usr/lib/ltsp/ltsp"
INIT = "/sbin/init"
SAVED_INIT = "/sbin/init.ltsp"
MODPROBE_CONF = "/etc/modprobe.d/ltsp.conf"
_MAX_LINKS = 40


def resolve_in_root(root: Path, path: str) -> Path:
    """Where `path` (as seen inside root) is, following symlinks as if root were `/`.

    The last component is not followed, so a symlink itself can be replaced.
    """
    parts = [p for p in PurePosixPath(path).parts[1:] if p not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = Path(root, *resolved, part)
        if parts and candidate.is_symlink():
            hops += 1
            if hops > _MAX_LINKS:
                raise LtspError(f"too many symlinks resolving {path} in {root}")
            target = PurePosixPath(os.readlink(candidate))
            if target.is_absolute():
                resolved = []
            parts = [p for p in target.parts if p not in ("/", "", ".")] + parts
            continue
        resolved.append(part)
    return Path(root, *resolved)


@dataclass
class CopyReport:
    copied: int = 0
    kept: int = 0


def _newer(source: os.stat_result, target: Path) -> bool:
    try:
        return source.st_mtime > target.lstat().st_mtime
    except FileNotFoundError:
        return True


def copy_update(
    source: Path,
    target: Path,
    report: CopyReport | None = None,
    *,
    exclude: tuple[str, ...] = (),
) -> CopyReport:
    """Merge `source` into `target` like `cp -a --update`: existing newer files win.

    `exclude` names top-level entries of `source` to leave out.
    """
    report = report or CopyReport()
    info = source.lstat()
    if stat.S_ISDIR(info.st_mode):
        if target.is_symlink() or (target.exists() and not target.is_dir()):
            target.unlink()
        target.mkdir(parents=True, exist_ok=True)
        for child in sorted(source.iterdir()):
            if child.name not in exclude:
                copy_update(child, target / child.name, report)
        os.chmod(target, stat.S_IMODE(info.st_mode))
        return report
    if not _newer(info, target):
        report.kept += 1
        return report
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    elif os.path.lexists(target):
        target.unlink()
    if stat.S_ISLNK(info.st_mode):
        os.symlink(os.readlink(source), target)
    else:
        shutil.copy2(source, target)
    report.copied += 1
    return report


def override_init(root: Path, binary: str = LTSP_BINARY) -> Path:
    """Copy (never rename) /sbin/init to /sbin/init.ltsp, then point /sbin/init at us.

    Renaming a symlink on an overlay over NFS fails with ENXIO on newer
    kernels, hence the copy. Returns the saved init's path.
    """
    init = resolve_in_root(root, INIT)
    saved = resolve_in_root(root, SAVED_INIT)
    if init.is_symlink() and os.readlink(init) == binary:
        if os.path.lexists(saved):
            log.info("%s already points to %s", INIT, binary)
            return saved
        raise LtspError(
            f"{INIT} points to {binary} but {SAVED_INIT} is missing",
            hint="the image was saved while booted; reinstall its init (e.g. systemd-sysv)",
        )
    if not os.path.lexists(init):
        raise LtspError(
            f"the image has no {INIT}", hint="install an init system (systemd-sysv) in the image"
        )
    if os.path.lexists(saved):
        saved.unlink()
    if init.is_symlink():
        os.symlink(os.readlink(init), saved)
    else:
        shutil.copy2(init, saved)
    init.unlink()
    os.symlink(binary, init)
    return saved


def install(
    root: Path,
    *,
    tree: Path = LTSP_TREE,
    etc_ltsp: Path = Path("/etc/ltsp"),
    modprobe_conf: Path = Path(MODPROBE_CONF),
) -> dict[str, int]:
    """Everything §1.6.5 asks; returns copy counts for the log."""
    counts: dict[str, int] = {}
    for source, inside in ((tree, str(LTSP_TREE)), (etc_ltsp, "/etc/ltsp")):
        if source.is_dir():
            # the root has its own /lib/modules; ltsp.img's few modules are for the initramfs
            report = copy_update(source, resolve_in_root(root, inside), exclude=("modules",))
            counts[inside] = report.copied
    sbin_ltsp = resolve_in_root(root, "/usr/sbin/ltsp")
    if sbin_ltsp.parent.is_dir():
        if os.path.lexists(sbin_ltsp):
            sbin_ltsp.unlink()
        os.symlink("../lib/ltsp/ltsp", sbin_ltsp)
    target_conf = resolve_in_root(root, MODPROBE_CONF)
    if modprobe_conf.is_file() and target_conf.parent.is_dir():
        shutil.copy2(modprobe_conf, target_conf)
    override_init(root)
    return counts
