"""The ltsp-client package at low RAM: the lab image with our .deb installed, published
with our applets (`ltsp image`, `ltsp initrd` with no binary), booted over NBD.

Issue 10 item 5: with the binary in ltsp.img our client needed 288 MiB where upstream's
boots in 256 MiB. With the package, ltsp.img is configuration only and the client comes
from the image's own initrd (its initramfs-tools hook), so the boot-time peak is about the
same (docs/benchmarks.md, "what a client unpacks at boot"): the boot at 256 MiB is
recorded (minram.txt in the run directory), the one at 288 MiB must succeed. The packaged
chroot is cached by the base image and the package's digest (update-initramfs: minutes).
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lab import SERVER_IP, ourstack, runlog
from lab.image import build_rootfs, cache_root, file_lock
from lab.netns import LabNetwork
from lab.services import Dnsmasq, NbdServer
from lab.vm import boot_client

from ltsp_client.run import run

pytestmark = pytest.mark.qemu(timeout=2400)

ROOT = Path(__file__).resolve().parents[1]
MAC = "52:54:00:67:20:0a"
NAME = "pkg"
UPSTREAM_MIN_MB = 256  # recorded, not asserted: the frozen client is 16.5 MiB unpacked
OUR_MIN_MB = 288


def build_deb(out: Path) -> Path:
    tree = ourstack.frozen_tree()
    result = run([sys.executable, str(ROOT / "build-tools/deb.py"), "--tree", str(tree),
                  "--out", str(out)], timeout=600)  # fmt: skip
    return Path(result.stdout.strip())


def packaged_chroot(deb: Path) -> Path:
    """A copy of the lab's base chroot with the package installed (dpkg -i, its trigger)."""
    base = build_rootfs()
    digest = hashlib.sha256(deb.read_bytes()).hexdigest()[:12]
    final = cache_root() / f"{base.name}-ltsp-client-{digest}"
    with file_lock(cache_root() / f".{final.name}.lock"):
        if (final / "var/lib/dpkg/info/ltsp-client.list").exists():
            return final
        tmp = final.with_name(final.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        run(["cp", "-a", str(base), str(tmp)], timeout=900)
        shutil.copyfile(deb, tmp / "tmp" / deb.name)
        script = (
            f"mount -t proc proc {tmp}/proc && mount --rbind /dev {tmp}/dev && "
            f"mount -t sysfs sys {tmp}/sys && chroot {tmp} dpkg -i /tmp/{deb.name}"
        )
        run(["unshare", "-m", "--propagation", "private", "sh", "-ec", script], timeout=1800)
        (tmp / "tmp" / deb.name).unlink()
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
    return final


@dataclass(frozen=True)
class Published:
    run_dir: Path
    image: Path
    kernel: Path
    initrd: Path
    ltsp_img: Path


def ltsp(run_dir: Path, *args: str) -> str:
    argv = [sys.executable, "-m", "ltsp_client", "-b", str(run_dir / "base"), "-t",
            str(run_dir / "tftp"), *args]  # fmt: skip
    return run(argv, timeout=1800).stdout


@pytest.fixture(scope="module")
def published() -> Iterator[Published]:
    run_dir = runlog.new_run_dir("deb-minram")
    deb = build_deb(run_dir)
    chroot = packaged_chroot(deb)
    base = run_dir / "base"
    base.mkdir()
    (base / NAME).symlink_to(chroot)
    etc = run_dir / "etc-ltsp"
    etc.mkdir()
    (etc / "ltsp.conf").write_text("# lab: the packaged image\n[clients]\n")
    ltsp(run_dir, "image", "--etc", str(etc), NAME)
    out = ltsp(run_dir, "initrd", "--etc", str(etc), "--server-etc", str(etc / "none"))
    (run_dir / "publish.log").write_text(out)
    tftp = run_dir / "tftp" / "ltsp"
    yield Published(
        run_dir=run_dir,
        image=(base / "images" / f"{NAME}.img").resolve(),
        kernel=tftp / NAME / "vmlinuz",
        initrd=tftp / NAME / "initrd.img",
        ltsp_img=tftp / "ltsp.img",
    )


def test_ltsp_img_is_configuration_only(published: Published) -> None:
    assert published.ltsp_img.stat().st_size < 64 * 1024
    assert published.image.stat().st_size > 50 * 2**20


def test_the_packaged_image_boots_over_nbd_at_low_ram(published: Published) -> None:
    lines = []
    with LabNetwork(prefix="pkg", clients=1) as net:
        Dnsmasq(net, published.run_dir, mode="dhcp").start()
        NbdServer(net, published.run_dir, exports={NAME: published.image}).start()
        bootif = "01-" + MAC.replace(":", "-")
        results = {}
        for ram_mb in (UPSTREAM_MIN_MB, OUR_MIN_MB):
            result = boot_client(
                net,
                run_dir=published.run_dir,
                name=f"pkg-{ram_mb}",
                mac=MAC,
                ram_mb=ram_mb,
                kernel=published.kernel,
                initrds=[published.ltsp_img, published.initrd],
                append=f"root=/dev/nbd0 nbdroot={SERVER_IP},{NAME},nbd0 BOOTIF={bootif} "
                "ltsp.strict",
                timeout=600,
            )
            results[ram_mb] = result
            available = result.report.mem_available_kb if result.report else None
            lines.append(
                f"ram_mb={ram_mb} ok={result.ok} stopped_by={result.stopped_by} "
                f"elapsed={result.elapsed:.1f}s MemAvailable={available}kB"
            )
    lines.append(
        f"initrd.img={published.initrd.stat().st_size} ltsp.img={published.ltsp_img.stat().st_size}"
    )
    (published.run_dir / "minram.txt").write_text("\n".join(lines) + "\n")
    assert results[OUR_MIN_MB].ok, results[OUR_MIN_MB].why()
