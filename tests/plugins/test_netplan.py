"""netplan: its configuration and generator removed; on the real netplan.io package files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from goldentree import FakeRoot, apply_plugin, client_config

from ltsp_client.plugins.netplan import Netplan

# What Ubuntu's installer leaves for a desktop (NetworkManager renders everything).
NETPLAN_YAML = "network:\n  version: 2\n  renderer: NetworkManager\n"


def test_netplan_removed(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot("netplan.io", "network-manager"))
    root.write("/etc/netplan/01-network-manager-all.yaml", NETPLAN_YAML, mode=0o600)
    root.write("/run/netplan/50-ens3.yaml", NETPLAN_YAML)
    before = root.tree()
    assert "usr/lib/systemd/system-generators/netplan" in before
    assert apply_plugin(Netplan, root, client_config(tmp_path, "[clients]\n")) is not None
    assert root.changes_since(before) == {
        "etc/netplan/01-network-manager-all.yaml": None,
        "run/netplan/50-ens3.yaml": None,
        "usr/lib/systemd/system-generators/netplan": None,
    }
    assert not (root.path / "etc/netplan").exists()
    assert (root.path / "usr/sbin/netplan").exists()  # the command stays, as upstream


def test_not_needed_without_netplan(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot("network-manager"))
    assert apply_plugin(Netplan, root, client_config(tmp_path, "[clients]\n")) is None
