"""Recognise image files by their magic bytes (what `blkid -p` would say, without blkid).

Knows squashfs, iso9660, ext2/3/4, vfat, swap, and MBR/GPT partitioned disks.
A partitioned disk is described by its partitions' byte ranges, so a partition
can be loop-mounted with an offset and no partition scan.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

EFI_SYSTEM_GUID = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
LINUX_SWAP_GUID = "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f"
_MBR_EFI = 0xEF
_MBR_SWAP = 0x82
_MBR_EXTENDED = (0x05, 0x0F, 0x85)
_SECTOR = 512


@dataclass(frozen=True)
class Partition:
    number: int  # 1-based, as in /dev/loop0p1
    offset: int  # bytes from the start of the disk
    size: int
    type: str  # GPT type GUID or MBR type as "0x83"

    @property
    def skipped(self) -> bool:
        """EFI system and swap partitions are never the root (§1.6.2)."""
        return self.type in (EFI_SYSTEM_GUID, LINUX_SWAP_GUID, f"{_MBR_EFI:#04x}", "0x82")


@dataclass(frozen=True)
class Probe:
    """fstype is "" when the content is unknown; `partitions` is set for a partitioned disk."""

    fstype: str = ""
    partitions: tuple[Partition, ...] = ()

    @property
    def is_disk(self) -> bool:
        return not self.fstype and bool(self.partitions)


def _read(f: BinaryIO, offset: int, size: int) -> bytes:
    f.seek(offset)
    return f.read(size)


def filesystem_type(f: BinaryIO, offset: int = 0) -> str:
    """The filesystem at `offset` in f, or ""."""
    if _read(f, offset, 4) == b"hsqs":
        return "squashfs"
    if _read(f, offset + 0x8001, 5) == b"CD001":
        return "iso9660"
    superblock = _read(f, offset + 1024, 0x68)
    if len(superblock) == 0x68 and superblock[0x38:0x3A] == b"\x53\xef":
        compat, incompat, ro_compat = struct.unpack_from("<III", superblock, 0x5C)
        if incompat & 0xFFFFFFF0 or ro_compat & ~0x7:  # extents, 64bit, flex_bg, huge files...
            return "ext4"
        return "ext3" if compat & 0x4 else "ext2"
    boot = _read(f, offset, _SECTOR)
    fat_label = boot[54:59] in (b"FAT12", b"FAT16") or boot[82:87] == b"FAT32"
    if len(boot) == _SECTOR and boot[510:512] == b"\x55\xaa" and fat_label:
        return "vfat"
    if _read(f, offset + 4086, 10) == b"SWAPSPACE2":
        return "swap"
    return ""


def _guid(raw: bytes) -> str:
    a, b, c = struct.unpack_from("<IHH", raw)
    tail = raw[8:16].hex()
    return f"{a:08x}-{b:04x}-{c:04x}-{tail[:4]}-{tail[4:]}"


def _gpt_partitions(f: BinaryIO) -> tuple[Partition, ...]:
    header = _read(f, _SECTOR, 92)
    if header[:8] != b"EFI PART":
        return ()
    entries_lba, count, entry_size = struct.unpack_from("<QII", header, 72)
    table = _read(f, entries_lba * _SECTOR, count * entry_size)
    found = []
    for index in range(count):
        entry = table[index * entry_size : (index + 1) * entry_size]
        if len(entry) < 48 or entry[:16] == bytes(16):
            continue
        first, last = struct.unpack_from("<QQ", entry, 32)
        found.append(
            Partition(index + 1, first * _SECTOR, (last - first + 1) * _SECTOR, _guid(entry[:16]))
        )
    return tuple(found)


def _mbr_partitions(f: BinaryIO) -> tuple[Partition, ...]:
    boot = _read(f, 0, _SECTOR)
    if len(boot) < _SECTOR or boot[510:512] != b"\x55\xaa":
        return ()
    found = []
    for index in range(4):
        entry = boot[446 + 16 * index : 462 + 16 * index]
        status, ptype = entry[0], entry[4]
        start, sectors = struct.unpack_from("<II", entry, 8)
        if status not in (0, 0x80):
            return ()  # not a partition table (a boot sector of some filesystem)
        if ptype == 0 or sectors == 0 or ptype in _MBR_EXTENDED:
            continue
        found.append(Partition(index + 1, start * _SECTOR, sectors * _SECTOR, f"{ptype:#04x}"))
    return tuple(found)


def probe_file(path: Path, offset: int = 0) -> Probe:
    """Filesystem first (ISO hybrids carry a partition table too and count as filesystems)."""
    with path.open("rb") as f:
        fstype = filesystem_type(f, offset)
        if fstype or offset:
            return Probe(fstype)
        partitions = _gpt_partitions(f) or _mbr_partitions(f)
        return Probe("", tuple(p for p in partitions if p.type != "0xee"))
