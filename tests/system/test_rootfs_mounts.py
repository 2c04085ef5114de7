"""The executor against the real kernel: loop devices, squashfs, ext4, tmpfs, overlayfs."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import pytest

from ltsp_client.errors import LtspError
from ltsp_client.system import loop, mounts, rootfs
from ltsp_client.system.imagesource import parse_chain
from ltsp_client.system.probe import probe_file
from system import images

pytestmark = pytest.mark.root


def loops_backed_by(path: Path) -> list[str]:
    found = []
    for entry in Path("/sys/block").glob("loop*"):
        with contextlib.suppress(OSError):  # detached between glob and read
            if (entry / "loop/backing_file").read_text().strip() == str(path):
                found.append(entry.name)
    return found


def loops_left(path: Path, *, timeout: float = 5.0) -> list[str]:
    """The loop devices still backed by `path` once the kernel is done with them: a detach
    (LOOP_CLR_FD) or the last unmount of an autoclear device while udev's blkid still holds
    the device open only marks it, and the kernel clears it at that opener's close."""
    deadline = time.monotonic() + timeout
    while (found := loops_backed_by(path)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return found


def mount_image(source: str, mount_dir: Path, *, overlay: bool = True) -> rootfs.Executor:
    root = mount_dir / "root"
    root.mkdir(exist_ok=True)
    executor = rootfs.Executor()
    rootfs.mount_chain(
        parse_chain(source),
        root=str(root),
        executor=executor,
        tmpfs=str(mount_dir / "tmpfs"),
        overlay=overlay,
    )
    return executor


def test_loop_attach_read_only_with_offset(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("needs root; CI runs as root")
    backing = tmp_path / "data"
    backing.write_bytes(b"A" * 4096 + b"hsqs" + b"B" * 8188)
    device = loop.attach(backing, offset=4096, size=8192)
    try:
        with open(device.path, "rb") as f:
            assert f.read(4) == b"hsqs"
        assert probe_file(Path(device.path)).fstype == "squashfs"
        name = device.path.rsplit("/", 1)[1]
        assert Path(f"/sys/block/{name}/ro").read_text().strip() == "1"
        assert Path(f"/sys/block/{name}/size").read_text().strip() == "16"
    finally:
        device.detach()
    assert loops_left(backing) == []


def test_squashfs_overlay_reads_through_and_writes_to_tmpfs(
    tmp_path: Path, mount_dir: Path
) -> None:
    image = images.squashfs(images.tree(tmp_path / "t"), tmp_path / "x86_64.img")
    root = mount_dir / "root"
    tmpfs = mount_dir / "tmpfs"
    executor = mount_image(str(image), mount_dir)
    assert (root / "etc/os-release").read_text() == 'PRETTY_NAME="test image"\n'
    (root / "etc/new").write_text("written")
    (root / "etc/os-release").write_text("changed")
    assert (tmpfs / "0/up/etc/new").read_text() == "written"
    assert (tmpfs / "0/up/etc/os-release").read_text() == "changed"
    entry = mounts.find_mount(root)
    assert entry is not None and entry.fstype == "overlay" and entry.source == str(tmpfs)
    assert mounts.find_mount(tmpfs / "0/looproot").fstype == "squashfs"  # type: ignore[union-attr]
    assert len(loops_backed_by(image)) == 1
    executor.rollback()
    assert not mounts.is_mounted(root) and not mounts.is_mounted(tmpfs)
    assert loops_left(image) == []  # autoclear detached it


def test_partition_of_a_disk_by_offset(tmp_path: Path, mount_dir: Path) -> None:
    efi = images.vfat(tmp_path / "efi.vfat")
    part = images.ext4(images.tree(tmp_path / "t"), tmp_path / "root.ext4")
    disk = images.disk(tmp_path / "vm-flat.vmdk", [("U", efi), ("L", part)])
    mount_image(str(disk), mount_dir)
    root = mount_dir / "root"
    assert (root / "sbin/init").exists()
    looproot = mounts.find_mount(mount_dir / "tmpfs/0/looproot")
    assert looproot is not None and looproot.fstype == "ext4"


def test_chain_of_two_with_subdir(tmp_path: Path, mount_dir: Path) -> None:
    base = images.squashfs(images.tree(tmp_path / "t"), tmp_path / "base.img")
    (tmp_path / "o/tools").mkdir(parents=True)
    (tmp_path / "o/tools/hello").write_text("hi")
    opt = images.squashfs(tmp_path / "o", tmp_path / "opt.img")
    (tmp_path / "t/opt").mkdir()
    mount_image(f"{base},,{opt},subdir=etc", mount_dir)
    root = mount_dir / "root"
    assert (root / "etc/tools/hello").read_text() == "hi"
    assert (root / "sbin/init").exists()
    assert (mount_dir / "tmpfs/1/looproot/tools/hello").exists()


def test_overlay_0_mounts_the_file_read_only(tmp_path: Path, mount_dir: Path) -> None:
    image = images.ext4(images.tree(tmp_path / "t"), tmp_path / "x.ext4")
    mount_image(str(image), mount_dir, overlay=False)
    root = mount_dir / "root"
    assert (root / "etc/os-release").exists()
    with pytest.raises(OSError):
        (root / "etc/new").write_text("x")
    assert not (mount_dir / "tmpfs").exists()


def test_failure_rolls_back(tmp_path: Path, mount_dir: Path) -> None:
    image = images.squashfs(images.tree(tmp_path / "t"), tmp_path / "x.img")
    with pytest.raises(LtspError, match="Image doesn't exist"):
        mount_image(f"{image},,/nonexistent.img", mount_dir)
    # mount_chain leaves rollback to the caller; the executor knows everything it mounted
    executor = rootfs.Executor()
    root = mount_dir / "root"
    with pytest.raises(LtspError):
        rootfs.mount_chain(
            parse_chain(f"{image},,/nonexistent.img"),
            root=str(root),
            executor=executor,
            tmpfs=str(mount_dir / "tmpfs2"),
        )
    assert executor.undo
    executor.rollback()
    assert not mounts.is_mounted(mount_dir / "tmpfs2")


def test_read_ahead_on_a_loop_mount(tmp_path: Path, mount_dir: Path) -> None:
    image = images.squashfs(images.tree(tmp_path / "t"), tmp_path / "x.img")
    mount_image(str(image), mount_dir)
    looproot = str(mount_dir / "tmpfs/0/looproot")
    entry = mounts.find_mount(looproot)
    assert entry is not None
    changed = rootfs.set_read_ahead(looproot, 64)
    assert changed == [entry.device]
    assert Path(f"/sys/class/bdi/{entry.device}/read_ahead_kb").read_text().strip() == "64"
    assert rootfs.set_read_ahead(looproot, 64) == []  # already set
