"""The fake-root builder: real Debian packages laid out as an installed system."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import debroot as deb
import pytest


def test_root_is_merged_usr_with_real_package_files(debroot: Callable[..., Path]) -> None:
    root = debroot("network-manager", "ifupdown")
    assert os.readlink(root / "sbin") == "usr/sbin"
    assert (root / "usr/sbin/NetworkManager").is_file()
    assert (root / "sbin/ifdown").is_file()  # /sbin/ifdown in the .deb, /usr/sbin here
    assert (
        "plugins=ifupdown,keyfile" in (root / "etc/NetworkManager/NetworkManager.conf").read_text()
    )
    assert (root / "etc/debian_version").is_file()  # base-files always
    assert not (root / "usr/share/doc").exists()


def test_postinst_effects_are_replayed(debroot: Callable[..., Path]) -> None:
    root = debroot("systemd", "network-manager", "ifupdown", "systemd-resolved")
    wants = root / "etc/systemd/system/multi-user.target.wants"
    assert (
        os.readlink(wants / "NetworkManager.service")
        == "/lib/systemd/system/NetworkManager.service"
    )
    getty = root / "etc/systemd/system/getty.target.wants/getty@tty1.service"
    assert os.readlink(getty) == "/lib/systemd/system/getty@.service"
    assert "source /etc/network/interfaces.d/*" in (root / "etc/network/interfaces").read_text()
    assert os.readlink(root / "etc/resolv.conf") == "../run/systemd/resolve/stub-resolv.conf"


def test_resolvconf_links_resolv_conf(debroot: Callable[..., Path]) -> None:
    root = debroot("resolvconf")
    assert os.readlink(root / "etc/resolv.conf") == "../run/resolvconf/resolv.conf"
    assert (root / "var/lib/resolvconf/linkified").exists()
    assert os.access(root / "sbin/resolvconf", os.X_OK)


def test_writing_into_a_linked_file_is_caught(tmp_path: Path) -> None:
    package_dir = tmp_path / "cache/pkg_1"
    (package_dir / "files").mkdir(parents=True)
    (package_dir / "files/tool").write_text("binary")
    linked = tmp_path / "tool"
    os.link(package_dir / "files/tool", linked)
    shared = deb.SharedFiles()
    shared.add(linked, package_dir)
    assert shared.check() == []
    os.utime(linked, ns=(0, 12345))
    with linked.open("a") as f:
        f.write("x")
    assert shared.check() == [linked]
    assert not package_dir.exists()  # dropped from the cache


def test_missing_package_is_a_clear_error() -> None:
    with pytest.raises(deb.DebError, match="no-such-package-ltsp"):
        deb.fetch("no-such-package-ltsp", "1.0")
