"""Image sources of `ltsp image` and `ltsp kernel`: name resolution and read-only mounting.

A source is a chroot directory, a raw VM disk (partitioned or not, sparse or
not), an exported image, or `/` (chrootless), written in the image-source
chain syntax (`/,,/boot,subdir=boot`). It is mounted on a private temp dir
with an overlay whose upper layer is a private tmpfs, so what the cleanup
changes never reaches the source (spec §5.1 step 1).
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ltsp_client.errors import LtspError
from ltsp_client.system import mounts
from ltsp_client.system.imagesource import Element, parse_chain, render_chain
from ltsp_client.system.rootfs import Executor, mount_chain

log = logging.getLogger(__name__)

_CLONE_NEWNS = 0x00020000
_MS_REC = 0x4000
_MS_PRIVATE = 1 << 18


@dataclass(frozen=True)
class Source:
    name: str
    chain: tuple[Element, ...]
    kind: str  # chroot, vm, image, path

    @property
    def first(self) -> Path:
        return Path(self.chain[0].path)

    @property
    def is_dir(self) -> bool:
        return self.first.is_dir()


def machine_name(machine: str | None = None) -> str:
    """`uname -m`, with any *86 as x86_32 (upstream's name for chrootless images)."""
    value = machine or platform.machine()
    return "x86_32" if value.endswith("86") else value


def name_of(path: str) -> str:
    """The image name for a source path: basename, minus .img; `/` is the machine's name."""
    stripped = path.rstrip("/")
    if not stripped:
        return machine_name()
    base = os.path.basename(stripped)
    if base.endswith(".img"):
        base = base[:-4]
    if base in ("", ".", ".."):
        base = os.path.basename(os.path.abspath(stripped))
    return base


def _check_name(name: str, given: str) -> str:
    if not name or any(c in name for c in ", \t\n") or name.startswith("."):
        raise LtspError(
            f"invalid image name {name!r} (from {given!r})",
            hint="image names may not contain commas or whitespace, nor start with a dot",
        )
    return name


def resolve(value: str, base_dir: Path) -> Source:
    """Resolve IMG_SRC like upstream: only the first chain element is looked up."""
    chain = parse_chain(value)
    first = chain[0].path
    kind = "path"
    if first.startswith(("/", ".")):
        path = Path(first)
    elif (base_dir / first / "proc").is_dir():
        path, kind = base_dir / first, "chroot"
    elif (base_dir / f"{first}.img").is_file():
        path, kind = base_dir / f"{first}.img", "vm"
    elif (base_dir / "images" / f"{first}.img").is_file():
        path, kind = base_dir / "images" / f"{first}.img", "image"
    elif (base_dir / first).exists():
        path = base_dir / first
    else:
        path = Path(first)
    if not path.exists():
        raise LtspError(
            f"image source not found: {value}",
            hint=f"give a chroot in {base_dir}/NAME, a VM disk {base_dir}/NAME.img, "
            f"an image {base_dir}/images/NAME.img, or a path",
        )
    absolute = os.path.abspath(path)
    name = _check_name(name_of(absolute if first.startswith(".") else str(path)), value)
    if first == "/" or str(path) == "/":
        name = machine_name()
    head = Element(absolute, chain[0].fstype, chain[0].partition, chain[0].subdir, chain[0].options)
    return Source(name, (head, *chain[1:]), kind)


def private_mount_namespace() -> None:
    """Move this process into its own mount namespace: mounts vanish when it exits."""
    libc = mounts.libc()
    if libc.unshare(ctypes.c_int(_CLONE_NEWNS)) != 0:
        err = ctypes.get_errno()
        raise LtspError(f"unshare(CLONE_NEWNS): {os.strerror(err)}", hint="run as root")
    mounts.mount("none", "/", "", flags=_MS_REC | _MS_PRIVATE)


@contextmanager
def mounted(source: Source, *, overlay: bool = True, prefix: str = "ltsp-image-") -> Iterator[Path]:
    """Mount the source chain read-only under a private temp dir, with a tmpfs overlay on top
    (`overlay=False`: the bare read-only mounts, e.g. an ISO's own files for `ltsp kernel`)."""
    if os.geteuid() != 0:
        raise LtspError("mounting an image source needs root", hint="run it as root")
    top = Path(tempfile.mkdtemp(prefix=prefix))
    top.chmod(0o700)
    root = top / "root"
    root.mkdir()
    executor = Executor()
    try:
        try:
            mount_chain(
                source.chain,
                root=str(root),
                executor=executor,
                tmpfs=str(top / "tmpfs"),
                overlay=overlay,
            )
        except OSError as exc:
            raise LtspError(
                f"cannot mount the image source {render_chain(source.chain)}: {exc}",
                hint="every subdir= of the chain must exist in the tree below it",
            ) from exc
        yield root
    finally:
        executor.rollback()
        leftover = [m.mountpoint for m in mounts.mount_table() if m.mountpoint.startswith(str(top))]
        for point in reversed(leftover):
            try:
                mounts.umount(point, lazy=True)
            except OSError as exc:
                log.warning("cleanup: %s", exc)
        shutil.rmtree(top, ignore_errors=True)
