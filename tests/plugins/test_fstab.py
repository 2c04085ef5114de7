"""The fstab plugin: the image's fstab is always replaced (it describes the build machine)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from goldentree import FakeRoot, apply_plugin, client_config

from ltsp_client.plugins.fstab import HEADER, Fstab

VM_FSTAB = "UUID=1234 / ext4 errors=remount-ro 0 1\nUUID=5678 none swap sw 0 0\n"


def test_replaced_by_the_fstab_lines(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot("mount", "nfs-common"))
    root.write("/etc/fstab", VM_FSTAB)
    before = root.tree()
    text = (
        "[clients]\n"
        'FSTAB_2="/dev/sda1 /mnt/%{MAC} ext4 defaults 0 0"\n'
        'FSTAB_1="server:/home /home nfs defaults,nolock 0 0"\n'
        "HOSTNAME=pc%{IP}\n"
    )
    apply_plugin(Fstab, root, client_config(tmp_path, text))
    assert root.changes_since(before) == {
        "etc/fstab": HEADER
        + "server:/home /home nfs defaults,nolock 0 0\n"
        + "/dev/sda1 /mnt/525400abcd0e ext4 defaults 0 0\n"
    }


def test_no_fstab_lines_still_drop_the_image_fstab(fake_root: FakeRoot, tmp_path: Path) -> None:
    fake_root.write("/etc/fstab", VM_FSTAB)
    apply_plugin(Fstab, fake_root, client_config(tmp_path, "[clients]\n"))
    assert fake_root.tree() == {"etc/fstab": HEADER}


def test_live_image_with_klibc_nfsmount(debroot: Callable[..., Path], tmp_path: Path) -> None:
    """Without mount.nfs, klibc's nfsmount stands in; it takes the server's address only."""
    root = FakeRoot(debroot("klibc-utils"))
    root.write("/etc/fstab", VM_FSTAB)
    before = root.tree()
    text = '[clients]\nSERVER=192.168.67.1\nFSTAB_1="server:/home /home nfs defaults 0 0"\n'
    apply_plugin(Fstab, root, client_config(tmp_path, text))
    assert root.changes_since(before) == {
        "etc/fstab": HEADER + "192.168.67.1:/home /home nfs defaults 0 0\n",
        "usr/sbin/mount.nfs": "-> /usr/lib/klibc/bin/nfsmount",
    }


def test_not_needed_without_fstab_or_lines(fake_root: FakeRoot, tmp_path: Path) -> None:
    assert apply_plugin(Fstab, fake_root, client_config(tmp_path, "[clients]\n")) is None
