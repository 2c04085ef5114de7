"""Upstream LTSP 23.02 booted in the lab: the yardstick (see docs/yardstick.md).

Three boots of one upstream publication (`ltsp image/kernel/initrd/ipxe/dnsmasq/nfs`
run by lab.upstream), each to systemd multi-user with the guest's report checked:

- NFS, LTSP's default `ltsp.image` method; direct kernel boot with the command line
  upstream's ltsp.ipxe builds, ltsp.img + the image's initrd.img; DHCP from upstream's
  generated dnsmasq config (real-DHCP mode).
- NBD: the same plus the KERNEL_PARAMETERS switch of a [MAC] section (root=/dev/nbd0).
- proxy DHCP: a foreign DHCP server (busybox udhcpd in the router namespace) hands out
  the address; dnsmasq, with upstream's generated proxy-mode config, only the boot
  information; PXE through QEMU's iPXE ROM, which loads upstream's ltsp.ipxe, kernel and
  initrds over TFTP; then NFS as in the first boot.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lab import runlog, timeline, upstream
from lab.netns import LabNetwork
from lab.report import Report
from lab.services import Dnsmasq, NbdServer, NfsServer, Udhcpd
from lab.traffic import TrafficCounter
from lab.vm import BootResult, boot_client

pytestmark = pytest.mark.qemu(timeout=420)

BOOT_TIMEOUT = 300  # s per upstream boot; they take ~70 s under TCG
NFS_MAC = "52:54:00:67:10:01"
NBD_MAC = "52:54:00:67:10:02"
PXE_MAC = "52:54:00:67:10:03"
# Units allowed to fail in upstream's clients in this lab (none so far).
KNOWN_FAILED: frozenset[str] = frozenset()
# where upstream's applets write by default; the lab must leave them as they were
HOST_PATHS = (
    Path("/etc/dnsmasq.d/ltsp-dnsmasq.conf"),
    Path("/etc/exports.d/ltsp-nfs.exports"),
    Path("/srv/tftp/ltsp"),
    Path("/srv/ltsp/images"),
)


@dataclass
class UpstreamLab:
    net: LabNetwork
    run_dir: Path
    published: upstream.Published
    traffic: TrafficCounter
    host_before: dict[Path, bool]
    dnsmasq: Dnsmasq | None = None
    udhcpd: Udhcpd | None = None

    def use_dhcp(self, *, proxy: bool) -> None:
        """dnsmasq with upstream's generated config in real-DHCP or proxy mode (+ udhcpd)."""
        if self.dnsmasq is not None:
            self.dnsmasq.stop()
        mode = "proxy" if proxy else "real"
        self.dnsmasq = Dnsmasq(
            self.net,
            self.run_dir / f"dhcp-{mode}",
            conf_text=upstream.dnsmasq_conf_text(self.published, proxy_dhcp=proxy),
        )
        self.dnsmasq.start()
        if proxy and self.udhcpd is None:
            self.udhcpd = Udhcpd(self.net, self.run_dir)
            self.udhcpd.start()

    def boot(self, name: str, mac: str, *, pxe: bool = False, append: str = "") -> BootResult:
        self.traffic.reset()
        kernel, initrds = upstream.direct_boot_files(self.published)
        result = boot_client(
            self.net,
            run_dir=self.run_dir,
            name=name,
            mac=mac,
            pxe=pxe,
            kernel=None if pxe else kernel,
            initrds=() if pxe else initrds,
            append="" if pxe else append,
            timeout=BOOT_TIMEOUT,
            markers=timeline.VM_MARKERS,
        )
        tl = timeline.from_boot(result, stack="upstream", method=name, served=self.traffic.read())
        timeline.write_text(tl, self.run_dir / f"{name}.timeline.txt")
        return result


@pytest.fixture(scope="module")
def lab() -> Iterator[UpstreamLab]:
    chroot = upstream.build_chroot()
    run_dir = runlog.new_run_dir("upstream")
    host_before = {p: p.exists() for p in HOST_PATHS}
    with LabNetwork(prefix="yrd", clients=1, router=True) as net:
        published, _ = upstream.publish(
            net, run_dir, chroot, clients={NBD_MAC: upstream.nbd_kernel_parameters()}
        )
        NfsServer(net, run_dir, exports=[published.base_dir]).start()
        NbdServer(net, run_dir, exports={upstream.IMAGE_NAME: published.image}).start()
        with TrafficCounter(net) as traffic:
            yield UpstreamLab(
                net=net,
                run_dir=run_dir,
                published=published,
                traffic=traffic,
                host_before=host_before,
            )


def check_report(result: BootResult) -> Report:
    return upstream.check_booted(result, known_failed=KNOWN_FAILED)


def _fstypes(report: Report) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for m in report.mounts:
        found.setdefault(m.fstype, set()).add(m.source)
    return found


def test_upstream_publication_stays_in_the_run_dir(lab: UpstreamLab) -> None:
    assert {p: p.exists() for p in HOST_PATHS} == lab.host_before
    upper = lab.published.etc_upper
    assert (upper / "exports.d" / "ltsp-nfs.exports").is_file()
    assert lab.published.generated_dnsmasq(proxy_dhcp=True).is_file()
    conf = (upper / "ltsp" / "ltsp.conf").read_text()
    assert f"TFTP_DIR={lab.published.tftp_dir}" in conf
    # ltsp image's nested `ltsp kernel` honoured TFTP_DIR from [server] (trap 6)
    assert lab.published.kernel.is_file() and lab.published.initrd.is_file()
    ipxe = lab.published.ipxe_script.read_text()
    assert str(lab.published.base_dir) in ipxe and upstream.nbd_kernel_parameters() in ipxe


def test_upstream_nfs(lab: UpstreamLab) -> None:
    lab.use_dhcp(proxy=False)
    result = lab.boot("nfs", NFS_MAC, append=lab.published.nfs_cmdline(NFS_MAC))
    report = check_report(result)
    # the image file is loop-mounted from the NFS export (which upstream then detaches)
    assert any(s.startswith("/dev/loop") for s in _fstypes(report).get("squashfs", ())), (
        report.mounts
    )
    assert "ltsp.image=images/x86_64.img" in report.cmdline


def test_upstream_nbd(lab: UpstreamLab) -> None:
    lab.use_dhcp(proxy=False)
    result = lab.boot("nbd", NBD_MAC, append=lab.published.nbd_cmdline(NBD_MAC))
    report = check_report(result)
    # upstream detaches the squashfs lower layer, so /dev/nbd0 is not in mountinfo
    assert result.grep(r"Connected /dev/nbd0"), result.why()
    assert "nfs" not in _fstypes(report), report.mounts


def test_upstream_proxy_dhcp_pxe(lab: UpstreamLab) -> None:
    lab.use_dhcp(proxy=True)
    result = lab.boot("proxy-pxe", PXE_MAC, pxe=True)
    report = check_report(result)
    assert "squashfs" in _fstypes(report), report.mounts
    # iPXE got its address from the foreign server (udhcpd, 192.168.67.50-60) ...
    ipxe_lines = result.grep(r"^net0: 192\.168\.67\.")
    assert ipxe_lines and re.search(r"192\.168\.67\.(5\d|60)/", ipxe_lines[0]), ipxe_lines
    # ... and its boot script from upstream's proxy-DHCP dnsmasq over TFTP
    assert result.grep(r"ltsp/ltsp\.ipxe"), result.why()
    assert lab.dnsmasq is not None and not lab.dnsmasq.leases()
