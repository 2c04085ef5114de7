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
from pathlib import Path

from ltsp_client.errors import LtspError
from ltsp_client.paths import LTSP_BINARY, inside

log = logging.getLogger(__name__)

LTSP_TREE = Path("/usr/lib/ltsp")
INIT = "/sbin/init"
SAVED_INIT = "/sbin/init.ltsp"
MODPROBE_CONF = "/etc/modprobe.d/ltsp.conf"


@dataclass
class CopyReport:
    copied: int = 0
    kept: int = 0


def _newer(source: os.stat_result, target: Path) -> bool:
    """mtime 0 marks a member of our reproducible ltsp.img (the kernel keeps cpio mtimes):
    it is the server's current file, so it replaces the image's as upstream's real-mtime
    ltsp.img does."""
    if source.st_mtime == 0:
        return True
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
    init = inside(root, INIT, follow_last=False)
    saved = inside(root, SAVED_INIT, follow_last=False)
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
    for source, target in ((tree, str(LTSP_TREE)), (etc_ltsp, "/etc/ltsp")):
        if source == tree and (tree / "ltsp").is_symlink():
            # ltsp-initrd-bottom linked the image's own client (the ltsp-client package)
            log.info("%s is the image's own client: nothing to copy", tree)
            continue
        if source.is_dir():
            # the root has its own /lib/modules; ltsp.img's few modules are for the initramfs
            report = copy_update(
                source, inside(root, target, follow_last=False), exclude=("modules",)
            )
            counts[target] = report.copied
    sbin_ltsp = inside(root, "/usr/sbin/ltsp", follow_last=False)
    if sbin_ltsp.parent.is_dir():
        if os.path.lexists(sbin_ltsp):
            sbin_ltsp.unlink()
        os.symlink("../lib/ltsp/ltsp", sbin_ltsp)
    target_conf = inside(root, MODPROBE_CONF, follow_last=False)
    if modprobe_conf.is_file() and target_conf.parent.is_dir():
        shutil.copy2(modprobe_conf, target_conf)
    override_init(root)
    return counts
