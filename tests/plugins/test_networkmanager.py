"""networkmanager: the boot NIC unmanaged; on the real network-manager package files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from goldentree import FakeRoot, apply_plugin, client_config

from ltsp_client.errors import LtspError
from ltsp_client.pluginkit import StaticFacts
from ltsp_client.plugins.networkmanager import NetworkManager


def test_boot_nic_unmanaged(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot("network-manager"))
    before = root.tree()
    assert apply_plugin(NetworkManager, root, client_config(tmp_path, "[clients]\n")) is not None
    assert root.changes_since(before) == {
        "etc/NetworkManager/conf.d/ltsp.conf": "[keyfile]\nunmanaged-devices=interface-name:ens3\n"
    }
    # the package's own main configuration is untouched and still loads keyfile
    assert "plugins=ifupdown,keyfile" in before["etc/NetworkManager/NetworkManager.conf"]


def test_not_needed_without_network_manager(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot("ifupdown"))
    assert apply_plugin(NetworkManager, root, client_config(tmp_path, "[clients]\n")) is None


def test_unknown_device_is_an_error(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot("network-manager"))
    with pytest.raises(LtspError, match="boot network interface is unknown"):
        apply_plugin(NetworkManager, root, client_config(tmp_path, ""), StaticFacts())
