"""A plugin writes through a symlink that stays inside the root (ctx.path, paths.inside)."""

from __future__ import annotations

from pathlib import Path

from conftest import FakeRunner
from ltsp_client.config.model import Config
from ltsp_client.plugins.base import PluginContext, StaticFacts
from ltsp_client.plugins.hostname import Hostname


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
