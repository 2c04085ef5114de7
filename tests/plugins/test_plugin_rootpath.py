"""Paths in a target root: symlinks are followed as if the root were `/`."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FakeRunner

from ltsp_client.config.model import Config
from ltsp_client.errors import LtspError
from ltsp_client.plugins.base import PluginContext, StaticFacts
from ltsp_client.plugins.hostname import Hostname
from ltsp_client.plugins.rootpath import inside


def test_absolute_links_stay_in_the_root(tmp_path: Path) -> None:
    (tmp_path / "usr/lib/systemd").mkdir(parents=True)
    (tmp_path / "usr/sbin").mkdir(parents=True)
    (tmp_path / "lib").symlink_to("usr/lib")
    (tmp_path / "sbin").symlink_to("/usr/sbin")
    (tmp_path / "usr/sbin/init").symlink_to("/lib/systemd/systemd")
    assert inside(tmp_path, "/sbin/init") == tmp_path / "usr/lib/systemd/systemd"
    assert inside(tmp_path, "/sbin/new-file") == tmp_path / "usr/sbin/new-file"
    assert inside(tmp_path, "/missing/dir/file") == tmp_path / "missing/dir/file"


def test_relative_links_cannot_climb_out(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/escape").symlink_to("../../../../etc/passwd")
    assert inside(tmp_path, "/etc/escape") == tmp_path / "etc/passwd"


def test_dotdot_and_loops_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        inside(tmp_path, "/etc/../../x")
    (tmp_path / "a").symlink_to("/b")
    (tmp_path / "b").symlink_to("/a")
    with pytest.raises(LtspError, match="too many symlinks"):
        inside(tmp_path, "/a")


def test_plugin_writes_through_an_absolute_link_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "run").mkdir()
    (root / "run/hosts").write_text("127.0.0.1\tlocalhost\n")
    (root / "etc/hosts").symlink_to("/run/hosts")
    facts = StaticFacts(ip_address="192.168.67.20", prefixlen=24)
    Hostname().apply(PluginContext(root, Config(), facts, FakeRunner()))
    assert (root / "etc/hosts").is_symlink()
    assert (root / "run/hosts").read_text() == "127.0.0.1\tlocalhost\n127.0.1.1\tltsp20\n"
