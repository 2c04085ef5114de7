"""Our stack booted in the lab: a stock Debian bookworm image through our ltsp.img into
systemd multi-user, over NBD and over NFS (with ourstack.PACKAGE_DEFAULT, the image has
our ltsp-client package and ltsp.img is configuration only).

Direct kernel boot: the image's kernel, then ltsp.img + the image's own initrd.img
(in that order, as iPXE loads them). Every boot runs with `ltsp.strict`, and the guest's
report gives its hostname, mounts, failed units and our /run/ltsp/events.jsonl.
If a piece of our boot path is missing from the tree, the tests fail and name it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lab import ourstack, runlog, timeline, upstream
from lab.image import build_rootfs
from lab.netns import LabNetwork
from lab.report import Report
from lab.services import Dnsmasq, NbdServer, NfsServer
from lab.vm import BootResult, boot_client

pytestmark = pytest.mark.qemu(timeout=360)

BOOT_TIMEOUT = 240  # s; our boots take well under 60 s under TCG
NBD_MAC = "52:54:00:67:20:01"
NFS_MAC = "52:54:00:67:20:02"
RAM_MAC = "52:54:00:67:20:03"
LATE_MAC = "52:54:00:67:20:04"
NBD_LATE_DELAY = 20.0  # s after QEMU starts
KNOWN_FAILED: frozenset[str] = frozenset()
# loop0, or loop1 when the initramfs script loop-mounted the image for its client first
LOOP_BACKING = ("/sys/block/loop0/loop/backing_file", "/sys/block/loop1/loop/backing_file")


@dataclass
class OursLab:
    net: LabNetwork
    run_dir: Path
    published: ourstack.OursPublished

    def boot(
        self,
        name: str,
        mac: str,
        append: str,
        *,
        timeout: float = BOOT_TIMEOUT,
        on_line: Callable[[float, str], None] | None = None,
    ) -> BootResult:
        result = boot_client(
            self.net,
            run_dir=self.run_dir,
            name=name,
            mac=mac,
            kernel=self.published.kernel,
            initrds=self.published.initrds,
            append=append,
            timeout=timeout,
            markers=timeline.VM_MARKERS,
            on_line=on_line,
        )
        tl = timeline.from_boot(result, stack="ours", method=name)
        timeline.write_text(tl, self.run_dir / f"{name}.timeline.txt")
        return result


@pytest.fixture(scope="module")
def lab() -> Iterator[OursLab]:
    missing = ourstack.missing_pieces()
    assert not missing, "our boot path is incomplete: missing " + "; ".join(missing)
    chroot = build_rootfs()
    run_dir = runlog.new_run_dir("ours")
    published = ourstack.publish(run_dir, chroot)
    with LabNetwork(prefix="yrd", clients=1) as net:
        # DHCP and NFS as `ltsp dnsmasq` and `ltsp nfs` configure them
        Dnsmasq(net, run_dir, conf_text=published.dnsmasq_conf(net)).start()
        NfsServer(net, run_dir, include=published.ganesha_exports()).start()
        yield OursLab(net=net, run_dir=run_dir, published=published)


def check_report(result: BootResult) -> Report:
    report = upstream.check_booted(result, known_failed=KNOWN_FAILED)
    assert "ltsp.strict" in report.cmdline.split()
    steps = {(e.get("stage"), e.get("step"), e.get("event")) for e in report.events}
    assert report.events, "no /run/ltsp/events.jsonl in the guest"
    assert not [s for s in steps if s[2] == "fail"], sorted(map(str, steps))
    stages = {str(e.get("stage")) for e in report.events}
    assert any("initrd" in s for s in stages) and "init" in stages, stages
    stage1 = [
        e["step"]
        for e in report.events
        if e.get("stage") == "initrd-bottom" and e.get("event") == "end"
    ]
    steps1 = ["facts", "config", "image-source", "mount", "install", "init-stage"]
    assert stage1 == steps1, report.events
    assert "restore-init" in {s[1] for s in steps if s[0] == "init" and s[2] == "end"}, steps
    return report


def _squashfs_sources(report: Report) -> set[str]:
    return {m.source for m in report.mounts if m.fstype == "squashfs"}


def test_ours_nbd(lab: OursLab) -> None:
    with NbdServer(lab.net, lab.run_dir, exports={ourstack.IMAGE_NAME: lab.published.image}):
        result = lab.boot("ours-nbd", NBD_MAC, lab.published.nbd_cmdline(NBD_MAC, "ltsp.strict"))
    check_report(result)
    # the squashfs lower layer is detached from the mount table (as upstream does)
    assert result.grep(r"Connected /dev/nbd0"), result.why()


def test_ours_nfs(lab: OursLab) -> None:
    result = lab.boot("ours-nfs", NFS_MAC, lab.published.nfs_cmdline(NFS_MAC, "ltsp.strict"))
    report = check_report(result)
    assert any(s.startswith("/dev/loop") for s in _squashfs_sources(report)), report.mounts


def test_ours_nfs_image_to_ram(lab: OursLab) -> None:
    append = lab.published.nfs_cmdline(
        RAM_MAC, f"ltsp.strict ltsp.image-to-ram=1 lab.report.files={','.join(LOOP_BACKING)}"
    )
    result = lab.boot("ours-ram", RAM_MAC, append)
    report = check_report(result)
    # the image was copied into the initramfs tmpfs and the NFS root let go
    backing = [report.files.get(path, "") for path in LOOP_BACKING]
    assert [b for b in backing if b.startswith("/run/") and b.endswith("stock.img")], backing
    assert not [m for m in report.mounts if m.fstype.startswith("nfs")], report.mounts


def test_ours_nbd_server_late(lab: OursLab) -> None:
    """nbd-server is down when the client first asks for its root; it starts ~20 s later
    (counted from the client's first failed attempt) and the client must still boot."""
    nbd = NbdServer(lab.net, lab.run_dir / "late", exports={"late": lab.published.image})
    t0 = time.monotonic()
    started: list[float] = []
    timers: list[threading.Timer] = []

    def start_late() -> None:
        nbd.start()
        started.append(time.monotonic() - t0)

    def on_line(t: float, text: str) -> None:
        if not timers and "NBD server not answering" in text:
            timers.append(threading.Timer(NBD_LATE_DELAY, start_late))
            timers[0].start()

    try:
        append = lab.published.nbd_cmdline(LATE_MAC, "ltsp.strict", export="late")
        result = lab.boot(
            "ours-nbd-late", LATE_MAC, append, timeout=BOOT_TIMEOUT + 60, on_line=on_line
        )
    finally:
        for timer in timers:
            timer.cancel()
            timer.join()
        nbd.stop()
    retries = result.grep(r"NBD server not answering")
    assert retries, "the client never found the NBD server down:\n" + result.why()
    assert started, "nbd-server was never started"
    check_report(result)
    connected = [t for t, text in result.lines if "Connected /dev/nbd0" in text]
    assert connected and connected[0] >= started[0] - 1.0, (connected, started)
    assert len(retries) >= NBD_LATE_DELAY / 3, retries  # it kept trying every ~2 s
