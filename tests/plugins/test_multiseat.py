"""The multiseat plugin: udev seat rules, and MULTISEAT=1 autodetection on a fake sysfs."""

from __future__ import annotations

from pathlib import Path

from goldentree import FakeRoot, apply_plugin, client_config

from ltsp_client.plugins.multiseat import RULES, Multiseat

HEADER = "# Written by LTSP at boot from MULTISEAT and UDEV_SEAT_n_x in ltsp.conf\n"
GPU1 = "/sys/devices/pci0000:00/0000:00:02.0"
GPU2 = "/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0"


def two_gpus(root: FakeRoot, *, hub: bool) -> None:
    for gpu in (GPU1, GPU2):
        root.write(f"{gpu}/boot_vga", "1\n")
    root.write("/sys/bus/usb/devices/1-1/idVendor", "1d6b\n")
    if hub:
        root.write("/sys/bus/usb/devices/1-1.3/idVendor", "0424\n")


def test_explicit_rules(fake_root: FakeRoot, tmp_path: Path) -> None:
    text = (
        "[clients]\n"
        'UDEV_SEAT_2_SOUND="*/usb?/?-2/*"\n'
        'UDEV_SEAT_1_GRAPHICS="/devices/pci0000:00/0000:00:02.0*"\n'
    )
    apply_plugin(Multiseat, fake_root, client_config(tmp_path, text))
    assert fake_root.tree() == {
        RULES.lstrip("/"): HEADER
        + 'TAG=="seat", DEVPATH=="/devices/pci0000:00/0000:00:02.0*", ENV{ID_SEAT}="seat-1"\n'
        + 'TAG=="seat", DEVPATH=="*/usb?/?-2/*", ENV{ID_SEAT}="seat-2"\n'
    }


def test_autodetect_two_gpus(fake_root: FakeRoot, tmp_path: Path) -> None:
    two_gpus(fake_root, hub=False)
    before = fake_root.tree()
    apply_plugin(Multiseat, fake_root, client_config(tmp_path, "[clients]\nMULTISEAT=1\n"))
    # the lexicographically smallest device path: 0000:00:01.0/0000:01:00.0
    assert fake_root.changes_since(before) == {
        RULES.lstrip("/"): HEADER
        + 'TAG=="seat", DEVPATH=="/devices/pci0000:00/0000:00:01.0/0000:01:00.0*", '
        'ENV{ID_SEAT}="seat-1"\n'
        + 'TAG=="seat", DEVPATH=="*/usb?/?-[1,3,5,7,9,11,13,15,17,19]/*", ENV{ID_SEAT}="seat-1"\n'
    }


def test_autodetect_with_an_internal_hub(fake_root: FakeRoot, tmp_path: Path) -> None:
    two_gpus(fake_root, hub=True)
    apply_plugin(Multiseat, fake_root, client_config(tmp_path, "[clients]\nMULTISEAT=1\n"))
    rules = (fake_root.path / RULES.lstrip("/")).read_text()
    assert 'DEVPATH=="*/usb?/?-?/?-?.[1,3,5,7,9,11,13,15,17,19]/*"' in rules


def test_one_gpu_removes_old_rules(fake_root: FakeRoot, tmp_path: Path) -> None:
    fake_root.write(f"{GPU1}/boot_vga", "1\n")
    fake_root.write(RULES, "# stale\n")
    apply_plugin(Multiseat, fake_root, client_config(tmp_path, "[clients]\nMULTISEAT=1\n"))
    assert not (fake_root.path / RULES.lstrip("/")).exists()


def test_not_needed(fake_root: FakeRoot, tmp_path: Path) -> None:
    assert apply_plugin(Multiseat, fake_root, client_config(tmp_path, "[clients]\n")) is None
