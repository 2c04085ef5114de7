"""GNOME Software's shell search provider, from the real gnome-software package."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from goldentree import FakeRoot, apply_plugin, client_config

from ltsp_client.plugins.search_providers import PROVIDER, SearchProviders


def test_disabled_by_default(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot("gnome-software"))
    rel = PROVIDER.lstrip("/")
    before = root.tree()
    config = client_config(tmp_path, "[clients]\n")
    apply_plugin(SearchProviders, root, config)
    changes = root.changes_since(before)
    assert list(changes) == [rel]
    assert changes[rel] == before[rel].rstrip("\n") + "\nDefaultDisabled=true\n"
    assert apply_plugin(SearchProviders, root, config) is None


def test_not_needed_without_gnome_software(fake_root: FakeRoot, tmp_path: Path) -> None:
    config = client_config(tmp_path, "[clients]\n")
    assert apply_plugin(SearchProviders, fake_root, config) is None
