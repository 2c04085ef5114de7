"""Our stack in the lab, published with our own applets, as an admin would.

Layout under RUN_DIR/ours/ (BASE_DIR=base, TFTP_DIR=tftp, /etc/ltsp=etc-ltsp,
and the applets' /etc writes under root/, never the host's):

    base/images/stock.img      the lab's stock Debian chroot with our ltsp-client .deb
                               installed (lab.package), squashed (zstd-3)
    tftp/ltsp/stock/vmlinuz    the image's kernel and its own initrd.img
    tftp/ltsp/ltsp.img         `ltsp initrd --no-binary` (configuration only); without the
                               package: `--binary-tree dist/ltsp --modules-from CHROOT`
    tftp/ltsp/ltsp.ipxe        `ltsp ipxe` (+ undionly.kpxe, snponly.efi from Debian's ipxe)
    root/etc/dnsmasq.d/...     `ltsp dnsmasq`, run inside the lab namespace (its routes)
    root/etc/ganesha/...       `ltsp nfs --server=ganesha` (the lab's NFS server includes it)

The image and kernel steps use `ltsp image` / `ltsp kernel` when the tree has
them; until then the lab's cached squashfs is linked in and the kernel pair
copied to where `ltsp kernel` puts it. Direct kernel boots (most tests) load
the same files iPXE would: kernel, then ltsp.img and initrd.img. The HTTP
server of the lab serves TFTP_DIR, so `HTTP_URL='http://${srv}:8080'` in
ltsp.conf makes the menu load them over HTTP.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lab import SERVER_IP, LabError
from lab.layout import Layout
from lab.netns import LabNetwork
from lab.package import FREEZE, build_deb, frozen_tree, packaged_chroot
from lab.progress import Progress
from lab.services import HTTP_PORT
from ltsp_client.errors import CommandError
from ltsp_client.run import run

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_LIST = "var/lib/dpkg/info/ltsp-client.list"
# publish() installs our ltsp-client .deb in the image, as issue 10 item 5 asks
# (LTSP_LAB_PACKAGE=0: the stock image with the frozen binary in ltsp.img)
PACKAGE_DEFAULT = os.environ.get("LTSP_LAB_PACKAGE", "1") == "1"
PACKAGE_PHASE = "ltsp-client .deb + dpkg -i (cached)"
# seconds, measured on the development machine (2 cores, loaded): `ltsp image` of the
# lab chroot (zstd-3) with its kernel, a freeze from scratch (build-tools/freeze skips
# it when the sources did not change), ltsp initrd, ltsp ipxe
EXPECTED = {
    PACKAGE_PHASE: 240.0,  # freeze, a copy of the base chroot, dpkg -i, update-initramfs
    "ltsp image + kernel": 30.0,
    "freeze (skipped if unchanged)": 120.0,
    "ltsp initrd": 10.0,
    "ltsp ipxe": 2.0,
}
IMAGE_NAME = "stock"
HTTP_URL = f"http://${{srv}}:{HTTP_PORT}"
DEFAULT_CONF = f"""# ltsp QEMU lab: our stack
[server]
HTTP_URL='{HTTP_URL}'
DEFAULT_IMAGE={IMAGE_NAME}
MENU_TIMEOUT=-1
KERNEL_PARAMETERS="console=ttyS0,115200 panic=-1 ltsp.strict"

[clients]
"""


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
    for applet in ("ipxe", "dnsmasq", "nfs"):
        if "usage" not in _ltsp_help(applet).lower():
            missing.append(f"`ltsp {applet}` (boot-menu helper)")
    return missing


def _ltsp_help(applet: str) -> str:
    result = run([sys.executable, "-m", "ltsp_client", applet, "--help"], timeout=60, check=False)
    return result.stdout + result.stderr


def has_applet(applet: str) -> bool:
    return "not implemented" not in _ltsp_help(applet)


@dataclass(frozen=True)
class OursPublished(Layout):
    top: Path = Path()  # RUN_DIR/ours
    etc: Path = Path()  # the admin's /etc/ltsp
    chroot: Path = Path()

    @property
    def menu(self) -> Path:
        return self.ipxe_script

    @property
    def etc_root(self) -> Path:
        """Where `ltsp dnsmasq` and `ltsp nfs` write their /etc files."""
        return self.top / "root"

    @property
    def initrds(self) -> list[Path]:
        return [self.ltsp_img, self.initrd]

    def applet(self, *args: str, net: LabNetwork | None = None, timeout: float = 600) -> str:
        """Run `ltsp -b BASE -t TFTP APPLET ...` (inside the lab namespace with `net`)."""
        argv = [sys.executable, "-m", "ltsp_client", "-b", str(self.base_dir)]
        argv += ["-t", str(self.tftp_dir), *args]
        if net is not None:
            argv = net.exec_argv(argv)
        env = {"PYTHONPATH": str(ROOT)}
        try:
            result = run(argv, timeout=timeout, env=env)
        except CommandError as exc:
            raise LabError(f"ltsp {args[0]} failed: {exc}") from exc
        (self.top / "applets.log").open("a").write(
            f"$ ltsp {' '.join(args)}\n{result.stdout}{result.stderr}\n"
        )
        return result.stdout

    def write_conf(self, text: str) -> None:
        self.etc.mkdir(parents=True, exist_ok=True)
        (self.etc / "ltsp.conf").write_text(text)

    def ipxe(self) -> None:
        self.applet("ipxe", "--etc", str(self.etc))

    def initrd_img(self) -> None:
        """ltsp.img: configuration only when the image has our package, else with the binary."""
        if (self.chroot / PACKAGE_LIST).exists():
            self.applet("initrd", "--etc", str(self.etc), "--no-binary")
        else:
            ltsp_initrd(self.etc, self.chroot, self.ltsp_img)

    def dnsmasq_conf(self, net: LabNetwork, *, proxy: bool = False) -> str:
        """`ltsp dnsmasq` inside the namespace (it reads that namespace's routes), plus the
        lab's `no-ping` for real DHCP (as for upstream: both stacks see the same server)."""
        real = "0" if proxy else "1"
        self.applet(
            "dnsmasq", "--etc", str(self.etc), "--root", str(self.etc_root),
            f"--real-dhcp={real}", f"--proxy-dhcp={1 if proxy else 0}",
            f"--dns-server={SERVER_IP}", net=net,
        )  # fmt: skip
        text = (self.etc_root / "etc/dnsmasq.d/ltsp-dnsmasq.conf").read_text()
        if not proxy:
            text += "\n# --- ltsp QEMU lab additions\nno-ping\n"
        return text

    def ganesha_exports(self) -> Path:
        """`ltsp nfs --server=ganesha`: the EXPORT blocks for the lab's nfs-ganesha."""
        self.applet("nfs", "--etc", str(self.etc), "--root", str(self.etc_root), "--server=ganesha")
        return self.etc_root / "etc/ganesha/ltsp-nfs.conf"

    def nfs_cmdline(self, mac: str, extra: str = "") -> str:
        """What ltsp.ipxe passes for the image (the "images" method) plus BOOTIF."""
        bootif = "01-" + mac.lower().replace(":", "-")
        return (
            f"root=/dev/nfs nfsroot={SERVER_IP}:{self.base_dir} "
            f"ltsp.image=images/{IMAGE_NAME}.img loop.max_part=9 BOOTIF={bootif} {extra}"
        ).strip()

    def nbd_cmdline(self, mac: str, extra: str = "", export: str = IMAGE_NAME) -> str:
        bootif = "01-" + mac.lower().replace(":", "-")
        return f"root=/dev/nbd0 nbdroot={SERVER_IP},{export},nbd0 BOOTIF={bootif} {extra}".strip()


def ltsp_initrd(etc: Path, chroot: Path, output: Path) -> None:
    """`ltsp initrd` with the frozen tree and the modules `chroot`'s kernel lacks."""
    tree = frozen_tree()
    try:
        run(
            [sys.executable, "-m", "ltsp_client", "initrd", "--binary-tree", str(tree),
             "--modules-from", str(chroot), "--etc", str(etc), "--output", str(output)],
            timeout=300, env={"PYTHONPATH": str(ROOT)},
        )  # fmt: skip
    except CommandError as exc:
        raise LabError(f"ltsp initrd failed: {exc}") from exc


def build_ltsp_img(top: Path, chroot: Path, *, ltsp_conf: str = "") -> Path:
    """top/ltsp.img alone: the frozen tree, the modules `chroot`'s kernel lacks, ltsp.conf."""
    etc = top / "etc-ltsp"
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "ltsp.conf").write_text(ltsp_conf or "# ltsp QEMU lab: our stack, defaults\n[clients]\n")
    ltsp_initrd(etc, chroot, top / "ltsp.img")
    return top / "ltsp.img"


def _image_and_kernel(pub: OursPublished, chroot: Path, mksquashfs: Sequence[str]) -> None:
    """`ltsp image` (which runs `ltsp kernel`) when the tree has it; else the lab's squash.

    The chroot is linked in as BASE_DIR/stock, so that the image gets that name."""
    if has_applet("image"):
        link = pub.base_dir / IMAGE_NAME
        pub.base_dir.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(chroot)
        pub.applet(
            "image", "--etc", str(pub.etc), f"--mksquashfs-params={' '.join(mksquashfs)}",
            IMAGE_NAME, timeout=1800,
        )  # fmt: skip
        return
    from lab.image import kernel_and_initrd, squash

    pub.image.parent.mkdir(parents=True, exist_ok=True)
    squashfs = squash(chroot)
    pub.image.unlink(missing_ok=True)
    try:
        os.link(squashfs, pub.image)
    except OSError:
        shutil.copyfile(squashfs, pub.image)
    kernel, initrd = kernel_and_initrd(chroot)
    pub.kernel.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(kernel, pub.kernel)
    shutil.copy2(initrd, pub.initrd)


def publish(
    run_dir: Path,
    chroot: Path,
    *,
    ltsp_conf: str = "",
    mksquashfs: Sequence[str] = ("-comp", "zstd", "-Xcompression-level", "3"),
    package: bool = PACKAGE_DEFAULT,
) -> OursPublished:
    """Publish the stock chroot with our applets under run_dir/ours: image, kernel,
    ltsp.img and the iPXE menu (dnsmasq and NFS configs need the namespace: see
    `dnsmasq_conf()` and `ganesha_exports()`).

    With `package`, the image is a copy of `chroot` with
    our ltsp-client .deb installed (unless `chroot` has it already) and ltsp.img carries
    no binary; without, the stock chroot boots with the binary in ltsp.img."""
    top = run_dir / "ours"
    top.mkdir(parents=True, exist_ok=True)
    progress = Progress("our stack", EXPECTED)
    if not package or (chroot / PACKAGE_LIST).exists():
        progress.drop(PACKAGE_PHASE)
    try:
        if package and not (chroot / PACKAGE_LIST).exists():
            with progress.phase(PACKAGE_PHASE):
                chroot = packaged_chroot(build_deb(top), chroot)
        pub = OursPublished(
            base_dir=top / "base",
            tftp_dir=top / "tftp",
            image_name=IMAGE_NAME,
            top=top,
            etc=top / "etc-ltsp",
            chroot=chroot,
        )
        pub.write_conf(ltsp_conf or DEFAULT_CONF)
        with progress.phase("ltsp image + kernel"):
            _image_and_kernel(pub, chroot, mksquashfs)
        with progress.phase("freeze (skipped if unchanged)"):
            frozen_tree()
        with progress.phase("ltsp initrd"):
            pub.initrd_img()
        with progress.phase("ltsp ipxe"):
            pub.ipxe()
    finally:
        progress.close()
    for path in (pub.image, pub.kernel, pub.initrd, pub.ltsp_img, pub.menu):
        if not path.is_file():
            raise LabError(f"our applets did not produce {path}", hint=str(top / "applets.log"))
    return pub
