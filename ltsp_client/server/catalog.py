"""What BASE_DIR holds (spec §5.1 "image kinds"): chroots, VM disks and exported images.

* chroot: a directory BASE_DIR/NAME with a proc/ inside (booted over NFS as is);
* VM disk: a file BASE_DIR/NAME.img (often a symlink to a raw VM disk);
* exported image: BASE_DIR/images/NAME.img (a symlink to its serving version, or a
  squashfs, disk or ISO put there).

Names with commas or whitespace are skipped: they cannot go on a kernel command line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ltsp_client.server import publish

IMAGE_SUFFIX = ".img"
_BAD_NAME = re.compile(r"[\s,]")


@dataclass(frozen=True)
class Catalog:
    images: tuple[str, ...]  # exported: BASE_DIR/images/NAME.img
    chroots: tuple[str, ...]  # BASE_DIR/NAME/proc
    vms: tuple[str, ...]  # BASE_DIR/NAME.img

    def names(self) -> list[str]:
        """Every name once, sorted (upstream's listing for `ltsp image`/`kernel`/`info`)."""
        return sorted({*self.images, *self.chroots, *self.vms})


def _usable(name: str) -> bool:
    return bool(name) and not name.startswith(".") and not _BAD_NAME.search(name)


def _img_files(folder: Path) -> list[str]:
    """NAME of every FOLDER/NAME.img that is (or links to) a file, sorted."""
    found = []
    if folder.is_dir():
        for path in sorted(folder.glob(f"*{IMAGE_SUFFIX}")):
            name = path.name[: -len(IMAGE_SUFFIX)]
            if path.is_file() and _usable(name):
                found.append(name)
    return found


def exported_images(base_dir: Path) -> list[str]:
    """images/NAME.img: a version symlink (docs/publisher.md) or a plain file."""
    return [n for n in publish.image_names(base_dir / "images") if _usable(n)]


def chroots(base_dir: Path) -> list[str]:
    found = []
    if base_dir.is_dir():
        for path in sorted(base_dir.iterdir()):
            if path.name != "images" and _usable(path.name) and (path / "proc").is_dir():
                found.append(path.name)
    return found


def vm_disks(base_dir: Path) -> list[str]:
    return _img_files(base_dir)


def scan(base_dir: Path) -> Catalog:
    return Catalog(
        images=tuple(exported_images(base_dir)),
        chroots=tuple(chroots(base_dir)),
        vms=tuple(vm_disks(base_dir)),
    )
