"""The initramfs-tools conf.d snippet and scripts, run by busybox sh in a chroot, as /init does."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

HOOKS = Path(__file__).resolve().parents[2] / "initramfs-hooks/initramfs-tools"
PREMOUNT_ORDER = (
    '/scripts/init-premount/brltty "$@"\n[ -e /conf/param.conf ] && . /conf/param.conf\n'
)
UDEV_ORDER = '/scripts/init-bottom/udev "$@"\n[ -e /conf/param.conf ] && . /conf/param.conf\n'
LOGGER = '#!/bin/sh\necho "${0##*/} $*" >>/log\n'
# what a klibc-only Debian initrd (no busybox) has besides modprobe
KLIBC_TOOLS = [
    "cat",
    "chroot",
    "cpio",
    "dd",
    "dmesg",
    "false",
    "halt",
    "kill",
    "ln",
    "losetup",
    "ls",
    "mkdir",
    "mkfifo",
    "mknod",
    "mount",
    "mv",
    "pivot_root",
    "poweroff",
    "readlink",
    "reboot",
    "sleep",
    "sync",
    "true",
    "umount",
    "uname",
]

pytestmark = pytest.mark.root


def initramfs(base: Path, cmdline: str) -> Path:
    busybox = shutil.which("busybox")
    if busybox is None or os.geteuid() != 0:
        pytest.fail("needs root and busybox: apt-get install busybox-static (apt-base.txt)")
    (base / "bin").mkdir(parents=True)
    shutil.copy(busybox, base / "bin/busybox")
    for tool in KLIBC_TOOLS:
        (base / "bin" / tool).symlink_to("busybox")
    # dash (as /init's shell) finds our fake tools on PATH; busybox sh would run its applets
    for lib in ("/bin/dash", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"):
        if not Path(lib).exists():
            pytest.fail(f"{lib} is missing (Debian packages dash and libc6)")
        (base / lib[1:]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(lib, base / lib[1:])
    (base / "bin/sh").symlink_to("dash")
    (base / "sbin").mkdir()
    for tool in ("insmod", "modprobe", "sleep", "blockdev"):
        (base / "sbin" / tool).write_text(LOGGER)
        (base / "sbin" / tool).chmod(0o755)
    (base / "proc").mkdir()
    (base / "dev").mkdir()
    os.mknod(base / "dev/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    (base / "proc/cmdline").write_text(cmdline + "\n")
    (base / "scripts/init-bottom").mkdir(parents=True)
    (base / "scripts/init-bottom/ORDER").write_text(UDEV_ORDER)
    shutil.copy(HOOKS / "scripts/init-bottom/ltsp-initrd-bottom", base / "scripts/init-bottom")
    (base / "scripts/init-premount").mkdir()
    (base / "scripts/init-premount/ORDER").write_text(PREMOUNT_ORDER)
    shutil.copy(HOOKS / "scripts/init-premount/ltsp-link-up", base / "scripts/init-premount")
    shutil.copy(HOOKS / "scripts/ltsp-nbd-client", base / "scripts")
    (base / "conf/conf.d").mkdir(parents=True)
    shutil.copy(HOOKS / "ltsp.conf", base / "conf/conf.d/00-ltsp.conf")
    (base / "conf/conf.d/zz-resume").write_text("RESUME=UUID=x\n")
    modules = base / "usr/lib/ltsp/modules" / os.uname().release
    modules.mkdir(parents=True)
    (modules / "squashfs.ko").write_bytes(b"")
    (modules / "overlay.ko.xz").write_bytes(b"")
    (base / "etc").mkdir()
    return base


def chroot_sh(base: Path, script: str, **env: str) -> str:
    result = subprocess.run(
        ["chroot", str(base), "/bin/dash", "-c", script],
        capture_output=True,
        text=True,
        env={"PATH": "/sbin:/bin", **env},
        check=True,
    )
    return result.stdout


SOURCE = 'export panic=; . /conf/conf.d/00-ltsp.conf; echo "panic=$panic nbd=$NBDCLIENT"; set'


def test_conf_d_snippet_schedules_our_step_and_loads_modules(tmp_path: Path) -> None:
    base = initramfs(tmp_path / "i", "root=/dev/nfs nfsroot=10.0.0.1:/srv/ltsp quiet")
    out = chroot_sh(base, SOURCE)
    assert "panic=60 nbd=/scripts/ltsp-nbd-client" in out
    assert "ltsp_" not in out  # no helper functions or variables left in /init's shell
    order = (base / "scripts/init-bottom/ORDER").read_text()
    assert order.startswith('/scripts/init-bottom/ltsp-initrd-bottom "$@"\n')
    assert order.endswith(UDEV_ORDER)
    premount = (base / "scripts/init-premount/ORDER").read_text()
    assert premount.startswith('/scripts/init-premount/ltsp-link-up "$@"\n')
    assert premount.endswith(PREMOUNT_ORDER)
    log = (base / "log").read_text().splitlines()
    kver = os.uname().release
    assert f"insmod /usr/lib/ltsp/modules/{kver}/overlay.ko.xz" in log
    assert f"insmod /usr/lib/ltsp/modules/{kver}/squashfs.ko" in log
    assert "modprobe -q overlay" in log
    assert (base / "conf/conf.d/zz-resume").read_text() == ""
    assert (base / "etc/modprobe.d/ltsp.conf").read_text() == "blacklist floppy\n"


@pytest.mark.parametrize(
    ("cmdline", "panic"),
    [
        ("ltsp.reboot-timeout=7 quiet", "7"),
        ("ltsp.debug_shell=1", ""),
        ("ltsp.shell", ""),
        ("panic=5", ""),  # the admin's own panic= is left alone (/init parses it later)
    ],
)
def test_panic_policy(tmp_path: Path, cmdline: str, panic: str) -> None:
    base = initramfs(tmp_path / "i", cmdline)
    assert f"panic={panic} " in chroot_sh(base, SOURCE)


def test_floppy_blacklist_can_be_turned_off_and_ltsp5_boots_are_left_alone(
    tmp_path: Path,
) -> None:
    base = initramfs(tmp_path / "i", "quiet")
    chroot_sh(base, SOURCE, BLACKLIST_MODULES="pcspkr")
    assert not (base / "etc/modprobe.d/ltsp.conf").exists()
    base = initramfs(tmp_path / "j", "init=/sbin/init-ltsp quiet")
    chroot_sh(base, SOURCE)
    assert (base / "scripts/init-bottom/ORDER").read_text() == UDEV_ORDER
    assert not (base / "log").exists()


def test_nbd_client_wrapper_retries_then_succeeds(tmp_path: Path) -> None:
    base = initramfs(tmp_path / "i", "quiet")
    (base / "sbin/nbd-client").write_text(
        '#!/bin/sh\necho "nbd-client $*" >>/log\n'
        'n=$(cat /count || echo 0); echo $((n + 1)) >/count; [ "$n" -ge 2 ]\n'
    )
    (base / "sbin/nbd-client").chmod(0o755)
    args = "10.0.0.1 -N x86_64 /dev/nbd0 -swap -persist -systemd-mark"
    result = subprocess.run(
        ["chroot", str(base), "/bin/dash", "/scripts/ltsp-nbd-client", *args.split()],
        capture_output=True,
        text=True,
        env={"PATH": "/sbin:/bin"},
        check=False,
    )
    assert result.returncode == 0
    assert "NBD server not answering (try 2 of 90)" in result.stderr
    log = (base / "log").read_text().splitlines()
    assert log.count(f"nbd-client {args} -b 512") == 3
    assert log[-1] == "blockdev --rereadpt /dev/nbd0"


def test_nbd_client_wrapper_gives_up(tmp_path: Path) -> None:
    base = initramfs(tmp_path / "i", "quiet")
    (base / "sbin/nbd-client").write_text("#!/bin/sh\nexit 1\n")
    (base / "sbin/nbd-client").chmod(0o755)
    result = subprocess.run(
        ["chroot", str(base), "/bin/dash", "/scripts/ltsp-nbd-client", "srv", "/dev/nbd0"],
        capture_output=True,
        text=True,
        env={"PATH": "/sbin:/bin", "LTSP_NBD_TRIES": "3"},
        check=False,
    )
    assert result.returncode == 1
    assert "nbd-client failed 3 times, giving up" in result.stderr


def test_init_bottom_script_panics_without_the_binary(tmp_path: Path) -> None:
    base = initramfs(tmp_path / "i", "quiet")
    (base / "scripts/functions").write_text('panic() { echo "PANIC $*"; exit 3; }\n')
    result = subprocess.run(
        ["chroot", str(base), "/bin/dash", "/scripts/init-bottom/ltsp-initrd-bottom"],
        capture_output=True,
        text=True,
        env={"PATH": "/sbin:/bin", "rootmnt": "/root"},
        check=False,
    )
    assert result.returncode == 3
    assert "PANIC FATAL: ltsp: /usr/lib/ltsp/ltsp is missing" in result.stdout
    assert (base / "run/ltsp/client").is_dir()
    (base / "usr/lib/ltsp/ltsp").write_text('#!/bin/sh\necho "ltsp $*" >>/log\n')
    (base / "usr/lib/ltsp/ltsp").chmod(0o755)
    subprocess.run(
        ["chroot", str(base), "/bin/dash", "/scripts/init-bottom/ltsp-initrd-bottom"],
        env={"PATH": "/sbin:/bin", "rootmnt": "/root"},
        check=True,
    )
    assert (base / "log").read_text() == "ltsp initrd-bottom --rootmnt /root\n"


def run_init_bottom(base: Path) -> None:
    subprocess.run(
        ["chroot", str(base), "/bin/dash", "/scripts/init-bottom/ltsp-initrd-bottom"],
        env={"PATH": "/sbin:/bin", "rootmnt": "/root"},
        check=True,
    )


def fake_client(tree: Path) -> None:
    """A client at TREE/ltsp that logs where it ran from and what it was asked."""
    (tree / "_internal").mkdir(parents=True)
    (tree / "ltsp").write_text(f'#!/bin/sh\necho "{tree.name} $0 $*" >>/log\n')
    (tree / "ltsp").chmod(0o755)


def test_init_bottom_runs_the_client_of_the_mounted_root(tmp_path: Path) -> None:
    """NBD or an NFS chroot with the ltsp-client package: no copy in the initrd."""
    base = initramfs(tmp_path / "i", "root=/dev/nbd0")
    fake_client(base / "root/usr/lib/ltsp")
    run_init_bottom(base)
    assert (base / "log").read_text() == "ltsp /usr/lib/ltsp/ltsp initrd-bottom --rootmnt /root\n"
    assert os.readlink(base / "usr/lib/ltsp/ltsp") == "/root/usr/lib/ltsp/ltsp"
    assert os.readlink(base / "usr/lib/ltsp/_internal") == "/root/usr/lib/ltsp/_internal"


def test_init_bottom_loop_mounts_the_image_for_its_client(tmp_path: Path) -> None:
    """NFS with ltsp.image=: the squashfs is attached read-only, the client runs from it,
    then it is unmounted and detached (fake losetup/mount/umount log their arguments)."""
    base = initramfs(tmp_path / "i", "root=/dev/nfs ltsp.image=images/x.img,,subdir=y quiet")
    (base / "root/images").mkdir(parents=True)
    (base / "root/images/x.img").write_bytes(b"hsqs")
    (base / "staged").mkdir()
    (base / "staged/ltsp").write_text('#!/bin/sh\necho "client $0 $*" >>/log\n')
    (base / "staged/ltsp").chmod(0o755)
    tree = "/run/ltsp/image-client/usr/lib/ltsp"
    tools = {
        "losetup": 'echo "losetup $*" >>/log; [ "$1" = -d ] || echo /dev/loop7',
        "mount": f'echo "mount $*" >>/log; mkdir -p {tree}/_internal; ln -s /staged/ltsp {tree}',
        "umount": 'echo "umount $*" >>/log',
    }
    for name, body in tools.items():
        (base / "sbin" / name).write_text(f"#!/bin/sh\n{body}\n")
        (base / "sbin" / name).chmod(0o755)
    run_init_bottom(base)
    assert (base / "log").read_text().splitlines() == [
        "losetup -f -r --show /root/images/x.img",
        "mount -t squashfs -o ro /dev/loop7 /run/ltsp/image-client",
        "client /usr/lib/ltsp/ltsp initrd-bottom --rootmnt /root",
        "umount /run/ltsp/image-client",
        "losetup -d /dev/loop7",
    ]
