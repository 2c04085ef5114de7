"""The server side of `ltsp info`: what is published, and what is misconfigured.

Images with their versions (docs/publisher.md), the kernel of each, chroots and
VM disks, ltsp.img's age against what it is built from (/etc/ltsp, the server's
passwd and group), the iPXE menu and loaders, the dnsmasq and NFS files. Every
finding that would make a client fail (or boot something stale) is a problem.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ltsp_client.server import catalog, publish
from ltsp_client.server.dnsmasq import CONF_PATH as DNSMASQ_CONF
from ltsp_client.server.ipxe import MENU_FILE
from ltsp_client.server.nfs import EXPORTS_PATH, GANESHA_PATH

LOADERS = ("undionly.kpxe", "snponly.efi")


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    mtime: float


@dataclass(frozen=True)
class ImageInfo:
    name: str
    serving: str  # version id, "file" (a plain images/NAME.img), or "" (a dangling link)
    versions: list[str]
    kernel: FileInfo | None
    initrd: FileInfo | None
    size: int


@dataclass
class Inventory:
    base_dir: str
    tftp_dir: str
    images: list[ImageInfo] = field(default_factory=list)
    chroots: list[str] = field(default_factory=list)
    vms: list[str] = field(default_factory=list)
    files: dict[str, FileInfo | None] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _info(path: Path) -> FileInfo | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return FileInfo(str(path), st.st_size, st.st_mtime)


def _newest(paths: list[Path]) -> tuple[Path, float] | None:
    """The most recently modified existing file among paths (directories: their files)."""
    best: tuple[Path, float] | None = None
    for path in paths:
        candidates = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
        for p in candidates:
            try:
                mtime = p.stat().st_mtime
            except OSError:
                continue
            if best is None or mtime > best[1]:
                best = (p, mtime)
    return best


def image_info(images_dir: Path, tftp_ltsp: Path, name: str) -> ImageInfo:
    link = images_dir / f"{name}.img"
    versions = [v.version for v in publish.list_versions(images_dir, name)]
    current = publish.serving_version(images_dir, name)
    if current is not None:
        serving = current.version
    elif link.is_file() and not link.is_symlink():
        serving = "file"
    else:
        serving = ""
    size = link.stat().st_size if link.exists() else 0
    return ImageInfo(
        name=name,
        serving=serving,
        versions=versions,
        kernel=_info(tftp_ltsp / name / "vmlinuz"),
        initrd=_info(tftp_ltsp / name / "initrd.img"),
        size=size,
    )


def collect(*, base_dir: Path, tftp_dir: Path, etc: Path, root: Path = Path("/")) -> Inventory:
    tftp_ltsp = tftp_dir / "ltsp"
    images_dir = base_dir / "images"
    found = catalog.scan(base_dir)
    inv = Inventory(str(base_dir), str(tftp_dir), chroots=list(found.chroots), vms=list(found.vms))
    inv.images = [image_info(images_dir, tftp_ltsp, n) for n in publish.image_names(images_dir)]
    inv.files = {
        "ltsp.img": _info(tftp_ltsp / "ltsp.img"),
        "ltsp.conf": _info(etc / "ltsp.conf"),
        "ltsp.ipxe": _info(tftp_ltsp / MENU_FILE),
        **{loader: _info(tftp_ltsp / loader) for loader in LOADERS},
        "dnsmasq": _info(root / DNSMASQ_CONF),
        "nfs exports": _info(root / EXPORTS_PATH),
        "nfs-ganesha exports": _info(root / GANESHA_PATH),
    }
    inv.problems = problems(inv, etc=etc, root=root, tftp_ltsp=tftp_ltsp)
    return inv


def problems(inv: Inventory, *, etc: Path, root: Path, tftp_ltsp: Path) -> list[str]:
    found: list[str] = []
    if not inv.images and not inv.chroots:
        found.append("no images: run `ltsp image NAME` for a chroot, VM disk or /")
    for image in inv.images:
        if image.serving == "":
            found.append(f"images/{image.name}.img points at a missing version")
        if image.kernel is None or image.initrd is None:
            found.append(
                f"{image.name}: no vmlinuz/initrd.img in {tftp_ltsp / image.name} "
                f"(run `ltsp kernel {image.name}`)"
            )
    for chroot in inv.chroots:
        if not (tftp_ltsp / chroot / "vmlinuz").is_file():
            found.append(f"chroot {chroot}: no kernel in {tftp_ltsp / chroot} (`ltsp kernel`)")
    ltsp_img = inv.files["ltsp.img"]
    if ltsp_img is None:
        found.append("no ltsp.img: run `ltsp initrd`")
    else:
        sources = [etc, root / "etc/passwd", root / "etc/group"]
        newest = _newest(sources)
        if newest is not None and newest[1] > ltsp_img.mtime:
            age = _age(newest[1] - ltsp_img.mtime)
            found.append(f"ltsp.img is stale: {newest[0]} changed {age} later (`ltsp initrd`)")
    menu = inv.files["ltsp.ipxe"]
    if menu is None:
        found.append("no iPXE menu: run `ltsp ipxe`")
    else:
        text = Path(menu.path).read_text(errors="replace")
        for image in inv.images:
            if f":{image.name}\n" not in text:
                found.append(f"{image.name} is not in the iPXE menu: run `ltsp ipxe`")
    missing = [name for name in LOADERS if inv.files[name] is None]
    if missing:
        found.append(f"no iPXE binaries {', '.join(missing)}: run `ltsp ipxe` (Debian's ipxe)")
    if inv.files["dnsmasq"] is None:
        found.append("no dnsmasq configuration (`ltsp dnsmasq`), unless DHCP is elsewhere")
    return found


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def _mb(size: int) -> str:
    return f"{size / 2**20:.0f} MiB"


def _when(mtime: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(mtime))


def render(inv: Inventory) -> str:
    lines = [f"BASE_DIR {inv.base_dir}", f"TFTP_DIR {inv.tftp_dir}", "", "Images:"]
    for image in inv.images or []:
        versions = ", ".join(f"[{v}]" if v == image.serving else v for v in image.versions) or (
            "plain file" if image.serving == "file" else "-"
        )
        kernel = (
            f"kernel {_mb(image.kernel.size)} of {_when(image.kernel.mtime)}"
            if image.kernel
            else "no kernel"
        )
        lines.append(f"  {image.name:<16} {_mb(image.size):>8}  versions: {versions}; {kernel}")
    if not inv.images:
        lines.append("  (none)")
    lines.append("Chroots: " + (" ".join(inv.chroots) or "(none)"))
    lines.append("VM disks: " + (" ".join(inv.vms) or "(none)"))
    lines += ["", "Files:"]
    for name, info in inv.files.items():
        state = f"{info.path} ({_when(info.mtime)})" if info else "missing"
        lines.append(f"  {name:<20} {state}")
    lines += ["", "Problems:" if inv.problems else "Problems: none"]
    lines += [f"  - {p}" for p in inv.problems]
    return "\n".join(lines)
