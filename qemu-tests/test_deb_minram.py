"""Our client package at low RAM, against upstream's, in one run on the same base image.

Issue 10 item 5: with the frozen binary in ltsp.img our client needed 288 MiB where
upstream's boots in 256 MiB, and had less MemAvailable after boot. The lab image now
installs our ltsp-client .deb (`ourstack.publish`): ltsp.img is configuration only and
the image's initrd carries no copy of the client either (ltsp-initrd-bottom runs the
image's own, docs/boot.md). Both stacks publish the lab's base chroot plus their own
package (upstream: apt's ltsp; ours: build-tools/deb) and boot it by direct kernel boot:

- at upstream's minimum RAM (MIN_MB) both reach multi-user over NBD, and ours over NFS
  (where the client runs from the image file, loop-mounted by the initramfs script);
- at MEASURE_MB, our MemAvailable after boot is at least upstream's (within NOISE_KB).

The numbers go to minram.txt in the run directory (docs/benchmarks.md quotes them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from lab import ourstack, runlog, upstream
from lab.image import build_rootfs
from lab.netns import LabNetwork
from lab.services import Dnsmasq, NbdServer, NfsServer
from lab.vm import BootResult, boot_client, guest_cpu_seconds

pytestmark = pytest.mark.qemu(timeout=2400)

MIN_MB = 256  # the RAM upstream boots in (issue 10); ours needed 288 before the package
MEASURE_MB = 512
OURS_MAC = "52:54:00:67:20:0a"
UPSTREAM_MAC = "52:54:00:67:20:0b"
BOOT_TIMEOUT = 600
# MemAvailable of one stack varies by this much between boots (upstream at 256 MiB:
# 149.4-153.7 MB over three runs; at 512 MiB ours and upstream were 3.2 MB apart
# one way, then 0.2 MB the other): "at least upstream's" within that noise
NOISE_KB = 4096


@dataclass
class MinRamLab:
    net: LabNetwork
    run_dir: Path
    ours: ourstack.OursPublished
    upstream: upstream.Published
    lines: list[str] = field(default_factory=list)

    def boot(self, stack: str, method: str, ram_mb: int) -> BootResult:
        if stack == "ours":
            mac, kernel, initrds = OURS_MAC, self.ours.kernel, self.ours.initrds
            cmdline = self.ours.nbd_cmdline if method == "nbd" else self.ours.nfs_cmdline
            append = cmdline(mac, "ltsp.strict")
        else:
            mac = UPSTREAM_MAC
            kernel, initrds = upstream.direct_boot_files(self.upstream)
            assert method == "nbd"
            append = self.upstream.nbd_cmdline(mac)
        cpu0 = guest_cpu_seconds()
        result = boot_client(
            self.net,
            run_dir=self.run_dir,
            name=f"{stack}-{method}-{ram_mb}",
            mac=mac,
            ram_mb=ram_mb,
            kernel=kernel,
            initrds=initrds,
            append=append,
            timeout=BOOT_TIMEOUT,
        )
        available = result.report.mem_available_kb if result.report else None
        self.lines.append(
            f"{stack} {method} ram_mb={ram_mb} ok={result.ok} stopped_by={result.stopped_by} "
            f"elapsed={result.elapsed:.1f}s MemAvailable={available}kB "
            f"qemu_cpu={guest_cpu_seconds() - cpu0:.1f}s"
        )
        (self.run_dir / "minram.txt").write_text("\n".join(self.lines) + "\n")
        if stack == "ours" and result.ok:
            assert_ours_ran(result)
        return result


def assert_ours_ran(result: BootResult) -> None:
    """Our client did the boot: a root without it would still reach multi-user."""
    assert result.report is not None, result.why()
    assert not result.grep(r"ltsp .*: internal error"), result.why()
    stages = {
        (e.get("stage"), e.get("step")) for e in result.report.events if e.get("event") == "end"
    }
    assert ("initrd-bottom", "install") in stages and ("init", "restore-init") in stages, stages


@pytest.fixture(scope="module")
def lab() -> Iterator[MinRamLab]:
    run_dir = runlog.new_run_dir("deb-minram")
    ours = ourstack.publish(run_dir, build_rootfs(), package=True)
    with LabNetwork(prefix="pkg", clients=1) as net:
        up, _ = upstream.publish(net, run_dir, upstream.build_chroot())
        Dnsmasq(net, run_dir, mode="dhcp").start()
        NfsServer(net, run_dir, include=ours.ganesha_exports()).start()
        exports = {ourstack.IMAGE_NAME: ours.image, upstream.IMAGE_NAME: up.image}
        NbdServer(net, run_dir, exports=exports).start()
        lab = MinRamLab(net=net, run_dir=run_dir, ours=ours, upstream=up)
        for label, path in (("ours", ours), ("upstream", up)):
            lab.lines.append(
                f"{label}: initrd.img={path.initrd.stat().st_size} "
                f"ltsp.img={path.ltsp_img.stat().st_size}"
            )
        yield lab


def test_ltsp_img_is_configuration_only(lab: MinRamLab) -> None:
    assert (lab.ours.chroot / ourstack.PACKAGE_LIST).exists()
    assert lab.ours.ltsp_img.stat().st_size < 64 * 1024
    assert lab.ours.image.stat().st_size > 50 * 2**20


def test_ours_boots_at_upstream_s_minimum_ram(lab: MinRamLab) -> None:
    theirs = lab.boot("upstream", "nbd", MIN_MB)
    ours = lab.boot("ours", "nbd", MIN_MB)
    assert theirs.ok, "upstream no longer boots at its minimum:\n" + theirs.why()
    assert ours.ok, ours.why()
    assert ours.grep(r"Connected /dev/nbd0"), ours.why()


def test_ours_boots_over_nfs_at_that_minimum(lab: MinRamLab) -> None:
    """NFS: the root is BASE_DIR, the client comes from the image file (loop-mounted)."""
    ours = lab.boot("ours", "nfs", MIN_MB)
    assert ours.ok, ours.why()


def test_mem_available_after_boot_at_least_upstream_s(lab: MinRamLab) -> None:
    theirs = lab.boot("upstream", "nbd", MEASURE_MB)
    ours = lab.boot("ours", "nbd", MEASURE_MB)
    assert theirs.report and ours.report, (theirs.why(), ours.why())
    assert theirs.report.mem_available_kb and ours.report.mem_available_kb
    assert ours.report.mem_available_kb >= theirs.report.mem_available_kb - NOISE_KB, lab.lines
