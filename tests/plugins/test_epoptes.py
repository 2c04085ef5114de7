"""The epoptes plugin: the server's certificate shipped in ltsp.img is linked."""

from __future__ import annotations

from pathlib import Path

from goldentree import FakeRoot, apply_plugin, client_config

from ltsp_client.plugins.epoptes import Epoptes


def test_link_and_ignore(fake_root: FakeRoot, tmp_path: Path) -> None:
    config = client_config(tmp_path, "[clients]\n")
    assert apply_plugin(Epoptes, fake_root, config) is None
    fake_root.write("/etc/ltsp/epoptes.crt", "-----BEGIN CERTIFICATE-----\n")
    before = fake_root.tree()
    ignore = client_config(tmp_path, "[clients]\nIGNORE_EPOPTES=1\n")
    assert apply_plugin(Epoptes, fake_root, ignore) is None
    apply_plugin(Epoptes, fake_root, config)
    assert fake_root.changes_since(before) == {"etc/epoptes/server.crt": "-> ../ltsp/epoptes.crt"}
