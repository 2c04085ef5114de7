"""`ltsp kernel` with RPI_IMAGE (spec §5.2): the Pi firmware tree linked into TFTP_DIR and a
cmdline.txt for the no-initramfs path (spec §1.7).

The file names are those of Raspberry Pi OS (bookworm: /boot/firmware; bullseye: /boot).
The firmware itself (raspi-firmware, non-free-firmware, arm only) cannot be fetched on
this amd64 machine, so the files hold placeholder bytes: `ltsp kernel` only links them.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import pytest
from publisher_tools import ltsp

from ltsp_client.server import kernel

# Raspberry Pi OS bookworm's firmware partition, abridged: Pi 3 (bootcode.bin, start.elf),
# Pi 4 (start4.elf, fixup4.dat), Pi 5 (kernel_2712.img; its firmware is in the EEPROM)
FIRMWARE = (
    "bootcode.bin", "start.elf", "fixup.dat", "start4.elf", "fixup4.dat",
    "kernel8.img", "kernel_2712.img", "initramfs8",
    "bcm2710-rpi-3-b.dtb", "bcm2711-rpi-4-b.dtb", "bcm2712-rpi-5-b.dtb",
    "overlays/vc4-kms-v3d.dtbo", "overlays/README", "config.txt", "issue.txt",
)  # fmt: skip
CONFIG_TXT = "# http://rpf.io/configtxt\ndtparam=audio=on\ncamera_auto_detect=1\n"
SD_CMDLINE = (
    "console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 "
    "fsck.repair=yes rootwait quiet init=/usr/lib/raspberrypi-sys-mods/firstboot splash "
    "plymouth.ignore-serial-consoles cfg80211.ieee80211_regdom=GB\n"
)


def raspios(base: Path, boot: str = "boot/firmware", *, binary: bool = True) -> Path:
    chroot = base / "raspios"
    for name in FIRMWARE:
        path = chroot / boot / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"placeholder for {name}\n".encode())
    (chroot / boot / "config.txt").write_text(CONFIG_TXT)
    (chroot / boot / "cmdline.txt").write_text(SD_CMDLINE)
    (chroot / "proc").mkdir()
    if binary:
        (chroot / "usr/lib/ltsp").mkdir(parents=True)
        (chroot / "usr/lib/ltsp/ltsp").write_bytes(b"\x7fELF")
    return chroot


def publish(tmp_path: Path, *, conf: str = "") -> str:
    (tmp_path / "etc-ltsp").mkdir(exist_ok=True)
    (tmp_path / "etc-ltsp/ltsp.conf").write_text(f"[server]\nRPI_IMAGE=raspios\n{conf}")
    return ltsp(tmp_path, "kernel", "raspios").stdout


def test_firmware_linked_config_untouched_cmdline_for_the_nfs_root(tmp_path: Path) -> None:
    base, tftp = tmp_path / "base", tmp_path / "tftp"
    chroot = raspios(base)
    (base / "images").mkdir()
    (base / "images/raspios.img").write_bytes(b"hsqs")
    out = publish(tmp_path, conf='KERNEL_PARAMETERS="ltsp.strict"\n')
    for name in (n.split("/")[0] for n in FIRMWARE):
        link = tftp / name
        assert link.is_symlink() and not os.path.isabs(os.readlink(link)), name
        assert link.resolve() == (chroot / "boot/firmware" / name).resolve(), name
    assert (tftp / "overlays/vc4-kms-v3d.dtbo").is_file()  # the overlays dir, linked whole
    assert (tftp / "config.txt").read_text() == CONFIG_TXT
    assert (chroot / "boot/firmware/cmdline.txt").read_text() == SD_CMDLINE  # the SD card's
    cmdline = tftp / "cmdline.txt"
    assert cmdline.is_file() and not cmdline.is_symlink()
    words = cmdline.read_text().split()
    server = next(w for w in words if w.startswith("nfsroot=")).split("=", 1)[1].split(":")[0]
    ipaddress.IPv4Address(server)
    assert words == [
        "console=serial0,115200", "console=tty1", "quiet", "splash",
        "plymouth.ignore-serial-consoles", "cfg80211.ieee80211_regdom=GB",
        "ip=dhcp", "root=/dev/nfs", f"nfsroot={server}:{base}/raspios,vers=3,tcp,nolock", "ro",
        "init=/usr/lib/ltsp/ltsp", "ltsp.image=images/raspios.img",
        f"ltsp.base_dir={base}", f"ltsp.tftp_dir={tftp}", "ltsp.strict",
    ]  # fmt: skip
    assert not (tftp / "ltsp/raspios/vmlinuz").exists()  # the firmware loads kernel8.img
    assert "linked 14 Raspberry Pi boot files" in out and "init=/usr/lib/ltsp/ltsp" in out


def test_older_images_keep_the_firmware_in_boot_and_removed_files_lose_their_link(
    tmp_path: Path,
) -> None:
    chroot = raspios(tmp_path / "base", "boot")
    tftp = tmp_path / "tftp"
    publish(tmp_path)
    assert (tftp / "start4.elf").resolve() == (chroot / "boot/start4.elf").resolve()
    assert "ltsp.image=" not in (tftp / "cmdline.txt").read_text()  # no image: the chroot
    (chroot / "boot/start4.elf").unlink()
    (tftp / "unrelated").symlink_to("nowhere")
    publish(tmp_path)
    assert not os.path.lexists(tftp / "start4.elf")
    assert os.path.lexists(tftp / "unrelated")  # only links into the boot dir are cleaned
    assert not (tftp / "cmdline.txt").is_symlink()


def test_an_image_without_our_binary_is_published_with_a_warning(tmp_path: Path) -> None:
    raspios(tmp_path / "base", binary=False)
    out = publish(tmp_path)
    assert "ltsp-client package" in out
    assert "init=/usr/lib/ltsp/ltsp" in (tmp_path / "tftp/cmdline.txt").read_text()


def test_only_the_rpi_image_is_published_this_way(tmp_path: Path) -> None:
    raspios(tmp_path / "base")
    (tmp_path / "etc-ltsp").mkdir()
    (tmp_path / "etc-ltsp/ltsp.conf").write_text("[server]\nRPI_IMAGE=other\n")
    out = ltsp(tmp_path, "kernel", "raspios").stdout
    assert "Could not locate vmlinuz and initrd.img" in out
    assert not (tmp_path / "tftp/bootcode.bin").exists()


def test_cmdline_with_the_default_directories() -> None:
    boot = kernel.PiBoot(
        server="192.168.67.1",
        base_dir=Path("/srv/ltsp"),
        tftp_dir=Path("/srv/tftp"),
        name="raspios",
        image=False,
    )
    assert kernel.rpi_cmdline("console=tty1 root=/dev/mmcblk0p2 rw rootwait", boot) == (
        "console=tty1 ip=dhcp root=/dev/nfs "
        "nfsroot=192.168.67.1:/srv/ltsp/raspios,vers=3,tcp,nolock ro init=/usr/lib/ltsp/ltsp\n"
    )


def test_the_server_address_is_an_ipv4_address() -> None:
    ipaddress.IPv4Address(kernel.server_address())


@pytest.mark.root
def test_ltsp_image_of_the_rpi_image_adds_the_image_to_cmdline_txt(tmp_path: Path) -> None:
    """`ltsp image` ends with `ltsp kernel`'s work: the Pi now boots the squashfs image."""
    raspios(tmp_path / "base")
    publish(tmp_path)
    assert "ltsp.image=" not in (tmp_path / "tftp/cmdline.txt").read_text()
    out = ltsp(tmp_path, "image", "raspios").stdout
    assert (tmp_path / "base/images/raspios.img").exists()
    assert "ltsp.image=images/raspios.img" in (tmp_path / "tftp/cmdline.txt").read_text()
    assert "Could not locate" not in out and "Raspberry Pi boot files" in out
