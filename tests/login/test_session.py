"""`ltsp session`: one session per user; a new one ends the others (their file goes)."""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from ltsp_client.login import session


@pytest.fixture(autouse=True)
def fast_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session, "POLL", 0.05)  # the real second only slows the tests


def test_new_session_ends_the_others(tmp_path: Path) -> None:
    first = session.start_session(tmp_path, "pc01", datetime(2026, 11, 30, 9, 0, 0))
    assert first.name == "20261130-090000"
    assert first.read_text().startswith("HOSTNAME=pc01\n")
    assert (tmp_path / ".config").stat().st_mode & 0o777 == 0o700
    assert session.describe([first]) == "On pc01 since 20261130-090000"
    pid = os.posix_spawnp("sleep", ["sleep", "30"], dict(os.environ))
    follower = threading.Thread(target=session.follow, args=(pid, first))
    follower.start()
    time.sleep(0.2)
    second = session.start_session(tmp_path, "pc02", datetime(2026, 11, 30, 10, 0, 0))
    follower.join(5)
    assert not follower.is_alive(), "the first session noticed its file was gone"
    assert sorted(p.name for p in second.parent.iterdir()) == ["20261130-100000"]
    os.kill(pid, 9)
    os.waitpid(pid, 0)


def test_follow_returns_when_the_command_exits(tmp_path: Path) -> None:
    ours = session.start_session(tmp_path, "pc01", datetime(2026, 1, 1))
    pid = os.posix_spawnp("true", ["true"], dict(os.environ))
    session.follow(pid, ours)
    assert ours.exists()
