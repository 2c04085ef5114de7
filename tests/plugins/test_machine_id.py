"""machine-id from the MAC: unique per client, the same on every boot."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from goldentree import FACTS, FakeRoot, apply_plugin, client_config

from ltsp_client.errors import LtspError
from ltsp_client.pluginkit import StaticFacts
from ltsp_client.plugins.machine_id import MachineId, machine_id


def test_whole_tree_with_dbus(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot("systemd", "dbus"))
    root.write("/etc/machine-id", "0123456789abcdef0123456789abcdef\n", 0o444)
    root.write("/var/lib/dbus/machine-id", "0123456789abcdef0123456789abcdef\n")
    before = root.tree()
    apply_plugin(MachineId, root, client_config(tmp_path, "[clients]\n"))
    assert root.changes_since(before) == {
        "etc/machine-id": "[0444] 525400abcd0e00000000000000000000\n",
        "var/lib/dbus/machine-id": "-> ../../../etc/machine-id",
    }


def test_two_clients_differ_and_each_is_stable() -> None:
    first = machine_id(FACTS.mac_address)
    assert first == machine_id(FACTS.mac_address.upper())
    assert first != machine_id("52:54:00:ab:cd:0f")
    assert len(first) == 32 and int(first, 16)


def test_without_a_mac_not_needed(fake_root: FakeRoot, tmp_path: Path) -> None:
    config = client_config(tmp_path, "[clients]\n")
    assert apply_plugin(MachineId, fake_root, config, StaticFacts()) is None


def test_a_bad_mac_is_an_error() -> None:
    with pytest.raises(LtspError, match="MAC"):
        machine_id("52:54:00")
