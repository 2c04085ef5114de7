"""Our stack in the lab beyond the main boots of test_ours_boot.py (same publication,
lab.ourstack: ltsp.img in front of the stock image's own initramfs-tools initrd; with
ourstack.PACKAGE_DEFAULT the image has our ltsp-client package and ltsp.img no binary):

- NFS chroot: root=/dev/nfs nfsroot=SERVER:CHROOT (upstream's "roots" method)
- A missing image: FATAL with step, hint and log path, a countdown, then a reboot
  (ltsp.img with the binary: without it, the initramfs script has no client to run).
- A live ISO: iso9660 loop mount, casper/filesystem.squashfs detected inside it
  (ltsp.img with the binary, as `ltsp initrd` makes it for an ISO without our package).
- ltsp.break=mount: a shell on the serial console before the mount step; the boot goes on.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lab import SERVER_IP, ourstack
from lab.image import build_rootfs
from lab.netns import LabNetwork
from lab.report import Report
from lab.runlog import new_run_dir
from lab.services import start_servers
from lab.vm import BootResult, boot_client

pytestmark = pytest.mark.qemu

BOOT_TIMEOUT = 400
MAC = "52:54:00:67:30:01"
IMAGE = f"images/{ourstack.IMAGE_NAME}.img"


@dataclass
class OurLab:
    net: LabNetwork
    run_dir: Path
    chroot: Path
    published: ourstack.OursPublished
    ltsp_img_with_binary: Path

    @property
    def base(self) -> Path:
        return self.published.base_dir

    def boot(self, name: str, append: str, *, binary: bool = False, **kwargs: Any) -> BootResult:
        initrds = self.published.initrds
        if binary:
            initrds = [self.ltsp_img_with_binary, self.published.initrd]
        return boot_client(
            self.net,
            run_dir=self.run_dir,
            name=name,
            mac=MAC,
            kernel=self.published.kernel,
            initrds=initrds,
            append=append,
            timeout=BOOT_TIMEOUT,
            **kwargs,
        )


@pytest.fixture(scope="module")
def lab() -> Iterator[OurLab]:
    if os.geteuid() != 0:
        pytest.fail("the QEMU lab needs root (network namespaces, mounts); CI runs as root")
    run_dir = new_run_dir("ours-features")
    published = ourstack.publish(run_dir, build_rootfs())
    chroot = published.chroot  # with our package when the lab installs it
    with_binary = ourstack.build_ltsp_img(run_dir / "with-binary", chroot)
    # a "live CD": the squashfs as casper/filesystem.squashfs inside an ISO 9660 image
    subprocess.run(
        ["xorriso", "-as", "mkisofs", "-quiet", "-R",
         "-o", str(published.base_dir / "images/live.iso"),
         # the published image is a symlink to its current version: put the file itself in
         "-graft-points", f"casper/filesystem.squashfs={Path(published.image).resolve()}"],
        check=True,
    )  # fmt: skip
    with LabNetwork(prefix="bot", clients=1) as net:
        start_servers(net, run_dir, nfs_exports=[published.base_dir, chroot])
        yield OurLab(net, run_dir, chroot, published, with_binary)


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
    stage1 = ["facts", "config", "image-source", "mount", "install", "init-stage"]
    assert steps == stage1, report.events
    assert result.grep(r"Running ltsp initrd-bottom"), result.why()
    return report


def test_nfs_chroot(lab: OurLab) -> None:
    """Upstream's "roots" method: the NFS export is the chroot itself, overlaid onto itself."""
    report = check_booted(
        lab.boot("nfs-chroot", f"root=/dev/nfs nfsroot={SERVER_IP}:{lab.chroot} ltsp.strict")
    )
    assert not any(m.target.endswith("/looproot") for m in report.mounts), report.mounts


def test_missing_image_is_fatal_then_reboots(lab: OurLab) -> None:
    append = (
        f"root=/dev/nfs nfsroot={SERVER_IP}:{lab.base} ltsp.image=images/nope.img "
        "ltsp.reboot-timeout=3"
    )
    result = lab.boot(
        "fatal",
        append,
        binary=True,
        success_regex=r"reboot: Restarting system",
        stop_regex=r"LAB-REPORT-END|Kernel panic|\(initramfs\) ",
    )
    assert result.ok, result.why()
    text = "\n".join(text for _, text in result.lines)
    assert "FATAL: ltsp initrd-bottom: mount: Image doesn't exist" in text
    assert "hint: check ltsp.image=" in text
    assert "log: /run/ltsp/ltsp.log" in text
    assert "Rebooting in 3 seconds" in text and "Rebooting now" in text


def test_live_iso_with_casper_squashfs(lab: OurLab) -> None:
    """An ISO file: loop-mounted as iso9660, then the live-CD squashfs found inside it."""
    append = f"root=/dev/nfs nfsroot={SERVER_IP}:{lab.base} ltsp.image=images/live.iso ltsp.strict"
    report = check_booted(lab.boot("live-iso", append, binary=True))
    fstypes = {m.target: m.fstype for m in report.mounts}
    assert fstypes.get("/run/initramfs/ltsp/0/looproot") == "squashfs", report.mounts


def test_break_opens_a_shell_before_the_step(lab: OurLab) -> None:
    append = (
        f"root=/dev/nfs nfsroot={SERVER_IP}:{lab.base} ltsp.image={IMAGE} "
        "ltsp.break=mount ltsp.strict"
    )
    result = lab.boot(
        "break",
        append,
        sends=[
            (r"ltsp\.break: stopped before initrd-bottom/mount", "echo BREAK-$((6 * 7))-OK; exit")
        ],
    )
    assert result.grep(r"BREAK-42-OK"), result.why()
    check_booted(result)
