"""The cups plugin on a root made of Debian's cups packages, compared as a whole tree."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from goldentree import FakeRoot, apply_plugin, client_config

from ltsp_client.errors import LtspError
from ltsp_client.plugins.cups import Cups

PACKAGES = ("systemd", "cups-client", "cups-daemon", "cups-common", "cups-browsed")
MASKS = {
    "etc/systemd/system/cups.service": "-> /dev/null",
    "etc/systemd/system/cups.path": "-> /dev/null",
    "etc/systemd/system/cups.socket": "-> /dev/null",
    "etc/systemd/system/cups-browsed.service": "-> /dev/null",
}


@pytest.fixture
def root(debroot: Callable[..., Path]) -> FakeRoot:
    return FakeRoot(debroot(*PACKAGES))


def test_default_is_the_ltsp_server(root: FakeRoot, tmp_path: Path) -> None:
    before = root.tree()
    apply_plugin(Cups, root, client_config(tmp_path, "[clients]\nSERVER=192.168.67.1\n"))
    assert root.changes_since(before) == {
        "etc/cups/client.conf": "ServerName 192.168.67.1\n",
        **MASKS,
    }


def test_a_print_server(root: FakeRoot, tmp_path: Path) -> None:
    before = root.tree()
    config = client_config(tmp_path, "[clients]\nCUPS_SERVER=print.school.lan\n")
    apply_plugin(Cups, root, config)
    assert root.changes_since(before) == {
        "etc/cups/client.conf": "ServerName print.school.lan\n",
        **MASKS,
    }


def test_localhost_keeps_the_local_daemon(root: FakeRoot, tmp_path: Path) -> None:
    before = root.tree()
    apply_plugin(Cups, root, client_config(tmp_path, "[clients]\nCUPS_SERVER=localhost\n"))
    assert root.changes_since(before) == {"etc/cups/client.conf": "ServerName localhost\n"}


def test_ignore_and_no_cups_are_not_needed(
    root: FakeRoot, debroot: Callable[..., Path], tmp_path: Path
) -> None:
    assert (
        apply_plugin(Cups, root, client_config(tmp_path, "[clients]\nCUPS_SERVER=ignore\n")) is None
    )
    bare = debroot("systemd", name="bare")
    assert apply_plugin(Cups, bare, client_config(tmp_path, "[clients]\nSERVER=10.0.0.1\n")) is None


def test_no_server_known_is_a_clear_error(root: FakeRoot, tmp_path: Path) -> None:
    with pytest.raises(LtspError, match="CUPS_SERVER"):
        apply_plugin(Cups, root, client_config(tmp_path, "[clients]\n"))
