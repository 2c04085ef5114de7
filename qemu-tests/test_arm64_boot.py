"""An aarch64 client booted the way a Raspberry Pi boots: no initramfs of ours, `init=` on an
NFS root, into systemd multi-user (issue 11 item 4).

qemu-system-aarch64 `-M virt -cpu max` under TCG boots Debian's arm64 kernel
(linux-image-arm64 of a small arm64 image: systemd, udev, the lab's report unit)
directly. The image has our arm64 client package installed (`build-tools/freeze
--arch arm64`, `build-tools/deb`), as `init=` needs on a Pi. Debian's arm64
kernel has no IP_PNP/ROOT_NFS, so the kernel's own part is played by a stand-in
initramfs (lab/pikernel.py) that only does what the Pi's kernel does: DHCP,
the NFS root mounted read-only, devtmpfs on /dev, then `init=/usr/lib/ltsp/ltsp`
as pid 1 with the same arguments. From there it is our no-initramfs path
(ltsp_client/init/roroot.py): kernel filesystems, ltsp.img's configuration
over NFS, a tmpfs overlay on the NFS root, the plugins, switch_root, systemd.
A per-MAC ltsp.conf setting (HOSTNAME) is checked in the guest's report.

Slow: the image is built once under qemu-user (cold: see docs/benchmarks.md),
and the boot itself takes minutes of TCG emulation of a 64-bit ARM CPU.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lab import SERVER_IP
from lab.image import build_rootfs
from lab.netns import LabNetwork
from lab.pikernel import standin_initramfs
from lab.services import Dnsmasq, NfsServer
from lab.vm import boot_client

ROOT = Path(__file__).resolve().parents[1]
MAC = "52:54:00:64:00:01"
HOSTNAME = "pi-lab-one"
BOOT_TIMEOUT = 900  # s; TCG aarch64 is several times slower than the x86 guests
MARKS = {
    "root_mounted": r"pikernel: VFS: Mounted root",
    "ltsp_roroot": r"Running ltsp ro-root",
    "switch_root": r"ltsp ro-root: .* ready",
}

pytestmark = pytest.mark.qemu(timeout=BOOT_TIMEOUT + 600)


def build(*argv: str) -> str:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=2400, check=False)
    assert proc.returncode == 0, f"{' '.join(argv)}:\n{proc.stderr[-3000:]}"
    return proc.stdout.strip().splitlines()[-1]


def arm64_root(run_dir: Path) -> Path:
    """A copy of the cached arm64 image with our arm64 client package unpacked into it."""
    tree = build(str(ROOT / "build-tools/freeze"), "--arch", "arm64")
    deb = build(str(ROOT / "build-tools/deb"), "--tree", tree, "--out", str(run_dir))
    root = run_dir / "base" / "arm64"
    root.parent.mkdir(parents=True)
    subprocess.run(["cp", "-a", str(build_rootfs(arch="arm64")), str(root)], check=True)
    subprocess.run(["dpkg-deb", "-x", deb, str(root)], check=True)
    return root


def ltsp_conf(run_dir: Path) -> str:
    return (
        "[server]\n"
        f"TFTP_DIR={run_dir}/tftp\nBASE_DIR={run_dir}/base\n\n"
        "[common]\n"
        f"TFTP_DIR={run_dir}/tftp\nBASE_DIR={run_dir}/base\n\n"
        "[clients]\nHOSTNAME=ltsp%{IP}\n\n"
        f"[{MAC}]\nHOSTNAME={HOSTNAME}\n"
    )


def test_aarch64_client_boots_through_init_on_an_nfs_root(
    lab_net: LabNetwork, run_dir: Path
) -> None:
    if shutil.which("qemu-system-aarch64") is None:
        pytest.fail("qemu-system-aarch64 is missing: apt-get install qemu-system-arm (apt-lab.txt)")
    root = arm64_root(run_dir)
    etc = run_dir / "etc-ltsp"
    etc.mkdir()
    (etc / "ltsp.conf").write_text(ltsp_conf(run_dir))
    (root / "etc/ltsp").mkdir(exist_ok=True)
    (root / "etc/ltsp/ltsp.conf").write_text(ltsp_conf(run_dir))
    img = run_dir / "tftp/ltsp/ltsp.img"
    initrd = [sys.executable, "-m", "ltsp_client", "initrd", "--no-binary", "--etc", str(etc)]
    build(*initrd, "--server-etc", str(run_dir / "no-server-etc"), "--output", str(img))
    kernel = sorted((root / "boot").glob("vmlinuz-*"))[-1]
    standin = standin_initramfs(root, run_dir / "pikernel.cpio")
    Dnsmasq(lab_net, run_dir).start()
    NfsServer(lab_net, run_dir, exports=[root, img.parent, root.parent]).start()
    append = (
        f"ip=dhcp root=/dev/nfs nfsroot={SERVER_IP}:{root},vers=3,tcp "
        "init=/usr/lib/ltsp/ltsp ltsp.strict"
    )
    result = boot_client(
        lab_net,
        run_dir=run_dir,
        name="arm64",
        mac=MAC,
        kernel=kernel,
        initrds=[standin],
        append=append,
        arch="aarch64",
        ram_mb=1024,
        timeout=BOOT_TIMEOUT,
        markers=MARKS,
    )
    assert result.ok, result.why()
    (run_dir / "arm64.timeline.txt").write_text(result.timeline() + "\n")
    print(result.timeline())
    report = result.report
    assert report is not None, result.why()
    assert report.hostname == HOSTNAME, report.summary()
    assert report.root is not None and report.root.fstype == "overlay", report.summary()
    assert not report.failed_units, report.summary()
    assert "client" in report.run_ltsp, report.run_ltsp
    assert any(m.fstype.startswith("nfs") for m in report.mounts), report.mounts
    assert "init=/usr/lib/ltsp/ltsp" in report.cmdline.split()
    stages = {str(e.get("stage")) for e in report.events}
    assert "ro-root" in stages, report.events
