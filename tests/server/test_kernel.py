"""`ltsp kernel`: the search table on chroots, squashfs images, partitioned sparse disks and ISOs.

Real tools: mksquashfs/unsquashfs, sfdisk + mke2fs (a disk built in the test, then
loop-mounted read-only: root), xorriso.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from publisher_tools import ltsp, make_partitioned_disk

from ltsp_client.errors import ConfigError
from ltsp_client.server import kernel, sources


def debian_root(
    root: Path, versions: tuple[str, ...] = ("6.1.0-9-amd64", "6.1.0-10-amd64")
) -> Path:
    (root / "boot").mkdir(parents=True)
    (root / "proc").mkdir()
    for v in versions:
        (root / f"boot/vmlinuz-{v}").write_text(f"kernel {v}\n")
        (root / f"boot/initrd.img-{v}").write_text(f"initrd {v}\n")
    return root


def test_newest_versioned_kernel_wins_without_links(tmp_path: Path) -> None:
    root = debian_root(tmp_path / "r")
    assert kernel.find_pair(kernel.DirTree(root)) == (
        "boot/vmlinuz-6.1.0-10-amd64",
        "boot/initrd.img-6.1.0-10-amd64",
    )


def test_the_vmlinuz_link_is_preferred_and_absolute_links_stay_inside(tmp_path: Path) -> None:
    root = debian_root(tmp_path / "r")
    (root / "vmlinuz").symlink_to("/boot/vmlinuz-6.1.0-9-amd64")  # absolute: inside the tree
    (root / "initrd.img").symlink_to("boot/initrd.img-6.1.0-9-amd64")
    tree = kernel.DirTree(root)
    assert kernel.find_pair(tree) == ("vmlinuz", "initrd.img")
    assert kernel.resolve(tree, "vmlinuz") == "boot/vmlinuz-6.1.0-9-amd64"


def test_a_kernel_without_its_initrd_is_skipped(tmp_path: Path) -> None:
    root = debian_root(tmp_path / "r")
    (root / "boot/initrd.img-6.1.0-10-amd64").unlink()
    assert kernel.find_pair(kernel.DirTree(root)) == (
        "boot/vmlinuz-6.1.0-9-amd64",
        "boot/initrd.img-6.1.0-9-amd64",
    )


def test_other_distributions_rows(tmp_path: Path) -> None:
    centos = tmp_path / "centos"
    (centos / "boot").mkdir(parents=True)
    (centos / "boot/vmlinuz-5.14.0-1.el9").write_text("k")
    (centos / "boot/initramfs-5.14.0-1.el9.img").write_text("i")
    assert kernel.find_pair(kernel.DirTree(centos)) == (
        "boot/vmlinuz-5.14.0-1.el9",
        "boot/initramfs-5.14.0-1.el9.img",
    )
    live = tmp_path / "live"
    (live / "casper").mkdir(parents=True)
    (live / "casper/vmlinuz").write_text("k")
    (live / "casper/initrd.lz").write_text("i")
    assert kernel.find_pair(kernel.DirTree(live)) == ("casper/vmlinuz", "casper/initrd.lz")


def test_kernel_initrd_comes_first_and_bad_values_name_the_parameter(tmp_path: Path) -> None:
    root = debian_root(tmp_path / "r")
    (root / "boot/custom-kernel").write_text("k")
    (root / "boot/custom-initrd").write_text("i")
    tree = kernel.DirTree(root)
    assert kernel.find_pair(tree, "custom-kernel s/kernel/initrd/") == (
        "boot/custom-kernel",
        "boot/custom-initrd",
    )
    with pytest.raises(ConfigError, match="KERNEL_INITRD") as info:
        kernel.find_pair(tree, "only-a-glob")
    assert info.value.param == "KERNEL_INITRD"


def test_a_glob_star_never_crosses_a_slash(tmp_path: Path) -> None:
    root = tmp_path / "r"
    (root / "vmlinuz-x").mkdir(parents=True)
    (root / "vmlinuz-x/initrd.img").write_text("i")
    assert kernel.tree_glob(kernel.DirTree(root), "vmlinuz-*") == ["vmlinuz-x"]
    assert kernel.find_pair(kernel.DirTree(root)) is None


def test_squashfs_images_are_read_with_unsquashfs(tmp_path: Path) -> None:
    root = debian_root(tmp_path / "r")
    (root / "vmlinuz").symlink_to("boot/vmlinuz-6.1.0-9-amd64")
    (root / "initrd.img").symlink_to("boot/initrd.img-6.1.0-9-amd64")
    (root / "usr/big").mkdir(parents=True)
    (root / "usr/big/file").write_bytes(os.urandom(2**20))
    image = tmp_path / "x.img"
    subprocess.run(["mksquashfs", str(root), str(image), "-quiet", "-no-progress"], check=True)
    tree = kernel.SquashTree(image)
    assert tree.kind("usr/big/file") == "f" and tree.readlink("vmlinuz").startswith("boot/")
    result = kernel.publish_from_tree(tree, "x", tmp_path / "tftp")
    assert result is not None and result.first_time
    assert (tmp_path / "tftp/ltsp/x/vmlinuz").read_text() == "kernel 6.1.0-9-amd64\n"
    assert (tmp_path / "tftp/ltsp/x/initrd.img").read_text() == "initrd 6.1.0-9-amd64\n"
    assert (tmp_path / "tftp/ltsp/x/initrd.img").stat().st_mode & 0o777 == 0o644
    mtime = (root / "boot/vmlinuz-6.1.0-9-amd64").stat().st_mtime
    assert abs((tmp_path / "tftp/ltsp/x/vmlinuz").stat().st_mtime - mtime) < 2


def test_replacing_a_kernel_never_disturbs_a_reader_of_the_old_one(tmp_path: Path) -> None:
    root = debian_root(tmp_path / "r")
    kernel.publish_from_tree(kernel.DirTree(root), "x", tmp_path / "tftp")
    with (tmp_path / "tftp/ltsp/x/vmlinuz").open() as reader:
        (root / "boot/vmlinuz-6.1.0-11-amd64").write_text("kernel 11\n")
        (root / "boot/initrd.img-6.1.0-11-amd64").write_text("initrd 11\n")
        result = kernel.publish_from_tree(kernel.DirTree(root), "x", tmp_path / "tftp")
        assert result is not None and not result.first_time
        assert reader.read() == "kernel 6.1.0-10-amd64\n"
    assert (tmp_path / "tftp/ltsp/x/vmlinuz").read_text() == "kernel 11\n"
    assert not [p for p in (tmp_path / "tftp/ltsp/x").iterdir() if p.name.startswith(".")]


@pytest.mark.root
def test_a_partitioned_sparse_vm_disk_is_loop_mounted_read_only(tmp_path: Path) -> None:
    tree = debian_root(tmp_path / "tree")
    (tree / "vmlinuz").symlink_to("boot/vmlinuz-6.1.0-10-amd64")
    (tree / "initrd.img").symlink_to("boot/initrd.img-6.1.0-10-amd64")
    base = tmp_path / "base"
    base.mkdir()
    disk = tmp_path / "disk.raw"
    make_partitioned_disk(disk, tree)
    assert disk.stat().st_blocks * 512 < 32 * 2**20  # still sparse
    (base / "vm.img").symlink_to(disk)
    before = disk.read_bytes()
    result = ltsp(tmp_path, "kernel", "vm", ok=False)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "tftp/ltsp/vm/vmlinuz").read_text() == "kernel 6.1.0-10-amd64\n"
    assert disk.read_bytes() == before
    assert "ltsp-kernel-" not in Path("/proc/self/mountinfo").read_text()


def test_an_iso_is_read_for_its_own_kernel(tmp_path: Path) -> None:
    tree = tmp_path / "iso"
    (tree / "casper").mkdir(parents=True)
    (tree / "casper/vmlinuz").write_text("live kernel\n")
    (tree / "casper/initrd").write_text("live initrd\n")
    (tree / "casper/filesystem.squashfs").write_bytes(b"")
    (tree / "boot").mkdir()
    (tree / "boot/vmlinuz").symlink_to("../casper/vmlinuz")
    iso = tmp_path / "live.iso"
    subprocess.run(
        ["xorriso", "-as", "mkisofs", "-quiet", "-R", "-o", str(iso), str(tree)],
        check=True,
        capture_output=True,
    )
    result = ltsp(tmp_path, "kernel", str(iso), ok=False)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "tftp/ltsp/live.iso/vmlinuz").read_text() == "live kernel\n"


def test_names_and_resolution(tmp_path: Path) -> None:
    base = tmp_path / "base"
    debian_root(base / "deb")
    (base / "images").mkdir()
    (base / "images/sq.img").write_bytes(b"")
    assert sources.resolve("deb", base).kind == "chroot"
    assert sources.resolve("sq", base).kind == "image"
    assert sources.resolve("/", base).name == sources.machine_name()
    assert sources.resolve(f"{base}/deb,,/boot,subdir=boot", base).chain[1].subdir == "boot"
    assert sources.machine_name("i686") == "x86_32"
    assert kernel.kernel_sources([], base, all_images=False) == ["deb", "sq"]
    with pytest.raises(Exception, match="image source not found"):
        sources.resolve("nothing-here", base)


def test_no_kernel_found_is_reported_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "base/empty/proc").mkdir(parents=True)
    result = ltsp(tmp_path, "kernel", "empty", ok=False)
    assert result.returncode == 0
    assert "Could not locate vmlinuz and initrd.img" in result.stdout
