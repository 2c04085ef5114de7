"""`ltsp kernel`: publish an image's kernel and initrd as TFTP_DIR/ltsp/NAME/{vmlinuz,initrd.img}.

Sources: chroot directories (read in place), squashfs images and ISOs (listed
with `unsquashfs -lls` / `xorriso -find`, only the two files extracted), raw
disks (loop-mounted read-only). The pair is found with upstream's search table (spec
§5.2), KERNEL_INITRD first. Each output is replaced by rename(2) of a
complete file, so a client fetching the old one over TFTP/HTTP is unaffected.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Protocol

from ltsp_client.appcontext import Context
from ltsp_client.config.model import Config
from ltsp_client.errors import ConfigError, LtspError
from ltsp_client.paths import LTSP_BINARY
from ltsp_client.run import run
from ltsp_client.server import catalog, settings, sources
from ltsp_client.system.probe import probe_file

log = logging.getLogger(__name__)

# (kernel glob, sed expression turning the kernel path into the initrd path); each glob
# is tried at the root and under boot/
SEARCH_TABLE: tuple[tuple[str, str], ...] = (
    ("boot/*/loader/linux", "s|loader/linux|loader/initrd|"),
    ("casper/vmlinuz", "s|vmlinuz|initrd|"),
    ("casper/vmlinuz", "s|vmlinuz|initrd.lz|"),
    ("casper/vmlinuz", "s|vmlinuz|initrd.gz|"),
    ("install.amd/vmlinuz", "s|vmlinuz|initrd.gz|"),
    ("isolinux/vmlinuz", "s|vmlinuz|initrd.img|"),
    ("live/vmlinuz-*", "s|vmlinuz|initrd.img|"),
    ("vmlinuz", "s|vmlinuz|initrd.img|"),
    ("vmlinuz-*", "s|vmlinuz|initrd.img|"),
    ("vmlinuz-*", r"s|vmlinuz-\(.*\)|initramfs-\1.img|"),
    ("vmlinuz", "s|vmlinuz|core.gz|"),
)
_MAX_LINKS = 40


class Tree(Protocol):
    """A read-only view of an image: relative POSIX paths ("" is the root), no following."""

    def listdir(self, rel: str) -> list[str]: ...
    def kind(self, rel: str) -> str: ...  # "f", "d", "l", "o" (other) or "" (missing)
    def readlink(self, rel: str) -> str: ...


def _join(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


class DirTree:
    def __init__(self, root: Path) -> None:
        self.root = root

    def listdir(self, rel: str) -> list[str]:
        try:
            return sorted(os.listdir(self.root / rel))
        except OSError:
            return []

    def kind(self, rel: str) -> str:
        path = self.root / rel
        if path.is_symlink():
            return "l"
        if path.is_dir():
            return "d"
        if path.is_file():
            return "f"
        return "o" if os.path.lexists(path) else ""

    def readlink(self, rel: str) -> str:
        return os.readlink(self.root / rel)


class ListingTree:
    """An image known from a listing of its entries; files are extracted on demand."""

    def __init__(self, image: Path) -> None:
        self.image = image
        self.entries: dict[str, tuple[str, str]] = {"": ("d", "")}
        self.children: dict[str, list[str]] = {}

    def add(self, kind_char: str, name: str, target: str) -> None:
        rel = name.strip("/")
        if not rel:
            return
        self.entries[rel] = ({"-": "f", "d": "d", "l": "l"}.get(kind_char, "o"), target)
        parent, _, base = rel.rpartition("/")
        self.children.setdefault(parent, []).append(base)

    def listdir(self, rel: str) -> list[str]:
        return sorted(self.children.get(rel, []))

    def kind(self, rel: str) -> str:
        return self.entries.get(rel, ("", ""))[0]

    def readlink(self, rel: str) -> str:
        return self.entries[rel][1]


class SquashTree(ListingTree):
    """A squashfs image: `unsquashfs -lls` lists it, `unsquashfs -f -d` extracts."""

    def __init__(self, image: Path) -> None:
        super().__init__(image)
        listing = run(["unsquashfs", "-lls", "-d", "", str(image)], timeout=300).stdout
        for line in listing.splitlines():
            fields = line.split(None, 5)
            if len(fields) == 6 and fields[5].startswith("/"):
                name, _, target = fields[5].partition(" -> ")
                self.add(fields[0][0], name, target)

    def extract(self, rels: Sequence[str], into: Path) -> None:
        run(["unsquashfs", "-f", "-d", str(into), str(self.image), *rels], timeout=300)


_LSDL = re.compile(r"^(\S)\S*\s.*?\s'(/.*?)'(?: -> '(.*)')?$")


class IsoTree(ListingTree):
    """An ISO 9660 image, read with xorriso: no mount, no root, no isofs module."""

    def __init__(self, image: Path) -> None:
        super().__init__(image)
        listing = run(
            ["xorriso", "-indev", str(image), "-find", "/", "-exec", "lsdl", "--"], timeout=300
        ).stdout
        for line in listing.splitlines():
            match = _LSDL.match(line)
            if match:
                self.add(match.group(1), match.group(2), match.group(3) or "")

    def extract(self, rels: Sequence[str], into: Path) -> None:
        argv = ["xorriso", "-osirrox", "on", "-indev", str(self.image)]
        for rel in rels:
            (into / rel).parent.mkdir(parents=True, exist_ok=True)
            argv += ["-extract", f"/{rel}", str(into / rel)]
        run(argv, timeout=300)


def resolve(tree: Tree, rel: str, want: str = "f") -> str | None:
    """Follow symlinks inside the tree (absolute ones too: the tree is `/`); the final
    path if it is of kind `want`, else None."""
    parts = [p for p in PurePosixPath(rel).parts if p not in ("/", ".")]
    done: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        current = "/".join([*done, part])
        if tree.kind(current) == "l":
            hops += 1
            if hops > _MAX_LINKS:
                return None
            target = PurePosixPath(tree.readlink(current))
            if target.is_absolute():
                done = []
            parts = [p for p in target.parts if p not in ("/", ".")] + parts
            continue
        done.append(part)
    final = "/".join(done)
    return final if tree.kind(final) == want else None


def tree_glob(tree: Tree, pattern: str) -> list[str]:
    """Shell-glob `pattern` one segment at a time (`*` never crosses a `/`)."""
    current = [""]
    segments = [s for s in pattern.split("/") if s]
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        found = []
        for rel in current:
            real = resolve(tree, rel, "d") if rel else ""
            if real is None:
                continue
            if any(c in segment for c in "*?["):
                names = [n for n in tree.listdir(real) if fnmatchcase(n, segment)]
                names = [n for n in names if not n.startswith(".") or segment.startswith(".")]
            else:
                names = [segment] if tree.kind(_join(real, segment)) else []
            found += [_join(rel, n) for n in names]
        current = found if last else [r for r in found if resolve(tree, r, "d") is not None]
    return current


def version_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Like `sort -V`: digit runs compare as numbers."""
    return tuple((0, int(c)) if c.isdigit() else (1, c) for c in re.findall(r"\d+|\D+", text))


def parse_kernel_initrd(value: str) -> tuple[str, str]:
    glob, _, expr = value.strip().partition(" ")
    if not glob or not expr.strip():
        raise ConfigError(
            f"KERNEL_INITRD={value!r} is not `GLOB SEDEXPR`",
            param="KERNEL_INITRD",
            hint='e.g. KERNEL_INITRD="vmlinuz-* s/vmlinuz/initrd.img/"',
        )
    return glob, expr.strip()


def sed_map(expr: str, names: list[str]) -> list[str]:
    """Apply a sed expression to each name (one sed process per table row)."""
    if not names:
        return []
    out = run(["sed", "-e", expr], input="".join(f"{n}\n" for n in names), timeout=30)
    mapped = out.stdout.splitlines()
    if len(mapped) != len(names):
        raise ConfigError(
            f"the sed expression {expr!r} did not map one line to one line",
            param="KERNEL_INITRD",
        )
    return mapped


def find_pair(tree: Tree, kernel_initrd: str = "") -> tuple[str, str] | None:
    """The first (kernel, initrd) of the search table whose both files exist."""
    rows = list(SEARCH_TABLE)
    if kernel_initrd:
        rows.insert(0, parse_kernel_initrd(kernel_initrd))
    for glob, expr in rows:
        candidates = [*tree_glob(tree, glob), *tree_glob(tree, f"boot/{glob}")]
        candidates = sorted(set(candidates), key=version_key, reverse=True)
        for kernel, initrd in zip(candidates, sed_map(expr, candidates), strict=True):
            if initrd == kernel:
                continue
            if resolve(tree, kernel) and resolve(tree, initrd):
                return kernel, initrd
    return None


def _install(source: Path, target: Path) -> None:
    """Copy to a temp file in the target dir, mode 0644, times kept, then rename over."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        shutil.copyfile(source, tmp)
        shutil.copystat(source, tmp)
        tmp.chmod(0o644)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class KernelResult:
    name: str
    kernel: Path
    initrd: Path
    found: tuple[str, str]
    first_time: bool


def publish_from_tree(
    tree: Tree, name: str, tftp_dir: Path, kernel_initrd: str = ""
) -> KernelResult | None:
    pair = find_pair(tree, kernel_initrd)
    if pair is None:
        return None
    kernel_rel, initrd_rel = (resolve(tree, p) or p for p in pair)
    outdir = tftp_dir / "ltsp" / name
    first_time = not (outdir / "vmlinuz").exists()
    outdir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        if isinstance(tree, SquashTree | IsoTree):
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ltsp-kernel-")))
            tree.extract([kernel_rel, initrd_rel], scratch / "x")
            files = [scratch / "x" / kernel_rel, scratch / "x" / initrd_rel]
        elif isinstance(tree, DirTree):
            files = [tree.root / kernel_rel, tree.root / initrd_rel]
        else:
            raise TypeError(f"cannot read files from {tree!r}")
        _install(files[0], outdir / "vmlinuz")
        _install(files[1], outdir / "initrd.img")
    return KernelResult(name, outdir / "vmlinuz", outdir / "initrd.img", pair, first_time)


def publish_kernel(
    source: sources.Source, tftp_dir: Path, kernel_initrd: str = ""
) -> KernelResult | None:
    """Find and publish the kernel of one source, mounting it only when it must."""
    first = source.first
    simple = len(source.chain) == 1 and not source.chain[0].subdir
    if simple and first.is_dir():
        return publish_from_tree(DirTree(first), source.name, tftp_dir, kernel_initrd)
    fstype = probe_file(first).fstype if simple and first.is_file() else ""
    if fstype == "squashfs" and source.chain[0].partition is None:
        return publish_from_tree(SquashTree(first), source.name, tftp_dir, kernel_initrd)
    if fstype == "iso9660" and source.chain[0].partition is None:
        return publish_from_tree(IsoTree(first), source.name, tftp_dir, kernel_initrd)
    with sources.mounted(source, overlay=False, prefix="ltsp-kernel-") as root:
        return publish_from_tree(DirTree(root), source.name, tftp_dir, kernel_initrd)


# Raspberry Pi OS keeps the firmware partition in /boot/firmware since bookworm, in /boot before
RPI_BOOT_DIRS = ("boot/firmware", "boot")
RPI_MARKERS = ("bootcode.bin", "config.txt")  # Pi 5 images have no bootcode.bin (EEPROM)
RPI_CMDLINE = "cmdline.txt"
# the image's own root on the SD card: replaced by ours in the netboot cmdline.txt
_SD_ROOT_WORDS = ("ro", "rw", "rootwait", "resize", "quiet_boot")
_SD_ROOT_PREFIXES = (
    "root=", "rootfstype=", "rootflags=", "nfsroot=", "ip=", "init=", "fsck.", "ltsp.",
)  # fmt: skip


def raspberry_pi_boot(chroot: Path) -> Path | None:
    """The chroot's Pi firmware directory (boot/firmware or boot), or None if it has none."""
    for rel in RPI_BOOT_DIRS:
        boot = chroot / rel
        if boot.is_dir() and any((boot / marker).is_file() for marker in RPI_MARKERS):
            return boot
    return None


def link_raspberry_pi(boot: Path, tftp_dir: Path, *, skip: Sequence[str] = ()) -> list[Path]:
    """RPI_IMAGE: link every entry of the chroot's boot dir into TFTP_DIR; drop dangling links."""
    tftp_dir.mkdir(parents=True, exist_ok=True)
    made = []
    for entry in sorted(boot.iterdir()):
        if entry.name in skip:
            continue
        link = tftp_dir / entry.name
        tmp = tftp_dir / f".{entry.name}.ltsp-link"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.path.relpath(entry, tftp_dir))
        os.replace(tmp, link)
        made.append(link)
    for link in tftp_dir.iterdir():
        if link.is_symlink() and not link.exists():
            target = (tftp_dir / os.readlink(link)).resolve(strict=False)
            if str(target).startswith(str(boot.resolve()) + os.sep):
                link.unlink()
    return made


def server_address(probe: str = "192.168.67.2") -> str:
    """This server's address towards the LTSP subnet (or towards its default route)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect((probe, 9))  # UDP: only picks the route, sends nothing
            return str(sock.getsockname()[0])
        except OSError:
            return "192.168.67.1"


@dataclass(frozen=True)
class PiBoot:
    """What the netbooting Pi's kernel must be told (cmdline.txt)."""

    server: str
    base_dir: Path
    tftp_dir: Path
    name: str
    image: bool  # BASE_DIR/images/NAME.img exists: boot it over the chroot
    extra: str = ""  # KERNEL_PARAMETERS


def rpi_cmdline(original: str, boot: PiBoot) -> str:
    """The image's cmdline.txt made to boot over NFS with `init=` (spec §1.7): its console,
    quiet/splash etc. kept, its SD-card root replaced."""
    from ltsp_client.config.params import DEFAULT_DIRS
    from ltsp_client.kcmdline import words

    kept = [
        word
        for word in words(original)
        if word not in _SD_ROOT_WORDS and not word.startswith(_SD_ROOT_PREFIXES)
    ]
    ours = [
        "ip=dhcp",
        "root=/dev/nfs",
        f"nfsroot={boot.server}:{boot.base_dir / boot.name},vers=3,tcp,nolock",
        "ro",
        f"init={LTSP_BINARY}",
    ]
    if boot.image:
        ours.append(f"ltsp.image=images/{boot.name}.img")
    for name, value in (("base_dir", boot.base_dir), ("tftp_dir", boot.tftp_dir)):
        if str(value) != DEFAULT_DIRS[name.upper()]:
            ours.append(f"ltsp.{name}={value}")
    return " ".join([*kept, *ours, *words(boot.extra)]) + "\n"


def publish_raspberry_pi(chroot: Path, boot_dir: Path, boot: PiBoot) -> list[Path]:
    """Link the firmware, kernels, DTBs and overlays; write TFTP_DIR/cmdline.txt for LTSP."""
    made = link_raspberry_pi(boot_dir, boot.tftp_dir, skip=(RPI_CMDLINE,))
    if not (chroot / LTSP_BINARY.lstrip("/")).exists():
        log.warning("%s has no %s: install the ltsp-client package in it", chroot, LTSP_BINARY)
        print(f"Warning: {chroot}{LTSP_BINARY} is missing; cmdline.txt's init= needs the "
              "ltsp-client package in the image")  # fmt: skip
    original = boot_dir / RPI_CMDLINE
    text = original.read_text(errors="replace") if original.is_file() else ""
    target = boot.tftp_dir / RPI_CMDLINE
    fd, tmp_name = tempfile.mkstemp(prefix=f".{RPI_CMDLINE}.", dir=boot.tftp_dir)
    with os.fdopen(fd, "w") as out:
        out.write(rpi_cmdline(text, boot))
    os.chmod(tmp_name, 0o644)
    os.replace(tmp_name, target)
    return [*made, target]


def publish_rpi_image(ctx: Context, conf: Config, name: str) -> str:
    """RPI_IMAGE's firmware and cmdline.txt when `name` is it (and has firmware); the message
    for the admin, or "" when `name` gets the usual vmlinuz/initrd.img."""
    chroot = ctx.base_dir / name
    boot_dir = raspberry_pi_boot(chroot) if conf.text("RPI_IMAGE") == name else None
    if boot_dir is None:
        return ""
    pi = PiBoot(
        server=server_address(),
        base_dir=ctx.base_dir,
        tftp_dir=ctx.tftp_dir,
        name=name,
        image=(ctx.base_dir / "images" / f"{name}.img").exists(),
        extra=conf.text("KERNEL_PARAMETERS"),
    )
    made = publish_raspberry_pi(chroot, boot_dir, pi)
    return (
        f"{name}: linked {len(made) - 1} Raspberry Pi boot files into {ctx.tftp_dir}; "
        f"wrote {made[-1]}:\n  {made[-1].read_text().strip()}"
    )


def kernel_sources(args: Sequence[str], base_dir: Path, all_images: bool) -> list[str]:
    if args:
        return list(args)
    names = catalog.scan(base_dir).names()
    if len(names) > 3 and not all_images:
        raise LtspError(
            f"{len(names)} images in {base_dir}: {' '.join(names)}",
            hint="name the ones you want, or set ALL_IMAGES=1",
        )
    if not names:
        raise LtspError(f"no images in {base_dir}", hint="give a chroot, VM disk or image path")
    return names


def main(ctx: Context, args: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ltsp kernel",
        description="Publish kernels and initrds of images to TFTP_DIR/ltsp/NAME/.",
    )
    parser.add_argument("-k", "--kernel-initrd", metavar="'GLOB SEDEXPR'", default=None)
    settings.add_etc_option(parser)
    parser.add_argument("sources", nargs="*", metavar="IMG_SRC")
    opts = parser.parse_args(args)
    server = settings.load(ctx, "kernel", opts.etc).with_options(
        {"KERNEL_INITRD": opts.kernel_initrd}
    )
    ctx, conf = server.ctx, server.config
    kernel_initrd = conf.text("KERNEL_INITRD")
    hint = False
    for value in kernel_sources(opts.sources, ctx.base_dir, conf.flag("ALL_IMAGES")):
        source = sources.resolve(value, ctx.base_dir)
        message = publish_rpi_image(ctx, conf, source.name)
        if message:
            print(message)
            continue
        result = publish_kernel(source, ctx.tftp_dir, kernel_initrd)
        if result is None:
            log.warning("%s: Could not locate vmlinuz and initrd.img", source.name)
            print(f"{source.name}: Could not locate vmlinuz and initrd.img")
            continue
        hint = hint or result.first_time
        print(f"{result.kernel} <- {result.found[0]}\n{result.initrd} <- {result.found[1]}")
    if hint:
        print("New kernels were published: run `ltsp ipxe` to add them to the menu")
    return 0
