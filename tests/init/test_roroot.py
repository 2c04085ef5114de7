"""The no-initramfs path (init/roroot.py) on fake exports: real loop, squashfs, tmpfs and
overlay mounts (root), NFS mounts replaced by bind mounts of local directories."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from system import images

from ltsp_client.init import roroot
from ltsp_client.init.cmdline import parse
from ltsp_client.init.initramfs import Stage
from ltsp_client.log import events
from ltsp_client.server.cpio import Archive, Entry, write_segments
from ltsp_client.system import mounts
from tests.init.test_initramfs import Recorder, console_text, read_events

MAC = "52:54:00:00:00:05"
SERVER_CONF = f"[clients]\nSEARCH_DOMAIN=lab\n[{MAC}]\nHOSTNAME=pi-five\n"
CMDLINE = (
    "root=/dev/nfs nfsroot=192.168.67.1:/srv/ltsp/raspios,vers=3 ip=dhcp init=/usr/lib/ltsp/ltsp"
)


@dataclass
class Server:
    """SERVER:PATH exports as local directories; mount_nfs binds them."""

    exports: dict[str, Path]
    mounted: list[str] = field(default_factory=list)

    def mount_nfs(self, server: str, path: str, target: Path) -> None:
        assert server == "192.168.67.1"
        if path not in self.exports:
            raise OSError(2, f"{path}: not exported")
        mounts.mount(str(self.exports[path]), target, "", flags=mounts.MS_BIND)
        self.mounted.append(path)


@dataclass
class Calls:
    execs: list[list[str]] = field(default_factory=list)
    switched: list[Path] = field(default_factory=list)
    remounts: int = 0

    def exec(self, argv: Sequence[str]) -> None:
        self.execs.append(list(argv))

    def switch_root(self, newroot: Path) -> None:
        self.switched.append(newroot)

    def remount_rw(self) -> None:
        self.remounts += 1


def ltsp_img(path: Path, conf: str) -> None:
    archive = Archive()
    archive.add(Entry("etc/ltsp/ltsp.conf", stat.S_IFREG | 0o644, conf.encode()))
    archive.add(Entry("conf/conf.d/00-ltsp.conf", stat.S_IFREG | 0o644, b"# initramfs only\n"))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        write_segments(out, [(archive, "none")])


@dataclass
class Lab:
    stage: Stage
    deps: roroot.Deps
    server: Server
    calls: Calls
    nfsroot: Path
    tmpfs: Path


def make_lab(tmp_path: Path, mount_dir: Path, cmdline: str, *, own_conf: str = "") -> Lab:
    nfsroot = images.tree(tmp_path / "raspios")  # the chroot that the kernel mounted on /
    (nfsroot / "etc/ltsp").mkdir()
    (nfsroot / "etc/ltsp/ltsp.conf").write_text(own_conf or "[clients]\n")
    (nfsroot / "usr/lib/ltsp").mkdir(parents=True)
    (nfsroot / "usr/lib/ltsp/ltsp").write_text("frozen binary\n")
    (nfsroot / "root").mkdir()
    base = tmp_path / "base"
    (base / "images").mkdir(parents=True)
    image_tree = images.tree(tmp_path / "image-tree")
    (image_tree / "etc/os-release").write_text('PRETTY_NAME="the squashfs image"\n')
    images.squashfs(image_tree, base / "images/raspios.img")
    tftp = tmp_path / "tftp"
    ltsp_img(tftp / "ltsp/ltsp.img", SERVER_CONF)
    server = Server({"/srv/tftp/ltsp": tftp / "ltsp", "/srv/ltsp": base})
    info = tmp_path / "mountinfo"
    info.write_text("1 0 0:2 / / rw - rootfs rootfs rw\n")
    calls = Calls()
    deps = roroot.Deps(
        exec=calls.exec,
        mount_nfs=server.mount_nfs,
        remount_rw=calls.remount_rw,
        switch_root=calls.switch_root,
        tmp=mount_dir / "run-ltsp-tmp",
        nfs_root=nfsroot,
        mountinfo=info,
    )
    (mount_dir / "root").mkdir()
    stage = Stage(
        rootmnt=mount_dir / "root",
        cmdline=parse(cmdline),
        environ={"DEVICE": "eth0", "IP_ADDRESS": "192.168.67.20", "MAC_ADDRESS": MAC},
        config_dir=nfsroot / "etc/ltsp",
        tmpfs=str(mount_dir / "tmpfs"),
    )
    return Lab(stage, deps, server, calls, nfsroot, mount_dir / "tmpfs")


def steps_done() -> list[str]:
    return [str(e["step"]) for e in read_events(events.path) if e["event"] == "end"]


@pytest.mark.root
def test_the_image_over_nfs_with_an_overlay_and_ltsp_img_installed(
    tmp_path: Path, mount_dir: Path
) -> None:
    lab = make_lab(tmp_path, mount_dir, f"{CMDLINE} ltsp.image=images/raspios.img")
    rec = Recorder()
    policy = rec.policy(tmp_path)
    assert roroot.boot(lab.stage, policy, ["splash"], lab.deps) == 0, console_text(policy)
    root = lab.stage.rootmnt
    assert (root / "etc/os-release").read_text() == 'PRETTY_NAME="the squashfs image"\n'
    assert (root / "etc/ltsp/ltsp.conf").read_text() == SERVER_CONF  # from ltsp.img
    assert not (root / "conf").exists()  # the initramfs-tools parts stay out
    assert os.readlink(root / "sbin/init") == "/usr/lib/ltsp/ltsp"
    assert (lab.tmpfs / "0/up/etc/ltsp/ltsp.conf").exists()  # writes go to the tmpfs
    assert lab.server.mounted == ["/srv/tftp/ltsp", "/srv/ltsp"]
    assert not lab.deps.tmp.exists()  # /run/ltsp/tmp is gone before the switch
    assert lab.calls.switched == [root] and lab.calls.execs == [["/sbin/init", "splash"]]
    assert steps_done() == [
        "facts", "administrative", "server", "fetch", "config", "image-source", "mount",
        "install", "init-stage", "switch-root",
    ]  # fmt: skip
    assert rec.reboots == 0


@pytest.mark.root
def test_without_an_image_the_nfs_root_itself_is_overlaid(tmp_path: Path, mount_dir: Path) -> None:
    lab = make_lab(tmp_path, mount_dir, CMDLINE)
    rec = Recorder()
    assert roroot.boot(lab.stage, rec.policy(tmp_path), [], lab.deps) == 0
    root = lab.stage.rootmnt
    assert (root / "usr/lib/ltsp/ltsp").read_text() == "frozen binary\n"
    assert (root / "etc/ltsp/ltsp.conf").read_text() == SERVER_CONF
    assert (lab.nfsroot / "etc/ltsp/ltsp.conf").read_text() == "[clients]\n"  # lower untouched
    assert not (lab.nfsroot / "sbin/init.ltsp").exists()
    top = mounts.find_mount(root)
    assert top is not None and top.fstype == "overlay"
    assert lab.server.mounted == ["/srv/tftp/ltsp"]  # BASE_DIR only for an image


@pytest.mark.root
def test_administrative_client_boots_the_nfs_root_read_write(
    tmp_path: Path, mount_dir: Path
) -> None:
    own = f"[clients]\n[{MAC}]\nADMINISTRATIVE_CLIENT=1\n"
    lab = make_lab(tmp_path, mount_dir, f"{CMDLINE} ltsp.image=images/raspios.img", own_conf=own)
    rec = Recorder()
    assert roroot.boot(lab.stage, rec.policy(tmp_path), ["single"], lab.deps) == 0
    assert lab.calls.remounts == 1 and lab.calls.execs == [["/sbin/init", "single"]]
    assert lab.server.mounted == [] and lab.calls.switched == []
    assert not mounts.find_mount(lab.stage.rootmnt)


@pytest.mark.root
def test_a_missing_ltsp_img_is_fatal_then_reboots(tmp_path: Path, mount_dir: Path) -> None:
    lab = make_lab(tmp_path, mount_dir, f"{CMDLINE} ltsp.image=images/raspios.img")
    (tmp_path / "tftp/ltsp/ltsp.img").unlink()
    rec = Recorder()
    policy = rec.policy(tmp_path)
    roroot.boot(lab.stage, policy, [], lab.deps)
    text = console_text(policy)
    assert "FATAL: ltsp ro-root: fetch: 192.168.67.1:/srv/tftp/ltsp/ltsp.img doesn't exist" in text
    assert "ltsp initrd" in text  # the hint
    assert rec.reboots == 1 and lab.calls.switched == []
    assert not mounts.find_mount(lab.deps.tmp / "tftp")


@pytest.mark.root
def test_tftp_and_base_dir_from_the_kernel_line(tmp_path: Path, mount_dir: Path) -> None:
    lab = make_lab(
        tmp_path,
        mount_dir,
        f"{CMDLINE} ltsp.image=images/raspios.img ltsp.tftp_dir=/t ltsp.base_dir=/b",
    )
    lab.server.exports = {"/t/ltsp": tmp_path / "tftp/ltsp", "/b": tmp_path / "base"}
    rec = Recorder()
    policy = rec.policy(tmp_path)
    roroot.boot(lab.stage, policy, [], lab.deps)
    assert lab.server.mounted == ["/t/ltsp", "/b"], console_text(policy)


SWITCH = """
import os, sys
from pathlib import Path
from ltsp_client.system import mounts
from ltsp_client.init import roroot
new = Path(sys.argv[1])
if not mounts.is_mounted("/run"):  # the stage mounted a tmpfs there; a container may not have
    mounts.mount("tmpfs", "/run", "tmpfs")
open("/run/from-the-old-run", "w").close()
mounts.mount("tmpfs", new, "tmpfs")
(new / "marker").write_text("the new root")
roroot.switch_root(new)
print(open("/marker").read(), sorted(os.listdir("/")), os.path.exists("/proc/self/mountinfo"),
      os.path.exists("/dev/null"), os.path.exists("/run/from-the-old-run"), os.getcwd())
"""


@pytest.mark.root
def test_switch_root_moves_the_kernel_filesystems_and_run_then_chroots(tmp_path: Path) -> None:
    """The real switch, in a private mount namespace of a child process."""
    new = tmp_path / "new"
    new.mkdir()
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", sys.executable, "-c", SWITCH, str(new)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(Path(roroot.__file__).parents[2])},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == (
        "the new root ['dev', 'marker', 'proc', 'run', 'sys'] True True True /"
    )


@pytest.mark.root
def test_pid1_takes_this_path_only_on_a_read_only_root_without_an_initramfs_before(
    tmp_path: Path, mount_dir: Path
) -> None:
    from ltsp_client.init.pid1 import read_only_root

    mounts.mount("tmpfs", mount_dir, "tmpfs", flags=mounts.MS_RDONLY)
    marker = tmp_path / "run-ltsp-client"
    assert read_only_root(str(mount_dir), str(marker))
    marker.mkdir()  # initrd-bottom ran (OVERLAY=0 leaves a read-only root too)
    assert not read_only_root(str(mount_dir), str(marker))
    assert not read_only_root(str(tmp_path), str(tmp_path / "none"))
