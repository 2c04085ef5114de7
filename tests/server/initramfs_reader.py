"""Read an initramfs image the way the kernel does: concatenated newc segments,
each plain or gzip'ed, zero padding between them. Test helper (independent of
the writer in ltsp_client.server.cpio, so the two check each other)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Member:
    name: str
    mode: int
    mtime: int
    uid: int
    gid: int
    data: bytes


@dataclass(frozen=True)
class Segment:
    compression: str
    members: list[Member]

    def names(self) -> list[str]:
        return [m.name for m in self.members]

    def by_name(self) -> dict[str, Member]:
        return {m.name: m for m in self.members}


def parse_newc(data: bytes) -> tuple[list[Member], int]:
    """Members up to the trailer, and the offset just after it."""
    members: list[Member] = []
    pos = 0
    while True:
        assert data[pos : pos + 6] == b"070701", f"bad magic at {pos}: {data[pos : pos + 6]!r}"
        fields = [int(data[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i in range(13)]
        _ino, mode, uid, gid, _nlink, mtime, size = fields[:7]
        namesize = fields[11]
        name_start = pos + 110
        name = data[name_start : name_start + namesize - 1].decode()
        pos = name_start + namesize
        pos += -pos % 4
        body = data[pos : pos + size]
        pos += size
        pos += -pos % 4
        if name == "TRAILER!!!":
            return members, pos
        members.append(Member(name, mode, mtime, uid, gid, body))


def read_image(data: bytes) -> list[Segment]:
    segments: list[Segment] = []
    pos = 0
    while pos < len(data):
        if data[pos] == 0:
            pos += 1
            continue
        if data[pos : pos + 6] == b"070701":
            assert pos % 4 == 0, f"uncompressed segment not aligned at {pos}"
            members, used = parse_newc(data[pos:])
            segments.append(Segment("none", members))
            pos += used
        elif data[pos : pos + 2] == b"\x1f\x8b":
            inflater = zlib.decompressobj(wbits=31)
            plain = inflater.decompress(data[pos:])
            assert inflater.eof, "truncated gzip segment"
            members, _ = parse_newc(plain)
            segments.append(Segment("gzip", members))
            pos = len(data) - len(inflater.unused_data)
        else:
            raise AssertionError(f"junk at offset {pos}: {data[pos : pos + 8]!r}")
    return segments
