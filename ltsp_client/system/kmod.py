"""Make a filesystem or driver available: modprobe, else load the .ko ourselves.

Stock initramfs-tools initrds lack squashfs.ko and overlay.ko; ltsp.img carries
them in /usr/lib/ltsp/modules/<kver>/. As a last resort the target root's own
module tree is used, as upstream does for overlay.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import lzma
import os
import re
import struct
from collections.abc import Iterable
from pathlib import Path

from ltsp_client.errors import CommandError, LtspError
from ltsp_client.run import Runner, run

log = logging.getLogger(__name__)

MODULES_DIR = Path("/usr/lib/ltsp/modules")
MODULE_INIT_COMPRESSED_FILE = 4
# (finit_module, init_module) per system-call ABI: the numbers differ on every one.
SYSCALLS = {
    "x86_64": (313, 175),
    "i386": (350, 128),
    "aarch64": (273, 105),
    "arm": (379, 128),  # EABI: armhf and armel
}
_SUFFIXES = (".ko", ".ko.xz", ".ko.zst", ".ko.gz")
# where a module lives in a kernel tree, for the roots' own /lib/modules fallback
_TREE_PATHS = {
    "overlay": "kernel/fs/overlayfs",
    "squashfs": "kernel/fs/squashfs",
    "isofs": "kernel/fs/isofs",
    "loop": "kernel/drivers/block",
    "nbd": "kernel/drivers/block",
}
FS_MODULES = {"iso9660": "isofs", "ext2": "ext4", "ext3": "ext4", "vfat": "vfat"}


def filesystems(path: Path = Path("/proc/filesystems")) -> set[str]:
    try:
        return {line.split()[-1] for line in path.read_text().splitlines() if line.strip()}
    except OSError:
        return set()


def module_loaded(name: str, sys_module: Path = Path("/sys/module")) -> bool:
    return (sys_module / name).exists()


def candidates(name: str, *, kver: str, roots: Iterable[Path]) -> list[Path]:
    """Files that may hold module `name`: ltsp.img's copy first, then each root's tree."""
    dirs = [MODULES_DIR / kver]
    for root in roots:
        dirs.append(root / "lib/modules" / kver / _TREE_PATHS.get(name, "kernel"))
        dirs.append(root / "usr/lib/modules" / kver / _TREE_PATHS.get(name, "kernel"))
    return [d / f"{name}{suffix}" for d in dirs for suffix in _SUFFIXES]


def syscall_abi(machine: str, pointer_bits: int) -> str:
    """The ABI our process makes system calls with.

    `machine` (uname) names the kernel's architecture; a 32-bit userland on a
    64-bit kernel (i686 on x86_64, armhf on arm64) still uses the 32-bit
    numbers, hence the pointer size too.
    """
    if machine == "x86_64" or re.fullmatch(r"i[3-6]86", machine):
        return "x86_64" if pointer_bits == 64 else "i386"
    if machine in ("aarch64", "arm64") or machine.startswith("arm"):
        return "aarch64" if pointer_bits == 64 else "arm"
    raise LtspError(
        f"loading kernel modules without modprobe is not supported on {machine} "
        f"({pointer_bits}-bit): its system call numbers are not known",
        hint="put modprobe (kmod) and the module into the initramfs, or load it there",
    )


def _syscall(number: int, *args: object) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    rc: int = libc.syscall(number, *args)
    if rc != 0:
        return ctypes.get_errno()
    return 0


def load_file(path: Path, params: str = "", *, machine: str | None = None) -> None:
    """finit_module(2); for compressed files ask the kernel to decompress, else do it here."""
    abi = syscall_abi(machine or os.uname().machine, struct.calcsize("P") * 8)
    finit, init = SYSCALLS[abi]
    fd = os.open(path, os.O_RDONLY)
    try:
        flags = MODULE_INIT_COMPRESSED_FILE if path.suffix in (".xz", ".zst", ".gz") else 0
        err = _syscall(
            finit, ctypes.c_int(fd), ctypes.c_char_p(params.encode()), ctypes.c_int(flags)
        )
    finally:
        os.close(fd)
    if err == errno.EINVAL and path.suffix == ".xz":
        image = lzma.decompress(path.read_bytes())
        err = _syscall(
            init,
            ctypes.c_char_p(image),
            ctypes.c_ulong(len(image)),
            ctypes.c_char_p(params.encode()),
        )
    if err and err != errno.EEXIST:
        raise OSError(err, f"load {path}: {os.strerror(err)}")


def load(
    name: str,
    *,
    params: str = "",
    roots: Iterable[Path] = (),
    kver: str | None = None,
    runner: Runner = run,
) -> None:
    """Load kernel module `name` (dashes and underscores alike), or raise LtspError."""
    if module_loaded(name.replace("-", "_")):
        return
    argv = ["modprobe", name, *params.split()]
    try:
        runner(argv, timeout=30)
        return
    except CommandError as exc:
        log.debug("%s; trying the .ko files", exc)
    errors = []
    for path in candidates(name, kver=kver or os.uname().release, roots=roots):
        if path.exists():
            try:
                load_file(path, params)
                log.info("loaded %s", path)
                return
            except OSError as exc:
                errors.append(exc.strerror or str(exc))
    raise LtspError(
        f"cannot load kernel module {name}" + (f": {errors[-1]}" if errors else ""),
        hint=f"rebuild ltsp.img (`ltsp initrd`) so it carries {name}.ko for kernel "
        f"{kver or os.uname().release}, or install the image's kernel modules",
    )


def ensure_filesystem(fstype: str, *, roots: Iterable[Path] = (), runner: Runner = run) -> None:
    """Load the module behind `fstype` unless /proc/filesystems lists it already."""
    if fstype in filesystems():
        return
    load(FS_MODULES.get(fstype, fstype), roots=roots, runner=runner)
