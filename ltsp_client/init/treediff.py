"""What changed between an image and its scratch view, as a unified diff an admin can read.

Text files get `--- a/PATH` / `+++ b/PATH` hunks (so `patch -p1` could apply
them); links, modes, owners, directories and binary files get one line each.
"""

from __future__ import annotations

import difflib
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

MAX_TEXT = 1 << 20  # larger files are compared, not printed
Stat = os.stat_result | None


def _lstat(path: Path) -> Stat:
    try:
        return path.lstat()
    except FileNotFoundError:
        return None


def _kind(info: Stat) -> str:
    if info is None:
        return "missing"
    if stat.S_ISLNK(info.st_mode):
        return "symlink"
    if stat.S_ISDIR(info.st_mode):
        return "directory"
    if stat.S_ISREG(info.st_mode):
        return "file"
    return "special file"


def _text(path: Path, info: Stat) -> list[str] | None:
    """The lines of a regular text file ([] if absent); None if binary or too big."""
    if info is None or not stat.S_ISREG(info.st_mode):
        return []
    if info.st_size > MAX_TEXT:
        return None
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


def _same_content(a: Path, b: Path, ia: os.stat_result, ib: os.stat_result) -> bool:
    if stat.S_ISLNK(ia.st_mode):
        return os.readlink(a) == os.readlink(b)
    if stat.S_ISREG(ia.st_mode):
        return ia.st_size == ib.st_size and a.read_bytes() == b.read_bytes()
    return not stat.S_ISCHR(ia.st_mode) or ia.st_rdev == ib.st_rdev


def _meta(path: PurePosixPath, old: os.stat_result, new: os.stat_result) -> list[str]:
    out = []
    if (old.st_uid, old.st_gid) != (new.st_uid, new.st_gid):
        out.append(f"owner {path}: {old.st_uid}:{old.st_gid} -> {new.st_uid}:{new.st_gid}\n")
    mold, mnew = stat.S_IMODE(old.st_mode), stat.S_IMODE(new.st_mode)
    if not stat.S_ISLNK(old.st_mode) and mold != mnew:
        out.append(f"mode {path}: {mold:04o} -> {mnew:04o}\n")
    return out


def _what(path: Path, kind: str) -> str:
    return f"symlink to {os.readlink(path)}" if kind == "symlink" else kind


def _text_diff(path: PurePosixPath, old: Path, new: Path, iold: Stat, inew: Stat) -> list[str]:
    a, b = _text(old, iold), _text(new, inew)
    if a is None or b is None:
        return [f"binary file {path} differs\n"]
    fromfile = f"a{path}" if iold is not None else "/dev/null"
    tofile = f"b{path}" if inew is not None else "/dev/null"
    lines = difflib.unified_diff(a, b, fromfile, tofile)
    return [
        line if line.endswith("\n") else f"{line}\n\\ No newline at end of file\n" for line in lines
    ]


def file_diff(old_root: Path, new_root: Path, path: PurePosixPath) -> list[str]:
    """The lines describing how `path` differs (none if it does not)."""
    rel = path.relative_to("/")
    old, new = old_root / rel, new_root / rel
    iold, inew = _lstat(old), _lstat(new)
    kold, knew = _kind(iold), _kind(inew)
    out: list[str] = []
    if kold == knew:
        if iold is None or inew is None:
            return []
        out = _meta(path, iold, inew)
        if kold == "directory" or _same_content(old, new, iold, inew):
            return out
    if {kold, knew} <= {"file", "missing"}:
        return out + _text_diff(path, old, new, iold, inew)
    if (kold, knew) == ("missing", "directory"):
        return [f"new directory {path}\n"]
    if (kold, knew) == ("directory", "missing"):
        return [f"removed directory {path}\n"]
    return [*out, f"{path}: {_what(old, kold)} -> {_what(new, knew)}\n"]


def tree_diff(
    old_root: Path, new_root: Path, paths: Iterable[PurePosixPath], *, skip: tuple[str, ...] = ()
) -> Iterator[tuple[PurePosixPath, list[str]]]:
    """(path, diff lines) for every path in `paths` that differs, except under `skip`."""
    for path in paths:
        if any(path == PurePosixPath(s) or PurePosixPath(s) in path.parents for s in skip):
            continue
        lines = file_diff(old_root, new_root, path)
        if lines:
            yield path, lines
