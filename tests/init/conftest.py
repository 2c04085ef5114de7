"""Fixtures of the boot-stage tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from system.mountdir import mount_dir

from ltsp_client.log import events


@pytest.fixture(autouse=True)
def event_file(tmp_path: Path) -> Iterator[Path]:
    """Events of the test go to its tmp dir; the global event log is put back after."""
    saved = events.path
    events.path = tmp_path / "events.jsonl"
    yield events.path
    events.path = saved


__all__ = ["event_file", "mount_dir"]
