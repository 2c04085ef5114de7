"""The motd plugin on base-files' real /etc/update-motd.d."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from goldentree import FakeRoot, apply_plugin, client_config

from ltsp_client.plugins.motd import Motd


def test_slow_parts_go(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot())
    root.write("/etc/update-motd.d/00-header", "#!/bin/sh\n", 0o755)
    root.write("/etc/update-motd.d/50-news", "#!/bin/sh\n", 0o755)
    root.write("/etc/update-motd.d/91-release-upgrade", "#!/bin/sh\n", 0o755)
    root.write("/etc/update-motd.d/99-footer", "#!/bin/sh\n", 0o755)
    before = root.tree()
    assert "etc/update-motd.d/10-uname" in before  # from base-files
    apply_plugin(Motd, root, client_config(tmp_path, "[clients]\n"))
    assert root.changes_since(before) == {
        "etc/update-motd.d/10-uname": None,
        "etc/update-motd.d/50-news": None,
        "etc/update-motd.d/91-release-upgrade": None,  # [1-9][0-8]*, as upstream
    }
    assert apply_plugin(Motd, root, client_config(tmp_path, "[clients]\n")) is None
