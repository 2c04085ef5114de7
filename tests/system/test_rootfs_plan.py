"""The mount plan as data, for each example of spec §1.6.1 (no mounts happen here)."""

from __future__ import annotations

import pytest

from ltsp_client.errors import LtspError
from ltsp_client.system.imagesource import parse_chain
from ltsp_client.system.probe import EFI_SYSTEM_GUID, Partition, Probe
from ltsp_client.system.rootfs import (
    Action,
    Bind,
    CopyFile,
    LoadFilesystem,
    LoopMount,
    MakeDir,
    Mount,
    MountTmpfs,
    Unmount,
    flatten,
    plan_chain,
    plan_image_to_ram,
)

from .fakeview import FakeView

T = "/run/initramfs/ltsp"


def overlay(n: int, lower: str, target: str) -> list[Action]:
    return [
        LoadFilesystem("overlay", roots=(lower,)),
        Mount(T, target, "overlay", f"upperdir={T}/{n}/up,lowerdir={lower},workdir={T}/{n}/work"),
    ]


def dirs(n: int) -> list[Action]:
    return [MakeDir(f"{T}/{n}/up"), MakeDir(f"{T}/{n}/work")]


def plan(
    text: str, view: FakeView, *, root: str = "/root", overlay_on: bool = True
) -> list[Action]:
    return flatten(plan_chain(parse_chain(text), root=root, view=view, overlay=overlay_on))


def test_usual_squashfs_image_over_nfs() -> None:
    view = FakeView({"/root/images/x86_64.img": Probe("squashfs"), "/root": "dir"})
    assert plan("/root/images/x86_64.img", view) == [
        MakeDir(T),
        MountTmpfs(T),
        *dirs(0),
        MakeDir(f"{T}/0/looproot"),
        LoadFilesystem("squashfs"),
        LoopMount("/root/images/x86_64.img", f"{T}/0/looproot", "squashfs", "ro"),
        *overlay(0, f"{T}/0/looproot", "/root"),
    ]


def test_plain_nfs_chroot_overlays_the_root_onto_itself() -> None:
    view = FakeView({"/root": "dir", "/root/proc": "dir"}, tmpfs={T})
    assert plan("/root", view) == [*dirs(0), *overlay(0, "/root", "/root")]


def test_efi_subdir_chain() -> None:
    view = FakeView({"/": "dir", "/proc": "dir", "/boot/efi": "dir"})
    assert plan("/,,/boot/efi,subdir=boot/efi", view, root="/dst") == [
        MakeDir(T),
        MountTmpfs(T),
        *dirs(0),
        *overlay(0, "/", "/dst"),
        *dirs(1),
        LoadFilesystem("overlay", roots=("/boot/efi",)),
        Mount(
            T,
            "/dst/boot/efi",
            "overlay",
            f"upperdir={T}/1/up,lowerdir=/boot/efi,workdir={T}/1/work",
        ),
    ]


def test_three_directories_with_subdirs() -> None:
    view = FakeView({"/": "dir", "/proc": "dir", "/boot": "dir", "/opt": "dir"}, tmpfs={T})
    actions = plan("/,,/boot,subdir=boot,,/opt,subdir=opt", view, root="/dst")
    mounts = [a for a in actions if isinstance(a, Mount)]
    assert [(m.target, m.options.split(",")[1]) for m in mounts] == [
        ("/dst", "lowerdir=/"),
        ("/dst/boot", "lowerdir=/boot"),
        ("/dst/opt", "lowerdir=/opt"),
    ]
    assert MountTmpfs(T) not in actions  # already a tmpfs


def test_iso_then_casper_squashfs_relative_to_destination() -> None:
    view = FakeView(
        {
            "/root/ltsp/ubuntu.iso": Probe("iso9660"),
            # visible once the iso is mounted over /root:
            "/root/casper/filesystem.squashfs": Probe("squashfs"),
            f"{T}/0/looproot/casper/filesystem.squashfs": Probe("squashfs"),
        },
    )
    actions = plan(
        "/root/ltsp/ubuntu.iso,fstype=iso9660,loop,ro,,"
        "casper/filesystem.squashfs,fstype=squashfs,loop,ro",
        view,
    )
    loops = [a for a in actions if isinstance(a, LoopMount)]
    assert loops == [
        LoopMount("/root/ltsp/ubuntu.iso", f"{T}/0/looproot", "iso9660", "loop,ro"),
        # the live-CD autodetection of element 0 (no /proc in the iso)
        LoopMount(
            f"{T}/0/looproot/casper/filesystem.squashfs", f"{T}/0/looproot", "squashfs", "ro"
        ),
        LoopMount("/root/casper/filesystem.squashfs", f"{T}/1/looproot", "squashfs", "loop,ro"),
    ]
    assert [a.target for a in actions if isinstance(a, Mount)] == ["/root", "/root"]


def test_partitioned_vm_disk() -> None:
    disk = Probe(
        "",
        (
            Partition(1, 1048576, 100 << 20, EFI_SYSTEM_GUID),
            Partition(2, 105906176, 1 << 30, "0fc63daf-8483-4772-8e79-3d69d8477de4"),
        ),
    )
    offsets = {("/root/vm-flat.vmdk", 1048576): "vfat", ("/root/vm-flat.vmdk", 105906176): "ext4"}
    view = FakeView({"/root/vm-flat.vmdk": disk}, offsets=offsets, tmpfs={T})
    auto = [a for a in plan("/root/vm-flat.vmdk", view) if isinstance(a, LoopMount)]
    # the EFI partition is skipped; ext4 gets no journal replay
    assert auto == [
        LoopMount("/root/vm-flat.vmdk", f"{T}/0/looproot", "ext4", "ro,noload", 105906176, 1 << 30)
    ]
    chosen = [a for a in plan("/root/vm-flat.vmdk,partition=1", view) if isinstance(a, LoopMount)]
    assert chosen == [
        LoopMount("/root/vm-flat.vmdk", f"{T}/0/looproot", "vfat", "ro", 1048576, 100 << 20)
    ]


def test_image_to_ram_copies_then_drops_the_network_root() -> None:
    view = FakeView({"/root/images/x.img": Probe("squashfs")})
    actions, chain = plan_image_to_ram(
        parse_chain("/root/images/x.img,,/opt,subdir=opt"), root="/root", view=view
    )
    assert actions == [
        MakeDir(T),
        MountTmpfs(T),
        CopyFile("/root/images/x.img", f"{T}/x.img"),
        Unmount("/root"),
    ]
    assert [e.path for e in chain] == [f"{T}/x.img", "/opt"]
    assert chain[1].subdir == "opt"


def test_overlay_0_binds_directories_and_mounts_files_directly() -> None:
    view = FakeView({"/srv/chroot": "dir", "/srv/x.img": Probe("squashfs")})
    assert plan("/srv/chroot,,/srv/x.img,subdir=opt", view, overlay_on=False) == [
        Bind("/srv/chroot", "/root"),
        LoadFilesystem("squashfs"),
        LoopMount("/srv/x.img", "/root/opt", "squashfs", "ro"),
    ]


def test_next_index_skips_used_directories() -> None:
    view = FakeView({"/root": "dir", "/root/proc": "dir", f"{T}/0": "dir"}, tmpfs={T})
    assert plan("/root", view)[0] == MakeDir(f"{T}/1/up")


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({}, "Image doesn't exist"),
        ({"/root/x.img": Probe("")}, "I don't know how to mount"),
        ({"/root/x.img": Probe("swap")}, "I don't know how to mount"),
        ({"/root/x.img": Probe("squashfs")}, "has no partition table"),
    ],
)
def test_errors(entries: dict[str, str | Probe], message: str) -> None:
    source = "/root/x.img,partition=1" if "partition" in message else "/root/x.img"
    with pytest.raises(LtspError, match=message):
        plan(source, FakeView(entries))
