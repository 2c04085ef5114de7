"""The lab image with our client package installed, as an admin would install it.

`build-tools/deb` packs the frozen tree (build-tools/freeze) into ltsp-client_*.deb;
`packaged_chroot()` is a copy of the lab's base chroot with that package installed by
`dpkg -i` (its trigger runs update-initramfs with our hook). The copy is cached under
the lab cache, keyed by the base chroot and the package's inputs (frozen tree, hooks,
build-tools/deb.py): the .deb itself differs on every build (file times).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from pathlib import Path

from lab import LabError
from lab.image import build_rootfs, cache_root, file_lock
from ltsp_client.errors import CommandError
from ltsp_client.run import run

ROOT = Path(__file__).resolve().parents[2]
FREEZE = ROOT / "build-tools" / "freeze"
DIST = ROOT / "dist" / "ltsp"
DEB_INPUTS = (ROOT / "initramfs-hooks", ROOT / "build-tools/deb.py")
KEEP_PACKAGED = 3  # packaged chroots kept per base (about 600 MB each); worktrees differ
STALE_AFTER = 3600.0  # never prune one used in the last hour: a boot may be reading it


def frozen_tree() -> Path:
    """dist/ltsp, (re)built by build-tools/freeze (which skips unchanged sources)."""
    try:
        run([str(FREEZE)], timeout=900)
    except CommandError as exc:
        raise LabError(f"build-tools/freeze failed: {exc}") from exc
    if not (DIST / "ltsp").exists():
        raise LabError(f"build-tools/freeze produced no {DIST / 'ltsp'}")
    return DIST


def build_deb(out: Path) -> Path:
    """dist's frozen tree (rebuilt if stale) as OUT/ltsp-client_*.deb."""
    tree = frozen_tree()
    argv = [sys.executable, str(ROOT / "build-tools/deb.py"), "--tree", str(tree)]
    try:
        result = run([*argv, "--out", str(out)], timeout=600)
    except CommandError as exc:
        raise LabError(f"build-tools/deb failed: {exc}") from exc
    return Path(result.stdout.strip())


def inputs_digest(paths: tuple[Path, ...]) -> str:
    """sha256 over relative names, contents and link targets of every file under `paths`."""
    digest = hashlib.sha256()
    for top in paths:
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if not p.is_dir())
        for path in files:
            digest.update(str(path.relative_to(top.parent)).encode() + b"\0")
            if path.is_symlink():
                digest.update(os.readlink(path).encode())
            else:
                digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()[:12]


def packaged_chroot(deb: Path, base: Path | None = None) -> Path:
    """A copy of `base` (default: the lab's base chroot) with `deb` installed (dpkg -i,
    its trigger), cached beside it."""
    base = base or build_rootfs()
    digest = inputs_digest((frozen_tree(), *DEB_INPUTS))
    final = cache_root() / f"{base.name}-ltsp-client-{digest}"
    with file_lock(cache_root() / f".{final.name}.lock"):
        if (final / "var/lib/dpkg/info/ltsp-client.list").exists():
            os.utime(final)  # recently used: kept by prune_packaged
            return final
        tmp = final.with_name(final.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        run(["cp", "-a", str(base), str(tmp)], timeout=900)
        shutil.copyfile(deb, tmp / "tmp" / deb.name)
        script = (
            f"mount -t proc proc {tmp}/proc && mount --rbind /dev {tmp}/dev && "
            f"mount -t sysfs sys {tmp}/sys && chroot {tmp} dpkg -i /tmp/{deb.name}"
        )
        try:
            run(["unshare", "-m", "--propagation", "private", "sh", "-ec", script], timeout=1800)
        except CommandError as exc:
            raise LabError(f"installing {deb.name} in a copy of {base} failed: {exc}") from exc
        (tmp / "tmp" / deb.name).unlink()
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        os.utime(final)  # `cp -a` kept the base's old mtime: now the most recently used
    prune_packaged(cache_root(), base.name, current=final)
    return final


def prune_packaged(
    cache: Path, base_name: str, *, current: Path, now: float | None = None
) -> list[Path]:
    """Remove this base's packaged chroots beyond the KEEP_PACKAGED most recently used,
    if unused for STALE_AFTER, never `current` (the caller's): every new frozen tree
    makes one, and nothing else removes them."""
    now = time.time() if now is None else now
    found = [p for p in cache.glob(f"{base_name}-ltsp-client-*") if p.is_dir() and p != current]
    found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    found.insert(0, current)
    removed = []
    for old in found[KEEP_PACKAGED:]:
        if now - old.stat().st_mtime > STALE_AFTER and not old.name.endswith(".tmp"):
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old)
    return removed
