"""The sshfs plugin: a binary shipped in ltsp.img stands in for a missing sshfs."""

from __future__ import annotations

import os
from pathlib import Path

from goldentree import FakeRoot, apply_plugin, client_config

from ltsp_client.plugins.sshfs import Sshfs


def test_link_to_the_shipped_binary(fake_root: FakeRoot, tmp_path: Path) -> None:
    shipped = f"/etc/ltsp/bin/sshfs-{os.uname().machine}"
    fake_root.write(shipped, "#!/bin/sh\n", 0o755)
    fake_root.write("/etc/ltsp/bin/sshfs-riscv64-other", "#!/bin/sh\n", 0o755)
    before = fake_root.tree()
    apply_plugin(Sshfs, fake_root, client_config(tmp_path, "[clients]\n"))
    assert fake_root.changes_since(before) == {"usr/bin/sshfs": f"-> ../..{shipped}"}
    assert (fake_root.path / "usr/bin/sshfs").resolve() == (fake_root.path / shipped.lstrip("/"))


def test_not_needed(fake_root: FakeRoot, tmp_path: Path) -> None:
    config = client_config(tmp_path, "[clients]\n")
    assert apply_plugin(Sshfs, fake_root, config) is None  # nothing shipped
    fake_root.write(f"/etc/ltsp/bin/sshfs-{os.uname().machine}", "#!/bin/sh\n", 0o755)
    fake_root.write("/usr/bin/sshfs", "the image's own\n", 0o755)
    assert apply_plugin(Sshfs, fake_root, config) is None
