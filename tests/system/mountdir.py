"""A temp dir for real mounts, with everything mounted below it undone at teardown."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ltsp_client.system import mounts


def unmount_under(base: Path) -> None:
    """Unmount everything at or below `base`, deepest and newest first."""
    prefix = str(base)
    for _ in range(20):
        inside = [
            e.mountpoint
            for e in mounts.mount_table()
            if e.mountpoint == prefix or e.mountpoint.startswith(prefix + "/")
        ]
        if not inside:
            return
        with contextlib.suppress(OSError):
            mounts.umount(inside[-1], lazy=True)


@pytest.fixture
def mount_dir(tmp_path: Path) -> Iterator[Path]:
    """A temp dir whose mounts (and the loop devices they hold, via autoclear) go at teardown."""
    if os.geteuid() != 0:
        pytest.fail("needs root; CI runs as root")
    base = tmp_path / "mnt"
    base.mkdir()
    yield base
    unmount_under(base)
