"""File helpers for plugins: every write is under the root, atomic, with an explicit mode.

Atomic means a temp file in the same directory renamed over the target, so a
reader (or a crash) sees the old file or the new one, never half of one. The
path is as the client sees it (`/etc/fstab`); symlinks in it are resolved inside
the root (`paths.inside`), so a write through a link changes what the client
reads and never a file outside the root. Parents are created (mode 0755).
No fsync: at boot the root is a tmpfs overlay that dies with the machine.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from ltsp_client.errors import LtspError
from ltsp_client.paths import inside

DIR_MODE = 0o755
_SERIAL = itertools.count()
CRON_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")  # cron ignores cron.d files with other names


def _parent_in_root(root: Path, path: str | PurePosixPath, *, create: bool = True) -> Path:
    """The parent directory of `path` under root (created), with the final name appended.

    The final component is not followed: links are made and removed as links.
    """
    posix = PurePosixPath(path)
    if not posix.is_absolute() or posix.name in ("", ".", ".."):
        raise ValueError(f"not an absolute file path: {path}")
    parent = inside(root, posix.parent)
    if create:
        parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    return parent / posix.name


def write_file(root: Path, path: str | PurePosixPath, content: str | bytes, mode: int) -> Path:
    """Replace `path` with `content` (str is written as UTF-8), atomically, with `mode`."""
    target = inside(root, path)
    target.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, temp = _create_temp(target)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            os.fchmod(stream.fileno(), mode)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target


def _create_temp(target: Path) -> tuple[int, Path]:
    """A new file next to `target` (no `tempfile`: it costs pid 1 an import of `random`)."""
    while True:
        temp = target.with_name(f".{target.name}.{os.getpid()}.{next(_SERIAL)}.ltsp")
        try:
            return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), temp
        except FileExistsError:
            continue


def read_text(root: Path, path: str | PurePosixPath) -> str | None:
    """The file's text (UTF-8, undecodable bytes kept as escapes), or None if it is missing."""
    try:
        return inside(root, path).read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return None


def remove_file(root: Path, path: str | PurePosixPath) -> bool:
    """Remove `path` (a link itself, not its target); False if there was nothing."""
    target = _parent_in_root(root, path, create=False)
    try:
        target.unlink()
    except FileNotFoundError:
        return False
    except IsADirectoryError:
        raise LtspError(
            f"{path} is a directory, not a file", hint="remove_file removes files and links"
        ) from None
    return True


def symlink(root: Path, path: str | PurePosixPath, target: str) -> Path:
    """Make `path` a symlink to `target` (as the client sees it), atomically replacing a link."""
    link = _parent_in_root(root, path)
    if os.path.lexists(link) and not link.is_symlink():
        raise LtspError(
            f"{path} exists and is not a symlink; refusing to replace it with a link to {target}",
            hint="remove it first if it should go",
        )
    temp = link.with_name(f".{link.name}.ltsp-link")
    temp.unlink(missing_ok=True)
    os.symlink(target, temp)
    os.replace(temp, link)
    return link


def add_line(root: Path, path: str | PurePosixPath, line: str, mode: int) -> bool:
    """Append `line` unless the file has it already (blanks compared loosely); True if added."""
    if "\n" in line.strip("\n"):
        raise ValueError(f"one line expected, got {line!r}")
    line = line.strip("\n")
    old = read_text(root, path) or ""
    wanted = line.split()
    if any(existing.split() == wanted for existing in old.splitlines()):
        return False
    prefix = old if old == "" or old.endswith("\n") else old + "\n"
    write_file(root, path, prefix + line + "\n", mode)
    return True


def add_fstab_line(root: Path, line: str) -> bool:
    """An /etc/fstab entry, appended unless present (mode 0644)."""
    if len(line.split()) < 2:
        raise LtspError(
            f"fstab line {line!r} needs at least a device and a mount point",
            hint="write `DEVICE MOUNTPOINT TYPE OPTIONS`, e.g. `server:/home /home nfs defaults`",
        )
    return add_line(root, "/etc/fstab", line, 0o644)


def write_cron(root: Path, name: str, lines: Iterable[str]) -> Path:
    """/etc/cron.d/NAME with `lines` (each `m h dom mon dow user command`), mode 0644."""
    if not CRON_NAME_RE.match(name):
        raise ValueError(f"cron.d name {name!r}: cron ignores names other than [A-Za-z0-9_-]")
    body = "".join(line.rstrip("\n") + "\n" for line in lines)
    return write_file(root, f"/etc/cron.d/{name}", "# Written by LTSP at boot\n" + body, 0o644)
