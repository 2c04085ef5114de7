"""Magic-byte probing of real image files."""

from __future__ import annotations

from pathlib import Path

from ltsp_client.system.probe import EFI_SYSTEM_GUID, probe_file

from . import images


def test_squashfs(tmp_path: Path) -> None:
    img = images.squashfs(images.tree(tmp_path / "t"), tmp_path / "x.img")
    assert probe_file(img).fstype == "squashfs"


def test_ext4_from_directory(tmp_path: Path) -> None:
    img = images.ext4(images.tree(tmp_path / "t"), tmp_path / "x.ext4")
    probe = probe_file(img)
    assert probe.fstype == "ext4" and not probe.is_disk


def test_iso9660(tmp_path: Path) -> None:
    img = images.iso(images.tree(tmp_path / "t"), tmp_path / "x.iso")
    assert probe_file(img).fstype == "iso9660"


def test_vfat_and_swap_and_unknown(tmp_path: Path) -> None:
    assert probe_file(images.vfat(tmp_path / "x.vfat")).fstype == "vfat"
    swap = tmp_path / "swap"
    images.sh("truncate", "-s", "1M", swap)
    images.need("mkswap")
    images.sh("mkswap", swap)
    assert probe_file(swap).fstype == "swap"
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x01" * 70000)
    assert probe_file(junk).fstype == "" and not probe_file(junk).is_disk


def test_gpt_disk_with_efi_and_linux_partitions(tmp_path: Path) -> None:
    efi = images.vfat(tmp_path / "efi.vfat")
    root = images.ext4(images.tree(tmp_path / "t"), tmp_path / "root.ext4")
    img = images.disk(tmp_path / "vm-flat.vmdk", [("U", efi), ("L", root)])
    probe = probe_file(img)
    assert probe.is_disk
    first, second = probe.partitions
    assert (first.number, first.type, first.skipped) == (1, EFI_SYSTEM_GUID, True)
    assert second.number == 2 and not second.skipped
    assert probe_file(img, second.offset).fstype == "ext4"
    assert probe_file(img, first.offset).fstype == "vfat"


def test_mbr_disk(tmp_path: Path) -> None:
    root = images.squashfs(images.tree(tmp_path / "t"), tmp_path / "root.sq")
    img = images.disk(tmp_path / "disk.raw", [("82", root), ("83", root)], label="dos")
    probe = probe_file(img)
    assert [(p.number, p.type, p.skipped) for p in probe.partitions] == [
        (1, "0x82", True),
        (2, "0x83", False),
    ]
    assert probe_file(img, probe.partitions[1].offset).fstype == "squashfs"
