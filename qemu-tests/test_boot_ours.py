"""Our stack in the lab: ltsp.img (frozen binary + initramfs hooks) in front of the image's
stock initramfs-tools initrd, then `ltsp initrd-bottom` and `ltsp init` into systemd.

- NFS: root=/dev/nfs nfsroot=SERVER:BASE ltsp.image=images/x86_64.img (upstream's default)
- NFS chroot: root=/dev/nfs nfsroot=SERVER:CHROOT (upstream's "roots" method)
- NBD: root=/dev/nbd0 nbdroot=SERVER,x86_64,nbd0 (the squashfs is the NBD export)
- NBD with the server down at boot: the nbd-client wrapper retries with progress on the
  console; the server comes back during the retries and the boot completes.
- A missing image: FATAL with step, hint and log path, a countdown, then a reboot.
- A live ISO: iso9660 loop mount, casper/filesystem.squashfs detected inside it.
- ltsp.break=mount: a shell on the serial console before the mount step; the boot goes on.
- IMAGE_TO_RAM: the image is copied into the tmpfs and the NFS root unmounted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lab import SERVER_IP
from lab.image import Published, publish
from lab.netns import LabNetwork
from lab.report import Report
from lab.runlog import new_run_dir
from lab.services import NbdServer, start_servers
from lab.vm import BootResult, boot_client

pytestmark = pytest.mark.qemu

REPO = Path(__file__).resolve().parent.parent
FROZEN = Path(os.environ.get("LTSP_BOOT_FROZEN", "/var/tmp/ltsp-boot-dist/ltsp"))
BOOT_TIMEOUT = 400
MAC = "52:54:00:67:30:01"


@dataclass
class OurLab:
    net: LabNetwork
    run_dir: Path
    image: Published
    base: Path
    ltsp_img: Path
    nbd: NbdServer

    def boot(self, name: str, append: str, **kwargs: Any) -> BootResult:
        return boot_client(
            self.net,
            run_dir=self.run_dir,
            name=name,
            mac=MAC,
            kernel=self.image.kernel,
            initrds=[self.ltsp_img, self.image.initrd],
            append=append,
            timeout=BOOT_TIMEOUT,
            **kwargs,
        )


def build_ltsp_img(image: Published, run_dir: Path) -> Path:
    subprocess.run([str(REPO / "build-tools/freeze"), "--out", str(FROZEN)], check=True)
    etc = run_dir / "etc-ltsp"
    etc.mkdir()
    (etc / "ltsp.conf").write_text("[clients]\n")
    out = run_dir / "ltsp.img"
    subprocess.run(
        [
            sys.executable, "-m", "ltsp_client", "initrd",
            "--output", str(out),
            "--binary-tree", str(FROZEN),
            "--modules-from", str(image.chroot),
            "--etc", str(etc),
            "--hooks-dir", str(REPO / "initramfs-hooks"),
        ],
        check=True,
        cwd=REPO,
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def lab() -> Iterator[OurLab]:
    if os.geteuid() != 0:
        pytest.skip("the QEMU lab needs root")
    image = publish()
    run_dir = new_run_dir("boot-ours")
    base = run_dir / "base"
    (base / "images").mkdir(parents=True)
    try:
        os.link(image.squashfs, base / "images/x86_64.img")
    except OSError:
        shutil.copyfile(image.squashfs, base / "images/x86_64.img")
    ltsp_img = build_ltsp_img(image, run_dir)
    # a "live CD": the squashfs as casper/filesystem.squashfs inside an ISO 9660 image
    subprocess.run(
        ["xorriso", "-as", "mkisofs", "-quiet", "-R", "-o", str(base / "images/live.iso"),
         "-graft-points", f"casper/filesystem.squashfs={image.squashfs}"],
        check=True,
    )  # fmt: skip
    with LabNetwork(prefix="bot", clients=1) as net:
        start_servers(net, run_dir, nfs_exports=[base, image.chroot])
        nbd = NbdServer(net, run_dir / "nbd", exports={"x86_64": image.squashfs})
        yield OurLab(net, run_dir, image, base, ltsp_img, nbd)


def check_booted(result: BootResult) -> Report:
    assert result.ok, result.why()
    report = result.report
    assert report is not None, result.why()
    assert report.failed_units == (), report.summary()
    root = next(m for m in report.mounts if m.target == "/")
    assert (root.fstype, root.source) == ("overlay", "/run/initramfs/ltsp"), report.mounts
    assert "client" in report.run_ltsp, report.run_ltsp
    steps = [
        e["step"]
        for e in report.events
        if e.get("stage") == "initrd-bottom" and e.get("event") == "end"
    ]
    assert steps == ["facts", "config", "image-source", "mount", "install"], report.events
    assert result.grep(r"Running ltsp initrd-bottom"), result.why()
    return report


def test_nfs_image(lab: OurLab) -> None:
    append = (
        f"root=/dev/nfs nfsroot={SERVER_IP}:{lab.base} ltsp.image=images/x86_64.img ltsp.strict"
    )
    report = check_booted(lab.boot("nfs", append))
    loop = [m for m in report.mounts if m.target == "/run/initramfs/ltsp/0/looproot"]
    assert loop and loop[0].fstype == "squashfs", report.mounts
    # the NFS root itself stays under the overlay, in the old rootfs: not listed after run-init


def test_nfs_chroot(lab: OurLab) -> None:
    """Upstream's "roots" method: the NFS export is the chroot itself, overlaid onto itself."""
    report = check_booted(
        lab.boot("nfs-chroot", f"root=/dev/nfs nfsroot={SERVER_IP}:{lab.image.chroot} ltsp.strict")
    )
    assert not any(m.target.endswith("/looproot") for m in report.mounts), report.mounts


def test_nbd(lab: OurLab) -> None:
    lab.nbd.start()
    try:
        result = lab.boot("nbd", f"root=/dev/nbd0 nbdroot={SERVER_IP},x86_64,nbd0 ltsp.strict")
    finally:
        lab.nbd.stop()
    check_booted(result)
    # /dev/nbd0 itself stays under the overlay (not listed after run-init), like NFS
    assert result.grep(r"Connected /dev/nbd0"), result.why()


def test_nbd_server_down_at_boot_comes_back(lab: OurLab) -> None:
    lab.nbd.stop()
    starter: list[threading.Thread] = []

    def on_line(t: float, text: str) -> None:
        if "NBD server not answering (try 3 of" in text and not starter:
            starter.append(threading.Thread(target=lab.nbd.start))
            starter[0].start()

    try:
        result = lab.boot(
            "nbd-late",
            f"root=/dev/nbd0 nbdroot={SERVER_IP},x86_64,nbd0 ltsp.strict",
            on_line=on_line,
        )
    finally:
        for thread in starter:
            thread.join(30)
        lab.nbd.stop()
    assert starter, "the wrapper never reported a retry"
    assert result.grep(r"NBD server not answering \(try 1 of \d+\)"), result.why()
    check_booted(result)


def test_missing_image_is_fatal_then_reboots(lab: OurLab) -> None:
    append = (
        f"root=/dev/nfs nfsroot={SERVER_IP}:{lab.base} ltsp.image=images/nope.img "
        "ltsp.reboot-timeout=3"
    )
    result = lab.boot(
        "fatal",
        append,
        success_regex=r"reboot: Restarting system",
        stop_regex=r"LAB-REPORT-END|Kernel panic|\(initramfs\) ",
    )
    assert result.ok, result.why()
    text = "\n".join(text for _, text in result.lines)
    assert "FATAL: ltsp initrd-bottom: step 'mount' failed: Image doesn't exist" in text
    assert "hint: check ltsp.image=" in text
    assert "log: /run/ltsp/ltsp.log" in text
    assert "Rebooting in 3 seconds" in text and "Rebooting now" in text


def test_image_to_ram(lab: OurLab) -> None:
    append = (
        f"root=/dev/nfs nfsroot={SERVER_IP}:{lab.base} ltsp.image=images/x86_64.img "
        "ltsp.image-to-ram=1 ltsp.strict"
    )
    result = lab.boot("to-ram", append, ram_mb=768)
    report = check_booted(result)
    assert result.grep(r"ltsp initrd-bottom: /run/initramfs/ltsp/x86_64.img ready"), result.why()
    loop = [m for m in report.mounts if m.target == "/run/initramfs/ltsp/0/looproot"]
    assert loop and loop[0].fstype == "squashfs", report.mounts


def test_live_iso_with_casper_squashfs(lab: OurLab) -> None:
    """An ISO file: loop-mounted as iso9660, then the live-CD squashfs found inside it."""
    append = f"root=/dev/nfs nfsroot={SERVER_IP}:{lab.base} ltsp.image=images/live.iso ltsp.strict"
    report = check_booted(lab.boot("live-iso", append))
    fstypes = {m.target: m.fstype for m in report.mounts}
    assert fstypes.get("/run/initramfs/ltsp/0/looproot") == "squashfs", report.mounts


def test_break_opens_a_shell_before_the_step(lab: OurLab) -> None:
    append = (
        f"root=/dev/nfs nfsroot={SERVER_IP}:{lab.base} ltsp.image=images/x86_64.img "
        "ltsp.break=mount ltsp.strict"
    )
    result = lab.boot(
        "break",
        append,
        sends=[(r"ltsp\.break=mount: stopped before step", "echo BREAK-$((6 * 7))-OK; exit")],
    )
    assert result.grep(r"BREAK-42-OK"), result.why()
    check_booted(result)
