"""An aarch64 client booted the way a Raspberry Pi boots with LTSP (issue 11 item 4): no
initramfs of ours, `init=/usr/lib/ltsp/ltsp` on a read-only NFS root, into multi-user.

qemu-system-aarch64 `-M virt` (TCG, 1 vCPU) boots Debian's arm64 kernel
(linux-image-arm64 of a small arm64 image: systemd, udev, the lab's report unit;
lab/image.py `build_rootfs(arch="arm64")`, made under qemu-user and cached)
directly. The NFS root is that image with our arm64 client package unpacked
into it (`build-tools/freeze --arch arm64`, `build-tools/deb`), as `init=` needs
on a Pi. Debian's arm64 kernel has no IP_PNP/ROOT_NFS, so the kernel's own part
is played by the lab's stand-in initramfs (lab/standin.py), which does only
what a Pi's kernel does: DHCP, the NFS root mounted read-only, devtmpfs on its
/dev, then `init=` as pid 1 with the kernel's init arguments. From there it is
our no-initramfs path (init/roroot.py) on arm64: kernel filesystems, ltsp.img's
configuration over NFS, a tmpfs overlay on the NFS root, the init stage,
switch_root, systemd. A per-MAC ltsp.conf setting (HOSTNAME) is checked in the
guest's report.

Slow: TCG emulates a 64-bit ARM CPU on x86-64 (the boot takes minutes; the
timeline is written to the run directory), and a cold arm64 image takes minutes
more to build under qemu-user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lab import SERVER_IP, standin
from lab.image import build_rootfs
from lab.netns import LabNetwork
from lab.runlog import new_run_dir
from lab.services import start_servers
from lab.vm import BootResult, boot_client

from ltsp_client.server.initrd import elf_arch

ROOT = Path(__file__).resolve().parents[1]
BOOT_TIMEOUT = 900
MAC = "52:54:00:64:00:01"
HOSTNAME = "pi-arm64-one"
CONF = f"[server]\n\n[clients]\nHOSTNAME=ltsp%{{IP}}\n\n[{MAC}]\nHOSTNAME={HOSTNAME}\n"

# setup: a cold arm64 image (about 20 min here) and a cold arm64 build chroot (13 min) under
# qemu-user, then the boot; warm, the setup is the arm64 freeze (3-4 min) and the boot
pytestmark = pytest.mark.qemu(timeout=120, setup_timeout=3600 + BOOT_TIMEOUT)


def output_of(*argv: str, timeout: float = 2400) -> str:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"{' '.join(argv)}:\n{proc.stderr[-3000:]}"
    return proc.stdout.strip().splitlines()[-1]


def nfs_root(run_dir: Path, chroot: Path, tree: str) -> Path:
    """The arm64 image with our arm64 package unpacked (as `apt install ./ltsp-client_*_arm64.deb`
    would, without its initramfs trigger); hard links, so the cached image stays as it is."""
    deb = output_of(str(ROOT / "build-tools/deb"), "--tree", tree, "--out", str(run_dir))
    root = run_dir / "nfsroot"
    if subprocess.run(["cp", "-al", str(chroot), str(root)], check=False).returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        subprocess.run(["cp", "-a", str(chroot), str(root)], check=True)
    subprocess.run(["dpkg-deb", "-x", deb, str(root)], check=True)  # new files only
    assert elf_arch(root / "usr/lib/ltsp/ltsp") == "arm64"
    return root


@pytest.fixture(scope="module")
def booted() -> BootResult:
    if os.geteuid() != 0:
        pytest.fail("the QEMU lab needs root (network namespaces, mounts); CI runs as root")
    if shutil.which("qemu-system-aarch64") is None:
        pytest.fail("qemu-system-aarch64 is missing: apt-get install qemu-system-arm (apt-lab.txt)")
    # the arm64 freeze first: it also registers qemu-aarch64 with binfmt_misc (flag F),
    # which debootstrap --arch=arm64 needs on a fresh machine
    tree = output_of(str(ROOT / "build-tools/freeze"), "--arch", "arm64")
    chroot = build_rootfs(arch="arm64")
    run_dir = new_run_dir("arm64-boot")
    root = nfs_root(run_dir, chroot, tree)
    base, tftp, etc = run_dir / "base", run_dir / "tftp", run_dir / "etc-ltsp"
    for directory in (base, tftp / "ltsp", etc):
        directory.mkdir(parents=True)
    (etc / "ltsp.conf").write_text(CONF)
    ltsp = [sys.executable, "-m", "ltsp_client", "-b", str(base), "-t", str(tftp)]
    output_of(*ltsp, "initrd", "--no-binary", "--etc", str(etc), timeout=120)
    kernel = sorted((chroot / "boot").glob("vmlinuz-*"))[-1]
    initrd = standin.build(root, run_dir / "standin.img", kernel=kernel)
    append = (
        f"root=/dev/nfs nfsroot={SERVER_IP}:{root},vers=3 ro init=/usr/lib/ltsp/ltsp "
        f"ltsp.base_dir={base} ltsp.tftp_dir={tftp} ltsp.strict"
    )
    with LabNetwork(prefix="a64", clients=1) as net:
        start_servers(net, run_dir, nfs_exports=[base, tftp / "ltsp", root])
        result = boot_client(
            net,
            run_dir=run_dir,
            name="arm64",
            mac=MAC,
            kernel=kernel,
            initrds=[initrd],
            append=append,
            arch="aarch64",
            ram_mb=1024,
            timeout=BOOT_TIMEOUT,
        )
    (run_dir / "arm64.timeline.txt").write_text(result.timeline() + "\n")
    print(f"aarch64 boot ({result.elapsed:.0f} s):\n{result.timeline()}")
    assert result.ok, result.why()
    assert result.report is not None, result.why()
    return result


def test_reaches_multi_user_with_the_per_mac_setting(booted: BootResult) -> None:
    report = booted.report
    assert report is not None
    assert report.hostname == HOSTNAME, report.summary()  # the per-MAC setting
    assert report.failed_units == (), report.summary()
    assert booted.grep(r"Linux version \S+-arm64 "), booted.why()  # Debian's arm64 kernel


def test_our_arm64_binary_was_init_then_systemd(booted: BootResult) -> None:
    report = booted.report
    assert report is not None
    assert report.root is not None and report.root.fstype == "overlay", report.summary()
    assert "init=/usr/lib/ltsp/ltsp" in report.cmdline.split(), report.cmdline
    assert report.init.endswith("systemd"), report.init
    assert booted.grep(r"stand-in: exec /usr/lib/ltsp/ltsp"), booted.why()
    assert booted.grep(r"Running ltsp ro-root"), booted.why()
    assert "ro-root" in {e.get("stage") for e in report.events}, report.events
