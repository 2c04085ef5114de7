"""Fixtures for plugin tests: an empty fake root, a strict fake runner, events and logs
kept in tmp_path. The helpers themselves are in goldentree.py."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from goldentree import FakeRoot, FakeRunner

from ltsp_client import log as ltsp_log


@pytest.fixture
def fake_root(tmp_path: Path) -> FakeRoot:
    return FakeRoot(tmp_path / "root")


@pytest.fixture
def fake_runner() -> FakeRunner:
    return FakeRunner()


@pytest.fixture(autouse=True)
def events_file(tmp_path: Path) -> Iterator[Path]:
    """Step events go to tmp_path, never to the host's /run/ltsp."""
    path = tmp_path / "events.jsonl"
    saved_path, saved_stage = ltsp_log.events.path, ltsp_log.events.stage
    saved_handlers = list(logging.getLogger().handlers)
    ltsp_log.events.path = path
    yield path
    ltsp_log.events.path, ltsp_log.events.stage = saved_path, saved_stage
    logging.getLogger().handlers[:] = saved_handlers
