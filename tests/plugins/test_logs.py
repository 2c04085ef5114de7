"""The logs plugin: each client starts with empty logs; owners and modes stay."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from goldentree import FakeRoot, apply_plugin, client_config

from ltsp_client.plugins.logs import Logs


def test_rotated_removed_big_emptied(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot("apt", "cups-daemon"))  # they ship /var/log/apt, /var/log/cups
    root.write("/var/log/syslog", "x" * 5000, 0o640)
    os.chown(root.path / "var/log/syslog", 0, 4)  # root:adm, as rsyslog leaves it
    root.write("/var/log/small.log", "x" * 1024)
    root.write("/var/log/syslog.1", "old")
    root.write("/var/log/syslog.2.gz", "old")
    root.write("/var/log/dpkg.log.old", "old")
    root.write("/var/log/apt/history.log", "old")
    root.write("/var/log/journal/0123/system.journal", "old")
    root.write("/var/crash/_usr_bin_x.0.crash", "core")
    before = root.tree()
    apply_plugin(Logs, root, client_config(tmp_path, "[clients]\n"))
    assert root.changes_since(before) == {
        "var/log/syslog": "[0640] ",
        "var/log/syslog.1": None,
        "var/log/syslog.2.gz": None,
        "var/log/dpkg.log.old": None,
        "var/log/apt/history.log": None,
        "var/log/journal/0123/system.journal": None,
        "var/crash/_usr_bin_x.0.crash": None,
    }
    assert (root.path / "var/log/syslog").stat().st_gid == 4


def test_not_needed_on_empty_dirs(fake_root: FakeRoot, tmp_path: Path) -> None:
    (fake_root.path / "var/log").mkdir(parents=True)
    assert apply_plugin(Logs, fake_root, client_config(tmp_path, "[clients]\n")) is None
