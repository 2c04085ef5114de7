"""A stand-in initramfs for the no-initramfs path (`init=`) in the lab, for any architecture.

A Raspberry Pi's kernel does DHCP and mounts its NFS root itself (IP_PNP,
ROOT_NFS); Debian's kernels (amd64 and arm64) have neither. This initramfs
does only that: lab/standin/init.sh configures the NIC by DHCP (busybox
udhcpc), mounts the NFS root read-only, moves devtmpfs onto its /dev and
switch_roots to the kernel's `init=` with nothing else mounted, which is
what our binary finds on a Pi.

Everything in it comes from the image itself (its busybox, the libraries
busybox needs, its kernel's modules for the NIC and NFS), so the same builder
serves an arm64 image on this x86-64 host: ELF files are read with Python
(any architecture), the modules and their load order are chosen as for
ltsp.img (`select_modules`). Output: a gzip'ed newc
cpio written by our own writer (ltsp_client/server/cpio.py).
"""

from __future__ import annotations

import gzip
import lzma
import stat
import struct
import subprocess
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from lab import LabError
from ltsp_client.paths import inside
from ltsp_client.server.cpio import Archive, Entry, write_segments
from ltsp_client.server.initrd import kernel_module_dirs, select_modules

HERE = Path(__file__).resolve().parent / "standin"
# the lab NIC (virtio-net-pci on x86-64 and on aarch64 `virt`) and NFSv3
DEFAULT_MODULES = ("virtio_pci", "virtio_net", "nfsv3")
LIB_DIRS = ("/lib", "/usr/lib", "/lib64", "/usr/lib64")
_DT_NEEDED = 1
_DT_STRTAB = 5
_PT_LOAD = 1
_PT_INTERP = 3
_PT_DYNAMIC = 2


def _elf_header(data: bytes) -> tuple[str, bool]:
    """(struct byte-order prefix, is 64-bit) of an ELF file."""
    if data[:4] != b"\x7fELF":
        raise LabError("not an ELF file")
    return ("<" if data[5] == 1 else ">"), data[4] == 2


def elf_needs(path: Path) -> tuple[str, list[str]]:
    """(PT_INTERP, DT_NEEDED names) of an ELF executable or library, any architecture."""
    data = path.read_bytes()
    order, is64 = _elf_header(data)
    if is64:
        phoff, phentsize, phnum = (
            struct.unpack_from(order + "Q", data, 32)[0],
            *struct.unpack_from(order + "HH", data, 54),
        )
        ph = order + "IIQQQQQQ"
    else:
        phoff, phentsize, phnum = (
            struct.unpack_from(order + "I", data, 28)[0],
            *struct.unpack_from(order + "HH", data, 42),
        )
        ph = order + "IIIIIIII"
    interp, dynamic, loads = "", (0, 0), []
    for index in range(phnum):
        fields = struct.unpack_from(ph, data, phoff + index * phentsize)
        if is64:
            ptype, offset, vaddr, filesz = fields[0], fields[2], fields[3], fields[5]
        else:
            ptype, offset, vaddr, filesz = fields[0], fields[1], fields[2], fields[4]
        if ptype == _PT_INTERP:
            interp = data[offset : offset + filesz].rstrip(b"\0").decode()
        elif ptype == _PT_DYNAMIC:
            dynamic = (offset, filesz)
        elif ptype == _PT_LOAD:
            loads.append((vaddr, offset, filesz))
    entry = order + ("qQ" if is64 else "iI")
    size = struct.calcsize(entry)
    tags = [
        struct.unpack_from(entry, data, dynamic[0] + i * size) for i in range(dynamic[1] // size)
    ]
    strtab = next((value for tag, value in tags if tag == _DT_STRTAB), 0)
    # DT_STRTAB is an address: find its file offset through the loaded segments
    base = next((off + strtab - va for va, off, sz in loads if va <= strtab < va + sz), 0)
    needed = []
    for tag, value in tags:
        if tag == _DT_NEEDED:
            end = data.index(b"\0", base + value)
            needed.append(data[base + value : end].decode())
    return interp, needed


def find_library(root: Path, name: str) -> str:
    """The path (in the image) of library `name`: the lib dirs and their multiarch subdirs."""
    for lib in LIB_DIRS:
        top = inside(root, lib)
        if not top.is_dir():
            continue
        for directory in [top, *sorted(d for d in top.iterdir() if d.name.endswith("-gnu"))]:
            if (directory / name).exists():
                return f"{lib}/{name}" if directory == top else f"{lib}/{directory.name}/{name}"
    raise LabError(f"{name} is not in {root}'s library directories")


def add_program(archive: Archive, root: Path, program: str, target: str) -> None:
    """The program (as `target`) and, recursively, its interpreter and libraries."""
    archive.add(Entry(target, stat.S_IFREG | 0o755, source=inside(root, program)))
    todo = [inside(root, program)]
    while todo:
        interp, needed = elf_needs(todo.pop())
        wanted = ([interp] if interp else []) + [find_library(root, n) for n in needed]
        for path in wanted:
            name = path.lstrip("/")
            if name in archive:
                continue
            real = inside(root, path)
            archive.add(Entry(name, stat.S_IFREG | 0o755, source=real))
            todo.append(real)


def _module_bytes(path: Path) -> bytes:
    """A module, decompressed (busybox insmod may not read .xz/.gz/.zst)."""
    if path.suffix == ".xz":
        return lzma.decompress(path.read_bytes())
    if path.suffix == ".gz":
        return gzip.decompress(path.read_bytes())
    if path.suffix == ".zst":
        return subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True).stdout
    return path.read_bytes()


def module_dir(root: Path, kernel: Path | None = None) -> Path:
    """The image's lib/modules/KVER: its only one, else the one the kernel file is named for."""
    found = kernel_module_dirs(root)
    if len(found) == 1:
        return found[0]
    if kernel is not None:
        for moddir in found:
            if kernel.resolve().name.endswith(moddir.name):
                return moddir
    raise LabError(f"which kernel? {root} has modules for {[d.name for d in found]}")


def build(
    root: Path,
    out: Path,
    *,
    modules: Sequence[str] = DEFAULT_MODULES,
    kernel: Path | None = None,
) -> Path:
    """Write the stand-in initramfs for image `root` to `out` (gzip'ed newc cpio)."""
    archive = Archive()
    for directory in ("dev", "proc", "sys", "newroot", "bin"):
        archive.add(Entry(directory, stat.S_IFDIR | 0o755))
    archive.add(Entry("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1)))
    archive.add(Entry("init", stat.S_IFREG | 0o755, source=HERE / "init.sh"))
    archive.add(Entry("udhcpc.sh", stat.S_IFREG | 0o755, source=HERE / "udhcpc.sh"))
    add_program(archive, root, "/bin/busybox", "bin/busybox")
    archive.add(Entry("bin/sh", stat.S_IFLNK | 0o777, b"busybox"))  # for /init's #!
    chosen = select_modules(module_dir(root, kernel), modules)
    if chosen.missing:
        raise LabError(f"kernel {chosen.kver} lacks {', '.join(chosen.missing)}")
    loaded = []
    for module in chosen.files:
        name = PurePosixPath(module).name.split(".ko")[0] + ".ko"
        archive.add(
            Entry(
                f"lib/modules/{name}", stat.S_IFREG | 0o644, _module_bytes(chosen.moddir / module)
            )
        )
        loaded.append(name)
    archive.add(
        Entry("modules.load", stat.S_IFREG | 0o644, "".join(f"{n}\n" for n in loaded).encode())
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as stream:
        write_segments(stream, [(archive, "gzip")])
    return out
