"""A small writer for the Linux initramfs format: newc cpio, optionally gzip'ed segments.

Output is deterministic: entries sorted by path (parents first), fixed
mtime, uid/gid 0 and sequential inode numbers, so the same input always
gives the same bytes. The kernel unpacks concatenated archives one after
the other, each compressed on its own or not (see `write_segments`).
"""

from __future__ import annotations

import gzip
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

MAGIC = b"070701"
TRAILER = "TRAILER!!!"
COMPRESSIONS = ("none", "gzip")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Entry:
    """One archive member. `source` (a file to stream) or `data` give a file's bytes."""

    name: str  # relative, no leading "/", e.g. "etc/ltsp/ltsp.conf"
    mode: int  # full st_mode, file type bits included
    data: bytes = b""  # file content, or a symlink's target
    source: Path | None = None
    rdev: tuple[int, int] = (0, 0)

    @property
    def size(self) -> int:
        if self.source is not None:
            return self.source.stat().st_size
        return len(self.data)


def _normalise(name: str) -> str:
    path = PurePosixPath("/", name)
    parts = [p for p in path.parts[1:] if p not in ("", ".")]
    if not parts or ".." in parts:
        raise ValueError(f"bad archive path: {name!r}")
    return "/".join(parts)


class Archive:
    """Entries collected by path; missing parent directories are added as 0755."""

    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}

    def __contains__(self, name: str) -> bool:
        return _normalise(name) in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, entry: Entry) -> None:
        name = _normalise(entry.name)
        parent = PurePosixPath(name).parent
        while str(parent) != ".":
            key = str(parent)
            if key not in self._entries:
                self._entries[key] = Entry(key, stat.S_IFDIR | 0o755)
            elif not stat.S_ISDIR(self._entries[key].mode):
                raise ValueError(f"{name}: parent {key} is not a directory in the archive")
            parent = parent.parent
        self._entries[name] = Entry(name, entry.mode, entry.data, entry.source, entry.rdev)

    def add_dir(self, name: str, mode: int = 0o755) -> None:
        self.add(Entry(name, stat.S_IFDIR | mode))

    def add_file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self.add(Entry(name, stat.S_IFREG | mode, data))

    def add_symlink(self, name: str, target: str) -> None:
        self.add(Entry(name, stat.S_IFLNK | 0o777, target.encode()))

    def add_path(self, source: Path, name: str) -> None:
        """One file system object (not following symlinks), keeping its permission bits."""
        st = source.lstat()
        perm = stat.S_IMODE(st.st_mode)
        if stat.S_ISDIR(st.st_mode):
            self.add(Entry(name, stat.S_IFDIR | perm))
        elif stat.S_ISREG(st.st_mode):
            self.add(Entry(name, stat.S_IFREG | perm, source=source))
        elif stat.S_ISLNK(st.st_mode):
            self.add_symlink(name, os.readlink(source))
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            kind = stat.S_IFMT(st.st_mode)
            rdev = (os.major(st.st_rdev), os.minor(st.st_rdev))
            self.add(Entry(name, kind | perm, rdev=rdev))
        else:
            raise ValueError(f"{source}: cannot archive this kind of file")

    def add_tree(self, source: Path, name: str) -> None:
        """`source` and everything below it, as `name`; symlinks are kept as links."""
        self.add_path(source, name)
        if source.is_symlink() or not source.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(source):
            dirnames.sort()
            base = Path(dirpath)
            prefix = PurePosixPath(name, base.relative_to(source))
            for child in sorted(dirnames + filenames):
                self.add_path(base / child, str(prefix / child))

    def names(self) -> list[str]:
        return [e.name for e in self.entries()]

    def entries(self) -> list[Entry]:
        """Sorted so that a directory always comes before what it contains."""
        return sorted(self._entries.values(), key=lambda e: e.name.split("/"))


def _header(
    entry_name: str,
    *,
    ino: int,
    mode: int,
    size: int,
    mtime: int,
    nlink: int,
    rdev: tuple[int, int] = (0, 0),
) -> bytes:
    name = entry_name.encode() + b"\0"
    fields = (ino, mode, 0, 0, nlink, mtime, size, 0, 0, rdev[0], rdev[1], len(name), 0)
    head = MAGIC + b"".join(b"%08X" % f for f in fields) + name
    return head + b"\0" * (-len(head) % 4)


def _chunks(entry: Entry) -> Iterator[bytes]:
    if entry.source is None:
        yield entry.data
        return
    with entry.source.open("rb") as src:
        while block := src.read(_CHUNK):
            yield block


def iter_newc(archive: Archive, *, mtime: int = 0) -> Iterator[bytes]:
    """The archive as newc cpio bytes, trailer included, padded to a 4-byte boundary."""
    for ino, entry in enumerate(archive.entries(), start=1):
        is_dir = stat.S_ISDIR(entry.mode)
        size = 0 if is_dir or entry.rdev != (0, 0) else entry.size
        yield _header(
            entry.name,
            ino=ino,
            mode=entry.mode,
            size=size,
            mtime=mtime,
            nlink=2 if is_dir else 1,
            rdev=entry.rdev,
        )
        if size:
            written = 0
            for block in _chunks(entry):
                written += len(block)
                yield block
            if written != size:
                raise OSError(f"{entry.source}: changed size while being archived")
            yield b"\0" * (-size % 4)
    yield _header(TRAILER, ino=0, mode=0, size=0, mtime=0, nlink=1)


def write_segments(
    out: BinaryIO, segments: Iterable[tuple[Archive, str]], *, mtime: int = 0
) -> None:
    """Write each archive as its own cpio, uncompressed ("none") or gzip'ed ("gzip").

    The kernel's initramfs unpacker takes a stream of such segments and skips
    zero padding between them; a compressed segment must start 4-byte aligned.
    """
    for archive, compression in segments:
        if compression not in COMPRESSIONS:
            raise ValueError(f"unknown compression {compression!r}")
        start = out.tell()
        if start % 4:
            out.write(b"\0" * (-start % 4))
        if compression == "none":
            for block in iter_newc(archive, mtime=mtime):
                out.write(block)
            continue
        # mtime=0 and no file name in the gzip header keep the bytes reproducible
        with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=9, mtime=0) as gz:
            for block in iter_newc(archive, mtime=mtime):
                gz.write(block)
