"""Our stack PXE-booted through our own iPXE menu, as an admin sets it up with our applets:
`ltsp dnsmasq` (real DHCP, TFTP), `ltsp ipxe` (the menu, HTTP_URL), `ltsp nfs` (nfs-ganesha),
the lab's HTTP server serving TFTP_DIR.

QEMU's iPXE ROM (Debian's ipxe-qemu) gets ltsp/ltsp.ipxe over TFTP, the menu loads
the kernel, ltsp.img and initrd.img over HTTP and boots the image by the "images"
method (NFS); under UEFI (OVMF) the same with QEMU's EFI iPXE, and with the firmware's
own PXE chaining Debian's snponly.efi; with the HTTP server down the menu falls back
to TFTP.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lab import ourstack, runlog, timeline
from lab.image import build_rootfs
from lab.netns import LabNetwork
from lab.report import Report
from lab.services import Dnsmasq, HttpServer, NfsServer
from lab.vm import BootResult, boot_client

pytestmark = pytest.mark.qemu(timeout=700)

BOOT_TIMEOUT = 300
HTTP_MAC = "52:54:00:67:40:01"
TFTP_MAC = "52:54:00:67:40:02"
EFI_MAC = "52:54:00:67:40:03"
EFI_FW_MAC = "52:54:00:67:40:04"
OVMF = Path("/usr/share/ovmf/OVMF.fd")  # Debian's ovmf: UEFI firmware for QEMU
LOADED = ("/ltsp/stock/vmlinuz", "/ltsp/ltsp.img", "/ltsp/stock/initrd.img")
CONF = (
    ourstack.DEFAULT_CONF
    + f"""
[{HTTP_MAC}]
HOSTNAME=menu-http
KERNEL_PARAMETERS="console=ttyS0,115200 panic=-1 ltsp.strict lab.block={HTTP_MAC}"
"""
)


@dataclass
class PxeLab:
    net: LabNetwork
    run_dir: Path
    published: ourstack.OursPublished
    dnsmasq: Dnsmasq
    http: HttpServer

    def boot(self, name: str, mac: str, *, uefi: bool = False, rom: bool = True) -> BootResult:
        """`uefi`: OVMF firmware; `rom=False`: no iPXE option ROM on the NIC, so the
        firmware's own PXE starts the boot, as on a PC."""
        extra = ["-bios", str(OVMF)] if uefi else []
        if not rom:
            extra += ["-global", "virtio-net-pci.romfile="]
        result = boot_client(
            self.net,
            run_dir=self.run_dir,
            name=name,
            mac=mac,
            pxe=True,
            timeout=BOOT_TIMEOUT * (2 if uefi else 1),
            markers=timeline.VM_MARKERS,
            extra_qemu_args=extra,
        )
        tl = timeline.from_boot(result, stack="ours", method=name)
        timeline.write_text(tl, self.run_dir / f"{name}.timeline.txt")
        return result

    def http_gets(self) -> list[str]:
        text = self.http.log_path.read_text(errors="replace")
        return re.findall(r'"GET (\S+) HTTP/1\.[01]" 200', text)


@pytest.fixture(scope="module")
def lab() -> Iterator[PxeLab]:
    missing = ourstack.missing_pieces()
    assert not missing, "our boot path is incomplete: missing " + "; ".join(missing)
    chroot = build_rootfs()
    run_dir = runlog.new_run_dir("ours-pxe")
    published = ourstack.publish(run_dir, chroot, ltsp_conf=CONF)
    with LabNetwork(prefix="yrd", clients=1) as net:
        dnsmasq = Dnsmasq(net, run_dir, conf_text=published.dnsmasq_conf(net))
        dnsmasq.start()
        http = HttpServer(net, run_dir, published.tftp_dir)
        http.start()
        NfsServer(net, run_dir, include=published.ganesha_exports()).start()
        yield PxeLab(net, run_dir, published, dnsmasq, http)


def check_booted(result: BootResult, mac: str) -> Report:
    assert result.ok, result.why()
    report = result.report
    assert report is not None, result.why()
    assert not report.failed_units and "client" in report.run_ltsp, report.summary()
    args = report.cmdline.split()
    # what ltsp.ipxe's "images" method and cmdline_ltsp put on the command line
    assert "root=/dev/nfs" in args and "ltsp.image=images/stock.img" in args, args
    assert "BOOTIF=01-" + mac.replace(":", "-") in args, args
    assert "ltsp.strict" in args, args
    assert report.root is not None and report.root.fstype == "overlay", report.mounts
    return report


def test_pxe_through_our_menu_over_http(lab: PxeLab) -> None:
    result = lab.boot("pxe-http", HTTP_MAC)
    report = check_booted(result, HTTP_MAC)
    tftp_log = lab.dnsmasq.log_path.read_text(errors="replace")
    assert re.search(r"sent \S*/ltsp/ltsp\.ipxe to 192\.168\.67\.", tftp_log), tftp_log[-2000:]
    assert lab.http_gets() == list(LOADED)  # in this order, each once, all over HTTP
    assert not re.search(r"sent \S*/ltsp/(stock/|ltsp\.img)", tftp_log)
    assert not result.grep("HTTP failed")
    # the [MAC] section: its KERNEL_PARAMETERS in the menu's client block, its HOSTNAME
    # applied by the client from the same ltsp.conf
    assert f"lab.block={HTTP_MAC}" in report.cmdline.split()
    assert report.hostname == "menu-http"


def test_uefi_ipxe_runs_our_menu(lab: PxeLab) -> None:
    """UEFI (OVMF) with QEMU's EFI iPXE ROM: the menu loads over HTTP with the initrd=
    names the EFI stub needs, and the client boots."""
    assert OVMF.is_file(), f"{OVMF} is missing: install Debian's ovmf (scripts/deps)"
    before = len(lab.http_gets())
    result = lab.boot("pxe-uefi", EFI_MAC, uefi=True)
    check_booted(result, EFI_MAC)
    assert result.grep(r"efi: EFI v\d"), "not a UEFI boot:\n" + result.why()
    assert lab.http_gets()[before:] == list(LOADED)


def test_uefi_firmware_pxe_chains_snponly(lab: PxeLab) -> None:
    """UEFI firmware's own PXE (no iPXE ROM; client-arch 7) gets ltsp/snponly.efi, Debian's
    iPXE, which runs our menu."""
    before = len(lab.http_gets())
    result = lab.boot("pxe-uefi-fw", EFI_FW_MAC, uefi=True, rom=False)
    check_booted(result, EFI_FW_MAC)
    tftp_log = lab.dnsmasq.log_path.read_text(errors="replace")
    assert re.search(r"sent \S*/ltsp/snponly\.efi to 192\.168\.67\.", tftp_log), tftp_log[-3000:]
    assert lab.http_gets()[before:] == list(LOADED)


def test_pxe_falls_back_to_tftp_without_http(lab: PxeLab) -> None:
    lab.http.stop()
    before = len(lab.http_gets())
    result = lab.boot("pxe-tftp", TFTP_MAC)
    report = check_booted(result, TFTP_MAC)
    assert re.fullmatch(r"ltsp\d+", report.hostname), report.hostname  # no [MAC] section
    assert result.grep("HTTP failed, loading over TFTP"), result.why()
    tftp_log = lab.dnsmasq.log_path.read_text(errors="replace")
    for path in LOADED:
        assert re.search(rf"sent \S*{re.escape(path)} to 192\.168\.67\.", tftp_log), path
    assert len(lab.http_gets()) == before
