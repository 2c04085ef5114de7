"""The no-initramfs path (spec §1.7, init/roroot.py) in the lab, as a Raspberry Pi boots.

A Pi's kernel does DHCP, mounts its NFS root read-only and runs
`init=/usr/lib/ltsp/ltsp` itself (IP_PNP, ROOT_NFS). Debian's kernels have
neither, so the lab puts a stand-in initramfs in front (lab/standin.py: the
image's busybox, DHCP, the read-only NFS mount, devtmpfs on its /dev, then
`switch_root` to `init=` with nothing else mounted). Everything after that is
ours: pid 1 on a read-only root mounts /proc, /sys, /dev, /run, fetches
ltsp.img over NFS, mounts the squashfs image from SERVER:BASE_DIR under a tmpfs
overlay, installs, runs the init stage and switch_roots.

The NFS root is the lab's chroot with our frozen binary in /usr/lib/ltsp (as
the ltsp-client package puts it), hard-linked so that the cached chroot is
never written. One boot per root kind, shared by its checks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lab import SERVER_IP, ourstack, standin
from lab.image import build_rootfs
from lab.netns import LabNetwork
from lab.report import Report
from lab.runlog import new_run_dir
from lab.services import start_servers
from lab.vm import BootResult, boot_client

pytestmark = pytest.mark.qemu(timeout=1500)

BOOT_TIMEOUT = 420
MAC = "52:54:00:67:50:01"
HOSTNAME = "pi-lab-one"  # the per-MAC setting, from the server's ltsp.conf in ltsp.img
CONF = ourstack.DEFAULT_CONF + f"\n[{MAC}]\nHOSTNAME={HOSTNAME}\n"
STEPS = [
    "facts", "administrative", "server", "fetch", "config", "image-source", "mount",
    "install", "init-stage", "switch-root",
]  # fmt: skip


@dataclass
class Booted:
    result: BootResult
    report: Report
    nfsroot: Path


def nfs_root(run_dir: Path, chroot: Path) -> Path:
    """The chroot with the frozen tree at /usr/lib/ltsp; hard links, so the cache stays as is."""
    root = run_dir / "nfsroot"
    try:
        subprocess.run(["cp", "-al", str(chroot), str(root)], check=True, capture_output=True)
    except subprocess.CalledProcessError:  # another file system: a real copy
        shutil.rmtree(root, ignore_errors=True)
        subprocess.run(["cp", "-a", str(chroot), str(root)], check=True)
    shutil.copytree(ourstack.frozen_tree(), root / "usr/lib/ltsp", symlinks=True)
    return root


@pytest.fixture(scope="module", params=["image", "nfs-root"])
def booted(request: pytest.FixtureRequest) -> Iterator[Booted]:
    if os.geteuid() != 0:
        pytest.fail("the QEMU lab needs root (network namespaces, mounts); CI runs as root")
    kind = request.param
    chroot = build_rootfs()
    run_dir = new_run_dir(f"noinitrd-{kind}")
    published = ourstack.publish(run_dir, chroot, ltsp_conf=CONF)
    root = nfs_root(run_dir, chroot)
    initrd = standin.build(root, run_dir / "standin.img", kernel=published.kernel)
    image = f"ltsp.image=images/{ourstack.IMAGE_NAME}.img " if kind == "image" else ""
    append = (
        f"root=/dev/nfs nfsroot={SERVER_IP}:{root},vers=3 ro init=/usr/lib/ltsp/ltsp {image}"
        f"ltsp.base_dir={published.base_dir} ltsp.tftp_dir={published.tftp_dir} "
        "console=ttyS0,115200 panic=-1 ltsp.strict"
    )
    exports = [published.base_dir, published.tftp_dir / "ltsp", root]
    with LabNetwork(prefix="noi", clients=1) as net:
        start_servers(net, run_dir, nfs_exports=exports)
        result = boot_client(
            net,
            run_dir=run_dir,
            name=f"noinitrd-{kind}",
            mac=MAC,
            kernel=published.kernel,
            initrds=[initrd],
            append=append,
            timeout=BOOT_TIMEOUT,
        )
    assert result.ok, result.why()
    assert result.report is not None, result.why()
    yield Booted(result, result.report, root)


def test_reaches_multi_user_with_the_per_mac_setting(booted: Booted) -> None:
    report = booted.report
    assert report.failed_units == (), report.summary()
    assert report.hostname == HOSTNAME, report.summary()
    assert f"[{MAC}]" in report.files.get("/etc/ltsp/ltsp.conf", ""), report.files
    assert booted.result.grep(r"stand-in: exec /usr/lib/ltsp/ltsp"), booted.result.why()
    assert booted.result.grep(r"Running ltsp ro-root"), booted.result.why()


def test_the_root_is_a_tmpfs_overlay_on_the_image_or_the_nfs_root(booted: Booted) -> None:
    report = booted.report
    root = report.root
    assert root is not None and (root.fstype, root.source) == ("overlay", "/run/initramfs/ltsp")
    looped = [m for m in report.mounts if m.target.endswith("/looproot")]
    if "ltsp.image=" in report.cmdline:
        assert looped and looped[0].fstype == "squashfs", report.mounts
    else:
        assert not looped, report.mounts
    assert report.init.endswith("systemd"), report.init  # the real init is back


def test_the_stage_ran_every_step_once_then_the_real_init(booted: Booted) -> None:
    events = booted.report.events
    done = [e["step"] for e in events if e.get("stage") == "ro-root" and e.get("event") == "end"]
    assert done == STEPS, events
    plugins = [e for e in events if e.get("stage") == "init" and e.get("step") == "plugins"]
    assert plugins, events  # the init stage ran (from ro-root's init-stage, or as pid 1)
    assert not (booted.nfsroot / "sbin/init.ltsp").exists()  # the NFS root stays untouched
