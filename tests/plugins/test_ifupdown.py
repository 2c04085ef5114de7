"""ifupdown: the boot NIC `inet manual`, ifdown disabled; on the real ifupdown package files."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from goldentree import FakeRoot, apply_plugin, client_config

from ltsp_client.errors import LtspError
from ltsp_client.pluginkit import StaticFacts
from ltsp_client.plugins.hosts import GENERATED
from ltsp_client.plugins.ifupdown import Ifupdown


def test_interfaces_and_ifdown(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot("ifupdown"))
    before = root.tree()
    assert apply_plugin(Ifupdown, root, client_config(tmp_path, "[clients]\n")) is not None
    assert root.changes_since(before) == {
        "etc/network/interfaces": GENERATED
        + "# interfaces(5) file used by ifup(8) and ifdown(8)\n"
        + "auto lo\niface lo inet loopback\n\nauto ens3\niface ens3 inet manual\n",
        "usr/sbin/ifdown": "-> ../bin/true",
    }
    assert os.path.realpath(root.path / "sbin/ifdown") == str(root.path / "usr/bin/true")


def test_not_needed_without_ifupdown(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot("network-manager"))
    assert apply_plugin(Ifupdown, root, client_config(tmp_path, "[clients]\n")) is None


def test_unknown_device_is_an_error(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot("ifupdown"))
    with pytest.raises(LtspError, match="boot network interface is unknown"):
        apply_plugin(Ifupdown, root, client_config(tmp_path, ""), StaticFacts())
