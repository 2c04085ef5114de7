"""Unpack an initramfs file (ltsp.img) without the kernel: newc cpio segments, plain or gzip.

The no-initramfs path (init/roroot.py) fetches ltsp.img over NFS and needs its
/etc/ltsp; there is no cpio binary on every image, and the kernel never sees
this file. Segments follow each other as the kernel reads them: a newc
archive ending in TRAILER!!!, zero padding, then the next one (gzip'ed or not).
Only directories, regular files and symlinks are written; names are resolved
under the destination, so no member can land outside it.
"""

from __future__ import annotations

import io
import os
import stat
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from ltsp_client.errors import LtspError
from ltsp_client.paths import inside

MAGIC = b"070701"
TRAILER = "TRAILER!!!"
_HEADER = 110


@dataclass(frozen=True)
class Member:
    name: str  # relative, e.g. "etc/ltsp/ltsp.conf"
    mode: int
    mtime: int
    data: bytes  # a file's content, or a symlink's target


def _pad(stream: BinaryIO, offset: int) -> int:
    skip = (4 - offset % 4) % 4
    stream.read(skip)
    return offset + skip


def _members(stream: BinaryIO, source: str) -> Iterator[Member]:
    """One newc archive, up to and excluding its trailer."""
    offset = 0
    while True:
        header = stream.read(_HEADER)
        if len(header) < _HEADER or header[:6] != MAGIC:
            raise LtspError(f"{source}: not a newc cpio archive at byte {offset}")
        fields = [int(header[6 + 8 * i : 14 + 8 * i], 16) for i in range(13)]
        mode, mtime, size, namesize = fields[1], fields[5], fields[6], fields[11]
        name = stream.read(namesize).rstrip(b"\0").decode("utf-8", "surrogateescape")
        offset = _pad(stream, offset + _HEADER + namesize)
        data = stream.read(size)
        if len(data) < size:
            raise LtspError(f"{source}: {name} is cut short")
        offset = _pad(stream, offset + size)
        if name == TRAILER:
            return
        yield Member(_relative(name), mode, mtime, data)


def _relative(name: str) -> str:
    """ "./etc/x", "/etc/x" and "etc/x" alike; "" for the archive's root."""
    parts = [p for p in PurePosixPath("/", name).parts[1:] if p != "."]
    return "/".join(parts)


def members(path: Path) -> Iterator[Member]:
    """Every member of every segment of `path`, in order."""
    with path.open("rb") as raw:
        while True:
            head = raw.read(4)
            while head == b"\0\0\0\0":  # padding between segments
                head = raw.read(4)
            if not head:
                return
            start = raw.tell() - len(head)
            raw.seek(start)
            if head[:2] == b"\x1f\x8b":
                yield from _gzip_segment(raw, path)
            elif head == MAGIC[:4]:
                yield from _members(raw, str(path))
            else:
                raise LtspError(
                    f"{path}: unknown segment at byte {start}",
                    hint="ltsp.img holds newc cpio archives, plain or gzip'ed",
                )


def _gzip_segment(raw: BinaryIO, path: Path) -> Iterator[Member]:
    """One gzip member (the rest of the file may hold further segments)."""
    start = raw.tell()
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    chunks = []
    while not decompressor.eof:
        chunk = raw.read(1 << 20)
        if not chunk:
            raise LtspError(f"{path}: the gzip segment at byte {start} is cut short")
        chunks.append(decompressor.decompress(chunk))
    raw.seek(raw.tell() - len(decompressor.unused_data))
    yield from _members(io.BytesIO(b"".join(chunks)), f"{path} (gzip at {start})")


def unpack(
    path: Path, dest: Path, *, wanted: Callable[[str], bool] = lambda name: True
) -> list[str]:
    """Write the members that `wanted(name)` accepts under `dest`; returns their names."""
    written = []
    for member in members(path):
        if not member.name or not wanted(member.name):
            continue
        target = inside(dest, PurePosixPath("/", member.name), follow_last=False)
        target.parent.mkdir(parents=True, exist_ok=True)
        kind = stat.S_IFMT(member.mode)
        if kind == stat.S_IFDIR:
            target.mkdir(exist_ok=True)
            os.chmod(target, stat.S_IMODE(member.mode))
        elif kind == stat.S_IFLNK:
            if os.path.lexists(target):
                target.unlink()
            os.symlink(member.data.decode("utf-8", "surrogateescape"), target)
        elif kind == stat.S_IFREG:
            if os.path.lexists(target) and not target.is_dir():
                target.unlink()
            target.write_bytes(member.data)
            os.chmod(target, stat.S_IMODE(member.mode))
            # as the kernel unpacks it: our reproducible ltsp.img has mtime 0, which
            # init/install.copy_update takes as newest
            os.utime(target, (member.mtime, member.mtime))
        else:
            continue  # device nodes and fifos are the initramfs's business
        written.append(member.name)
    return written
