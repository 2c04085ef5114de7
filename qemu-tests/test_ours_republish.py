"""Republishing an image while clients run on it: `ltsp image` writes a new version and
switches to it; clients running on the old version (over NFS and over NBD) keep reading
their files, and the next boot gets the new version (docs/publisher.md, "Versions").

The image source is the lab's stock chroot under an overlay (the cache stays untouched),
whose /etc/lab-version says which publish a client runs. The running clients re-read
their root from the server after dropping their caches, so the reads go over the network
to the old version's file (NFS file handle, NBD server fd), not to cached pages.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from lab import ourstack, package, timeline
from lab.guestshell import GuestShell
from lab.image import build_rootfs
from lab.netns import LabNetwork
from lab.services import Dnsmasq, NbdServer, NfsServer
from lab.vm import BootResult, boot_client

pytestmark = pytest.mark.qemu(timeout=1500)

BOOT_TIMEOUT = 300
VERSION_FILE = "/etc/lab-version"
MACS = {
    "old-nfs": "52:54:00:67:60:01",
    "old-nbd": "52:54:00:67:60:02",
    "new-nfs": "52:54:00:67:60:03",
    "new-nbd": "52:54:00:67:60:04",
}
# read a good part of the root back from the server: every binary and library
READ_BACK = (
    "sync; echo 3 > /proc/sys/vm/drop_caches; "
    "find /usr/bin /usr/sbin /usr/lib/x86_64-linux-gnu -type f -print0 "
    "| xargs -0 cat | md5sum; cat " + VERSION_FILE + "; "
    "dmesg | grep -ciE 'stale|i/o error|squashfs error' || true"
)


@pytest.fixture
def source(run_dir: Path) -> Iterator[Path]:
    """The stock chroot (with our package when the lab installs it), and a writable
    overlay on top (mounted on the host)."""
    chroot = build_rootfs()
    if ourstack.PACKAGE_DEFAULT:
        chroot = package.packaged_chroot(package.build_deb(run_dir), chroot)
    top = run_dir / "source"
    for sub in ("upper", "work", "merged"):
        (top / sub).mkdir(parents=True)
    (top / "upper" / "etc").mkdir()
    merged = top / "merged"
    options = f"lowerdir={chroot},upperdir={top / 'upper'},workdir={top / 'work'}"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, str(merged)], check=True)
    try:
        yield merged
    finally:
        subprocess.run(["umount", "-l", str(merged)], check=False)


def set_version(source: Path, text: str) -> None:
    (source / VERSION_FILE.lstrip("/")).write_text(text + "\n")


def test_republish_while_clients_run(run_dir: Path, source: Path) -> None:
    missing = ourstack.missing_pieces()
    assert not missing, "our boot path is incomplete: missing " + "; ".join(missing)
    assert ourstack.has_applet("image"), "`ltsp image` (publish helper) is not in this tree"
    set_version(source, "v1")
    pub = ourstack.publish(run_dir, source)
    images = pub.base_dir / "images"
    first = (images / os.readlink(pub.image)).resolve()

    with LabNetwork(prefix="yrd", clients=4) as net:
        Dnsmasq(net, run_dir, conf_text=pub.dnsmasq_conf(net)).start()
        NfsServer(net, run_dir, include=pub.ganesha_exports()).start()
        NbdServer(net, run_dir, exports={ourstack.IMAGE_NAME: pub.image}).start()

        def boot(name: str, client: int, *, keep: bool) -> BootResult:
            mac = MACS[name]
            extra = f"ltsp.strict lab.report.files={VERSION_FILE}"
            line = pub.nbd_cmdline(mac, extra) if "nbd" in name else pub.nfs_cmdline(mac, extra)
            result = boot_client(
                net, run_dir=run_dir, name=name, mac=mac, client=client,
                kernel=pub.kernel, initrds=pub.initrds, append=line,
                timeout=BOOT_TIMEOUT, markers=timeline.VM_MARKERS, keep=keep,
            )  # fmt: skip
            assert result.ok and result.report is not None, result.why()
            assert not result.report.failed_units, result.report.summary()
            return result

        old = {name: boot(name, i, keep=True) for i, name in enumerate(("old-nfs", "old-nbd"))}
        for result in old.values():
            assert result.report is not None
            assert result.report.files.get(VERSION_FILE, "").strip() == "v1", result.report.files
        shells = {name: GuestShell(run_dir / f"{name}.ttyS1.sock") for name in old}
        before = {name: sh.run(READ_BACK, timeout=300).decode() for name, sh in shells.items()}
        for name, out in before.items():
            assert "v1" in out.split(), (name, out)

        set_version(source, "v2")
        pub.applet(
            "image",
            "--etc",
            str(pub.etc),
            "--mksquashfs-params=-comp zstd -Xcompression-level 3",
            "stock",
        )
        second = (images / os.readlink(pub.image)).resolve()
        assert second != first and first.is_file(), (first, second)

        for name, out_before in before.items():
            out = shells[name].run(READ_BACK, timeout=300).decode()
            shells[name].close()
            # same bytes, same version, no stale handle or I/O error after the switch
            assert out.split() == out_before.split(), (name, out_before, out)
            assert out.split()[-1] == "0", (name, out)

        for i, name in enumerate(("new-nfs", "new-nbd"), start=2):
            result = boot(name, i, keep=False)
            assert result.report is not None
            assert result.report.files.get(VERSION_FILE, "").strip() == "v2", result.report.files
