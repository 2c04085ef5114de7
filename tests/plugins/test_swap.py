"""The swap plugin: local swap partitions found by their signature (real mkswap output) on a
fake /sys and /dev, written as systemd swap units."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from goldentree import FakeRoot, apply_plugin, client_config

from ltsp_client.plugins.swap import Swap, unit_for

PCI = "/sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block"


def mkswap(path: Path, size: int = 1 << 20) -> None:
    if shutil.which("mkswap") is None:
        pytest.fail("mkswap is missing: apt-get install util-linux (scripts/deps/apt-base.txt)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(size))
    subprocess.run(["mkswap", "-q", str(path)], check=True, capture_output=True)


def partition(root: FakeRoot, disk: str, name: str, *, parent: str = PCI) -> Path:
    """sysfs entries of partition NAME of DISK, and its /dev node (a plain file here)."""
    root.write(f"{parent}/{disk}/{name}/partition", "2\n")
    (root.path / "sys/class/block").mkdir(parents=True, exist_ok=True)
    link = root.path / "sys/class/block" / name
    link.symlink_to(f"../..{parent.removeprefix('/sys')}/{disk}/{name}")
    node = root.path / "dev" / name
    node.parent.mkdir(parents=True, exist_ok=True)
    node.write_bytes(bytes(8192))
    return node


def unit(device: str) -> str:
    return f"# Written by LTSP at boot: a local swap partition\n[Swap]\nWhat={device}\n"


@pytest.fixture
def machine(fake_root: FakeRoot) -> FakeRoot:
    """sda1 ext4-ish (zeros), sda2 swap, nvme0n1p3 swap, a swap on nbd0p1 and on a RAID disk."""
    partition(fake_root, "sda", "sda1")
    mkswap(partition(fake_root, "sda", "sda2"))
    nvme = "/sys/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0"
    mkswap(partition(fake_root, "nvme0n1", "nvme0n1p3", parent=nvme))
    mkswap(partition(fake_root, "nbd0", "nbd0p1", parent="/sys/devices/virtual/block"))
    mkswap(partition(fake_root, "sdb", "sdb1"))
    fake_root.write(f"{PCI}/sdb/holders/md0", "")  # sdb is held by md0: a RAID member
    return fake_root


def test_swap_units_for_local_partitions(machine: FakeRoot, tmp_path: Path) -> None:
    before = machine.tree()
    apply_plugin(Swap, machine, client_config(tmp_path, "[clients]\n"))
    assert machine.changes_since(before) == {
        "etc/systemd/system/dev-sda2.swap": unit("/dev/sda2"),
        "etc/systemd/system/dev-nvme0n1p3.swap": unit("/dev/nvme0n1p3"),
        "etc/systemd/system/swap.target.wants/dev-sda2.swap": (
            "-> /etc/systemd/system/dev-sda2.swap"
        ),
        "etc/systemd/system/swap.target.wants/dev-nvme0n1p3.swap": (
            "-> /etc/systemd/system/dev-nvme0n1p3.swap"
        ),
    }


def test_local_swap_0(machine: FakeRoot, tmp_path: Path) -> None:
    assert apply_plugin(Swap, machine, client_config(tmp_path, "[clients]\nLOCAL_SWAP=0\n")) is None


def test_no_swap_partition_not_needed(fake_root: FakeRoot, tmp_path: Path) -> None:
    partition(fake_root, "sda", "sda1")
    assert apply_plugin(Swap, fake_root, client_config(tmp_path, "[clients]\n")) is None


@pytest.mark.parametrize(
    ("device", "name"),
    [
        ("/dev/sda2", "dev-sda2.swap"),
        ("/dev/mapper/vg-swap", "dev-mapper-vg\\x2dswap.swap"),
        ("/dev/disk/by-uuid/1a2b", "dev-disk-by\\x2duuid-1a2b.swap"),
    ],
)
def test_unit_names_as_systemd_escape(device: str, name: str) -> None:
    assert unit_for(device) == name
    if shutil.which("systemd-escape") is None:
        pytest.fail("systemd-escape is missing: apt-get install systemd")
    escaped = subprocess.run(
        ["systemd-escape", "--path", "--suffix=swap", device],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert escaped == name
