"""What systemd-sysusers would create, read in Python, against the real tool's --dry-run.

The roots are real packages' sysusers.d files (systemd, dbus, polkitd) with
base-passwd's master passwd and group files as the image's /etc/passwd and
/etc/group (what its postinst installs).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from goldentree import FakeRoot, apply_plugin, client_config

from ltsp_client.pluginkit.sysusers import pending
from ltsp_client.plugins.services import Services

CREATING = re.compile(r"Creating (user|group) '([^']+)'")
SYSUSERS_UNIT = "etc/systemd/system/systemd-sysusers.service"


def tool_pending(root: Path) -> set[str]:
    """What `systemd-sysusers --root ROOT --dry-run` says it would create."""
    if shutil.which("systemd-sysusers") is None:
        pytest.fail("systemd-sysusers is missing: apt-get install systemd")
    done = subprocess.run(
        ["systemd-sysusers", f"--root={root}", "--dry-run"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {f"{m[1]} {m[2]}" for m in CREATING.finditer(done.stdout + done.stderr)}


@pytest.fixture
def image(debroot: Callable[..., Path]) -> FakeRoot:
    root = FakeRoot(debroot("systemd", "dbus", "polkitd", "base-passwd"))
    master = root.path / "usr/share/base-passwd"
    root.write("/etc/passwd", (master / "passwd.master").read_text())
    root.write("/etc/group", (master / "group.master").read_text())
    return root


def add(root: FakeRoot, path: str, lines: list[str]) -> None:
    root.write(path, (root.path / path.lstrip("/")).read_text() + "".join(lines))


def test_same_answer_as_systemd_sysusers(image: FakeRoot) -> None:
    """Before the packages' postinsts ran: both name the same users and groups."""
    ours = set(pending(image.path))
    assert ours == tool_pending(image.path)
    assert {"user polkitd", "group polkitd", "group systemd-journal"} <= ours


def test_nothing_pending_once_the_postinsts_ran(image: FakeRoot, tmp_path: Path) -> None:
    names = sorted({p.split()[1] for p in pending(image.path)})
    add(image, "/etc/group", [f"{n}:x:{900 + i}:\n" for i, n in enumerate(names)])
    users = [n for n in names if f"user {n}" in pending(image.path)]
    add(
        image,
        "/etc/passwd",
        [f"{n}:x:{900 + names.index(n)}:{900 + names.index(n)}::/:/x\n" for n in users],
    )
    assert pending(image.path) == []
    assert tool_pending(image.path) == set()
    before = image.tree()
    apply_plugin(Services, image, client_config(tmp_path, "[clients]\n"))
    assert image.changes_since(before)[SYSUSERS_UNIT] == "-> /dev/null"


def test_a_pending_user_membership_or_unknown_line_keeps_the_unit(
    image: FakeRoot, tmp_path: Path
) -> None:
    before = image.tree()
    apply_plugin(Services, image, client_config(tmp_path, "[clients]\n"))
    assert SYSUSERS_UNIT not in image.changes_since(before)  # polkitd etc. missing
    image.write("/etc/sysusers.d/a.conf", "m daemon audio\n")
    assert "daemon in group audio" in pending(image.path)
    image.write("/etc/sysusers.d/a.conf", "u %m-user - -\n")
    assert any("cannot judge" in p for p in pending(image.path))
    image.link("/etc/sysusers.d/polkitd.conf", "/dev/null")  # masks the package's file
    assert not any("polkitd" in p for p in pending(image.path))


def test_keep_wins(image: FakeRoot, tmp_path: Path) -> None:
    for conf in (image.path / "usr/lib/sysusers.d").iterdir():
        image.write(f"/etc/sysusers.d/{conf.name}", "")  # overrides each package's file
    image.write("/etc/sysusers.d/basic.conf", "g adm 4 -\nu root 0 - /root\n")
    assert pending(image.path) == []
    before = image.tree()
    keep = client_config(tmp_path, "[clients]\nKEEP_SYSTEM_SERVICES=systemd-sysusers\n")
    apply_plugin(Services, image, keep)
    assert SYSUSERS_UNIT not in image.changes_since(before)
