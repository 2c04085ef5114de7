"""Clean an image root before squashing: users, printers, logs, machine identity.

These steps run ONLY on the overlay that `ltsp image` mounts over the source
(its upper layer is a private tmpfs), never on the admin's template: `run_cleanup`
refuses a root that is not an overlayfs mount. Each step has upstream's
OMIT_FUNCTIONS name where upstream has one.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from ltsp_client.errors import LtspError
from ltsp_client.system import mounts

log = logging.getLogger(__name__)

_ACCOUNT_BACKUPS = ("group-", "gshadow-", "passwd-", "shadow-", "subgid-", "subuid-")


def _login_defs_range(etc: Path) -> tuple[int, int]:
    """UID_MIN/UID_MAX of the image (1000/60000 when unset)."""
    values = {"UID_MIN": 1000, "UID_MAX": 60000}
    try:
        text = (etc / "login.defs").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return values["UID_MIN"], values["UID_MAX"]
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] in values and words[1].isdigit():
            values[words[0]] = int(words[1])
    return values["UID_MIN"], values["UID_MAX"]


def _rewrite(path: Path, lines: Iterable[str], like: Path | None = None) -> None:
    """Replace `path` with `lines`, keeping the mode and owner of `like` (default: itself)."""
    ref = (like or path).stat()
    tmp = path.with_name(f".{path.name}.ltsp-tmp")
    tmp.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    os.chown(tmp, ref.st_uid, ref.st_gid)
    tmp.chmod(ref.st_mode & 0o7777)
    os.replace(tmp, path)


def _read(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []


def remove_users(root: Path) -> None:
    """Drop normal users (UID_MIN..UID_MAX) and groups they leave empty; lock every password.

    The effect of upstream's pwmerge of an empty source into the image.
    """
    etc = root / "etc"
    if not (etc / "passwd").is_file():
        return
    low, high = _login_defs_range(etc)
    kept_users: list[list[str]] = []
    removed: set[str] = set()
    for line in _read(etc / "passwd"):
        fields = line.split(":")
        if len(fields) == 7 and fields[2].isdigit() and low <= int(fields[2]) <= high:
            removed.add(fields[0])
        elif line:
            kept_users.append(fields)
    primary = {f[3] for f in kept_users if len(f) == 7}
    kept_groups: list[str] = []
    for line in _read(etc / "group"):
        fields = line.split(":")
        if len(fields) != 4:
            kept_groups.append(line)
            continue
        members = [m for m in fields[3].split(",") if m and m not in removed]
        in_range = fields[2].isdigit() and low <= int(fields[2]) <= high
        if in_range and not members and fields[2] not in primary:
            continue
        kept_groups.append(":".join([*fields[:3], ",".join(members)]))
    names = [f[0] for f in kept_users]
    _rewrite(etc / "passwd", (":".join(f) for f in kept_users))
    if (etc / "group").is_file():
        _rewrite(etc / "group", kept_groups)
    if (etc / "shadow").is_file():
        _rewrite(etc / "shadow", (f"{n}:!:::::::" for n in names))
    if (etc / "gshadow").is_file():
        gnames = [g.split(":")[0] for g in kept_groups]
        listed = {
            g.split(":")[0]: g.split(":")[3] if g.count(":") == 3 else "" for g in kept_groups
        }
        _rewrite(etc / "gshadow", (f"{g}:*::{listed[g]}" for g in gnames), like=etc / "shadow")
    for name in ("subuid", "subgid"):
        path = etc / name
        if path.is_file():
            _rewrite(path, (line for line in _read(path) if line.split(":")[0] not in removed))
    for backup in _ACCOUNT_BACKUPS:
        (etc / backup).unlink(missing_ok=True)
    if removed:
        log.info("removed users from the image: %s", " ".join(sorted(removed)))


def cleanup_printers(root: Path) -> None:
    """Keep only the comments of printers.conf (device URIs may hold passwords)."""
    path = root / "etc/cups/printers.conf"
    if path.is_file():
        _rewrite(path, (line for line in _read(path) if line.startswith("#")))


def cleanup_resolv(root: Path) -> None:
    """Undo what `ltsp dnsmasq --dns=1` did on a chrootless server."""
    dropin = root / "etc/systemd/resolved.conf.d/ltsp.conf"
    if dropin.is_file():
        dropin.unlink()
        resolv = root / "etc/resolv.conf"
        resolv.unlink(missing_ok=True)
        resolv.symlink_to("../run/systemd/resolve/stub-resolv.conf")


def truncate_logs(root: Path) -> None:
    """Empty the top-level files of var/log, etc/fstab and debconf's passwords."""
    logs = root / "var/log"
    if logs.is_dir():
        for entry in logs.iterdir():
            if entry.is_file() and not entry.is_symlink() and entry.stat().st_size:
                _rewrite(entry, [])
    for name in ("etc/fstab", "var/cache/debconf/passwords.dat"):
        path = root / name
        if path.is_file() and not path.is_symlink() and path.stat().st_size:
            _rewrite(path, [])


def empty_machine_id(root: Path) -> None:
    """Every client must get its own machine-id: empty (not remove) the template's."""
    for name in ("etc/machine-id", "var/lib/dbus/machine-id"):
        path = root / name
        if path.is_file() and not path.is_symlink() and path.stat().st_size:
            _rewrite(path, [])


STEPS: tuple[tuple[str, Callable[[Path], None]], ...] = (
    ("cleanup_printers", cleanup_printers),
    ("remove_users", remove_users),
    ("cleanup_resolv", cleanup_resolv),
    ("truncate_logs", truncate_logs),
    ("empty_machine_id", empty_machine_id),
)


def require_overlay(root: Path) -> None:
    entry = mounts.find_mount(root)
    if entry is None or entry.fstype != "overlay":
        raise LtspError(
            f"refusing to clean {root}: it is not the overlay `ltsp image` mounts",
            hint="cleanup never edits a source in place",
        )


def run_cleanup(root: Path, omit: Iterable[str] = ()) -> list[str]:
    """Run every step not named in `omit` (OMIT_FUNCTIONS) on the overlay root; return them."""
    require_overlay(root)
    skipped = set(omit)
    done = []
    for name, func in STEPS:
        if name in skipped:
            log.info("Omitting %s", name)
            continue
        func(root)
        done.append(name)
    return done
