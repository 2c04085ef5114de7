"""A real sshd on loopback with the test users, shared by the login tests of a module."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sshserver
from sshserver import ALICE, BOB, KIOSK


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sshserver.SshServer]:
    assert os.geteuid() == 0, "these tests mount homes: run them as root"
    sshserver.need("ssh", "sshfs", "fusermount3", "/dev/fuse")
    srv = sshserver.start(tmp_path_factory.mktemp("sshd"), [ALICE, BOB, KIOSK])
    yield srv
    srv.stop()
