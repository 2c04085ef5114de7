"""The lab itself, booting real clients (slow; `pytest -m qemu qemu-tests/test_lab_boot.py`).

The lab image boots with its own stock initramfs-tools initrd (no code of ours in the boot):
a squashfs over NBD, the chroot directory over NFSv3, and once through the firmware path
(iPXE ROM -> proxy DHCP beside a foreign udhcpd -> TFTP script -> HTTP kernel and initrd).
Each boot ends when the guest's report arrives; assertions read that report.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lab.image import Published, nbd_append, nfs_append, publish
from lab.netns import LabNetwork
from lab.report import Report
from lab.runlog import new_run_dir
from lab.services import Servers, start_servers
from lab.timeline import clock_offset
from lab.vm import BootResult, boot_client

pytestmark = pytest.mark.qemu
BOOT_TIMEOUT = 240  # observed 25-65 s on a loaded 2-core machine


@pytest.fixture(scope="module")
def image() -> Published:
    return publish()


@pytest.fixture(scope="module")
def lab(image: Published) -> Iterator[tuple[LabNetwork, Servers, Path]]:
    run_dir = new_run_dir("test_lab_boot")
    with LabNetwork(prefix="ltl", clients=1) as net:
        servers = start_servers(
            net, run_dir, nbd_exports={"lab": image.squashfs}, nfs_exports=[image.chroot]
        )
        yield net, servers, run_dir


def _check_common(result: BootResult) -> Report:
    assert result.ok, result.why()
    rep = result.report
    assert rep is not None, result.why()
    assert rep.hostname == "labclient", result.why()
    assert rep.failed_units == (), f"failed units {rep.failed_units}\n{result.why()}"
    root = rep.root
    assert root is not None and root.fstype == "overlay", f"{rep.mounts}\n{result.why()}"
    assert rep.init.endswith("/systemd")
    assert rep.mem_available_kb is not None and rep.mem_available_kb > 100_000
    assert rep.startup_seconds is not None and rep.startup_seconds > 1
    order = ["kernel", "initramfs", "root_mounted", "systemd", "multi_user", "report"]
    marks = dict(result.marks)
    offset = clock_offset(result.lines)
    if "multi_user" not in marks and offset is not None:
        # serial-getty often takes ttyS0 before systemd prints "Reached target Multi-User";
        # systemd-analyze's total (guest clock) is the same instant, as in lab/timeline.py
        marks["multi_user"] = round(rep.startup_seconds + offset, 3)
    times = [marks.get(name) for name in order]
    assert None not in times, f"missing marks: {marks}\n{result.why()}"
    assert times == sorted(times), f"phases out of order: {marks}"  # type: ignore[type-var]
    return rep


@pytest.mark.qemu(timeout=BOOT_TIMEOUT + 60)
def test_squashfs_root_over_nbd(lab: tuple[LabNetwork, Servers, Path], image: Published) -> None:
    net, servers, run_dir = lab
    mac = "52:54:00:67:01:01"
    result = boot_client(
        net,
        run_dir=run_dir,
        name="nbd",
        mac=mac,
        kernel=image.kernel,
        initrds=[image.initrd],
        append=nbd_append("lab") + " lab.report.files=/proc/sys/kernel/random/boot_id",
        timeout=BOOT_TIMEOUT,
    )
    rep = _check_common(result)
    lower = rep.mount("/run/lab-root/lower")
    assert lower is not None and (lower.fstype, lower.source) == ("squashfs", "/dev/nbd0"), rep
    assert "/proc/sys/kernel/random/boot_id" in rep.files
    assert mac in servers.dnsmasq.leases(), "the initramfs got its address from our dnsmasq"


@pytest.mark.qemu(timeout=BOOT_TIMEOUT + 60)
def test_directory_root_over_nfs(lab: tuple[LabNetwork, Servers, Path], image: Published) -> None:
    net, _servers, run_dir = lab
    result = boot_client(
        net,
        run_dir=run_dir,
        name="nfs",
        mac="52:54:00:67:01:02",
        ram_mb=384,
        kernel=image.kernel,
        initrds=[image.initrd],
        append=nfs_append(image.chroot),
        timeout=BOOT_TIMEOUT,
    )
    rep = _check_common(result)
    lower = rep.mount("/run/lab-root/lower")
    assert lower is not None and lower.fstype == "nfs", rep
    assert lower.source == f"192.168.67.1:{image.chroot}"
    assert rep.mem_total_kb is not None and rep.mem_total_kb < 384 * 1024


@pytest.mark.qemu(timeout=BOOT_TIMEOUT + 90)
def test_pxe_with_proxy_dhcp_beside_a_foreign_dhcp_server(image: Published) -> None:
    run_dir = new_run_dir("test_lab_pxe_proxy")
    mac = "52:54:00:67:01:03"
    with LabNetwork(prefix="ltl", clients=1, router=True) as net:
        servers = start_servers(net, run_dir, dhcp="proxy", nbd_exports={"lab": image.squashfs})
        servers.add_pxe_client(
            mac, kernel=image.kernel, initrds=[image.initrd], append=nbd_append()
        )
        result = boot_client(
            net, run_dir=run_dir, name="pxe", mac=mac, pxe=True, timeout=BOOT_TIMEOUT + 30
        )
    rep = _check_common(result)
    assert "ipxe" in result.marks and result.marks["ipxe"] < result.marks["kernel"], result.why()
    leases = " ".join(result.grep(r"^net0: 192\.168\.67\."))
    assert "192.168.67.5" in leases, f"iPXE leased from udhcpd (.50-.60): {leases}"
    http_log = (run_dir / "http" / "http.log").read_text()
    assert f"GET /{image.kernel.name}" in http_log and f"GET /{image.initrd.name}" in http_log
    assert servers.udhcpd is not None
    assert "initrd=" in rep.cmdline and "nbdroot=192.168.67.1,lab" in rep.cmdline
