"""Our stack in the lab: publish a stock image with our ltsp.img, and its kernel command lines.

The image is the lab's stock Debian chroot (no LTSP package in it), squashed
with zstd-3. `build-tools/freeze` makes the frozen tree (dist/ltsp), and
`ltsp initrd --binary-tree dist/ltsp --modules-from CHROOT` the ltsp.img that
goes in front of the image's own initrd.img (direct kernel boot: kernel +
ltsp.img + initrd.img, as iPXE would load them). The command lines follow
upstream's (docs/boot.md): NFS `root=/dev/nfs nfsroot=SRV:BASE ltsp.image=images/NAME.img`,
NBD `root=/dev/nbd0 nbdroot=SRV,EXPORT,nbd0`.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from lab import SERVER_IP, LabError
from lab.progress import Progress
from ltsp_client.errors import CommandError
from ltsp_client.run import run

ROOT = Path(__file__).resolve().parents[2]
FREEZE = ROOT / "build-tools" / "freeze"
# seconds, measured on the development machine (2 cores, loaded): a freeze from
# scratch (build-tools/freeze skips it when the sources did not change), ltsp initrd
EXPECTED = {"freeze (skipped if unchanged)": 120.0, "ltsp initrd": 10.0}
DIST = ROOT / "dist" / "ltsp"
IMAGE_NAME = "stock"


def missing_pieces() -> list[str]:
    """What our boot path still lacks in this tree (empty when everything is there)."""
    missing = []
    if not FREEZE.exists():
        missing.append("build-tools/freeze (freeze helper)")
    help_text = _ltsp_help("initrd")
    if "--binary-tree" not in help_text or "--modules-from" not in help_text:
        missing.append("`ltsp initrd --binary-tree --modules-from` (freeze/publisher helper)")
    if "usage" not in _ltsp_help("initrd-bottom").lower():
        missing.append("`ltsp initrd-bottom` (boot helper)")
    if not (ROOT / "initramfs-hooks" / "initramfs-tools").is_dir():
        missing.append("initramfs-hooks/initramfs-tools (boot helper)")
    return missing


def _ltsp_help(applet: str) -> str:
    result = run([sys.executable, "-m", "ltsp_client", applet, "--help"], timeout=60, check=False)
    return result.stdout + result.stderr


def frozen_tree() -> Path:
    """dist/ltsp, (re)built by build-tools/freeze (which skips unchanged sources)."""
    try:
        run([str(FREEZE)], timeout=900)
    except CommandError as exc:
        raise LabError(f"build-tools/freeze failed: {exc}") from exc
    if not (DIST / "ltsp").exists():
        raise LabError(f"build-tools/freeze produced no {DIST / 'ltsp'}")
    return DIST


@dataclass(frozen=True)
class OursPublished:
    base_dir: Path  # NFS export: images/stock.img inside
    image: Path  # the squashfs (NBD export)
    kernel: Path
    initrd: Path  # the image's own initrd.img
    ltsp_img: Path

    @property
    def initrds(self) -> list[Path]:
        return [self.ltsp_img, self.initrd]

    def nfs_cmdline(self, mac: str, extra: str = "") -> str:
        bootif = "01-" + mac.lower().replace(":", "-")
        return (
            f"root=/dev/nfs nfsroot={SERVER_IP}:{self.base_dir} "
            f"ltsp.image=images/{IMAGE_NAME}.img loop.max_part=9 BOOTIF={bootif} {extra}"
        ).strip()

    def nbd_cmdline(self, mac: str, extra: str = "", export: str = IMAGE_NAME) -> str:
        bootif = "01-" + mac.lower().replace(":", "-")
        return f"root=/dev/nbd0 nbdroot={SERVER_IP},{export},nbd0 BOOTIF={bootif} {extra}".strip()


def build_ltsp_img(top: Path, chroot: Path, *, ltsp_conf: str = "") -> Path:
    """top/ltsp.img: the frozen tree, the modules `chroot`'s kernel lacks, and ltsp.conf."""
    etc = top / "etc-ltsp"
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "ltsp.conf").write_text(ltsp_conf or "# ltsp QEMU lab: our stack, defaults\n[clients]\n")
    progress = Progress("our stack", EXPECTED)
    ltsp_img = top / "ltsp.img"
    try:
        with progress.phase("freeze (skipped if unchanged)"):
            tree = frozen_tree()
        with progress.phase("ltsp initrd"):
            run(
                [sys.executable, "-m", "ltsp_client", "initrd", "--binary-tree", str(tree),
                 "--modules-from", str(chroot), "--etc", str(etc), "--output", str(ltsp_img)],
                timeout=300,
            )  # fmt: skip
    except CommandError as exc:
        raise LabError(f"ltsp initrd failed: {exc}") from exc
    finally:
        progress.close()
    return ltsp_img


def publish(run_dir: Path, chroot: Path, *, ltsp_conf: str = "") -> OursPublished:
    """Squash the stock chroot (cached by the lab), build ltsp.img for it under run_dir/ours."""
    from lab.image import kernel_and_initrd, squash

    top = run_dir / "ours"
    images = top / "base" / "images"
    images.mkdir(parents=True, exist_ok=True)
    squashfs = squash(chroot)
    image = images / f"{IMAGE_NAME}.img"
    image.unlink(missing_ok=True)
    try:
        os.link(squashfs, image)
    except OSError:
        shutil.copyfile(squashfs, image)
    ltsp_img = build_ltsp_img(top, chroot, ltsp_conf=ltsp_conf)
    kernel, initrd = kernel_and_initrd(chroot)
    return OursPublished(
        base_dir=top / "base", image=image, kernel=kernel, initrd=initrd, ltsp_img=ltsp_img
    )
