"""The snap plugin on Debian's snapd package."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from goldentree import FakeRoot, apply_plugin, client_config

from ltsp_client.plugins.snap import HOLD_TEXT, Snap

HOLD = {
    "etc/systemd/system/snapd.hold.service": HOLD_TEXT,
    "etc/systemd/system/snapd.service.wants/snapd.hold.service": (
        "-> /etc/systemd/system/snapd.hold.service"
    ),
}


@pytest.fixture
def root(debroot: Callable[..., Path]) -> FakeRoot:
    root = FakeRoot(debroot("snapd"))
    root.write("/var/lib/snapd/seed/snaps/core22_864.snap", "seed")
    root.write("/var/lib/snapd/seed/snaps/firefox_2987.snap", "seed")
    root.write("/var/lib/snapd/snaps/core22_864.snap", "already there")
    return root


def test_hold_and_seed_links(root: FakeRoot, tmp_path: Path) -> None:
    before = root.tree()
    apply_plugin(Snap, root, client_config(tmp_path, "[clients]\n"))
    assert root.changes_since(before) == {
        **HOLD,
        "var/lib/snapd/snaps/firefox_2987.snap": "-> /var/lib/snapd/seed/snaps/firefox_2987.snap",
    }


def test_symlink_snaps_0(root: FakeRoot, tmp_path: Path) -> None:
    before = root.tree()
    apply_plugin(Snap, root, client_config(tmp_path, "[clients]\nSYMLINK_SNAPS=0\n"))
    assert root.changes_since(before) == HOLD


def test_the_hold_date_is_computed_when_the_unit_runs() -> None:
    """systemd turns `$$` into `$`, so the shell computes the date at that boot."""
    exec_start = next(line for line in HOLD_TEXT.splitlines() if line.startswith("ExecStart="))
    assert '"$$(date -Is -d +60days)"' in exec_start


def test_not_needed_without_snapd(fake_root: FakeRoot, tmp_path: Path) -> None:
    assert apply_plugin(Snap, fake_root, client_config(tmp_path, "[clients]\n")) is None
