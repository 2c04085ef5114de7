"""pluginkit.files: atomic writes with explicit modes, under the root only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from goldentree import FakeRoot

from ltsp_client.errors import LtspError
from ltsp_client.pluginkit import files


def test_write_file_creates_parents_with_the_mode(fake_root: FakeRoot) -> None:
    files.write_file(fake_root.path, "/etc/ltsp/secret", "pw\n", 0o600)
    files.write_file(fake_root.path, "/usr/local/bin/tool", b"#!/bin/sh\n", 0o755)
    assert fake_root.tree() == {
        "etc/ltsp/secret": "[0600] pw\n",
        "usr/local/bin/tool": "[0755] #!/bin/sh\n",
    }
    assert (fake_root.path / "etc/ltsp").stat().st_mode & 0o777 == 0o755


def test_write_file_replaces_atomically(fake_root: FakeRoot) -> None:
    old = fake_root.write("/etc/motd", "old\n", mode=0o600)
    inode = old.stat().st_ino
    reader = old.open()  # a reader of the old file keeps seeing it whole
    files.write_file(fake_root.path, "/etc/motd", "new\n", 0o644)
    assert reader.read() == "old\n"
    reader.close()
    assert fake_root.tree() == {"etc/motd": "new\n"}, "no temp file is left behind"
    assert old.stat().st_ino != inode


def test_write_file_follows_links_inside_the_root(fake_root: FakeRoot, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    fake_root.link("/etc/resolv.conf", "/run/systemd/resolve/stub-resolv.conf")
    fake_root.link("/etc/escape", str(outside / "file"))
    files.write_file(fake_root.path, "/etc/resolv.conf", "nameserver 10.0.0.1\n", 0o644)
    files.write_file(fake_root.path, "/etc/escape", "x\n", 0o644)
    assert fake_root.tree() == {
        "etc/resolv.conf": "-> /run/systemd/resolve/stub-resolv.conf",
        "run/systemd/resolve/stub-resolv.conf": "nameserver 10.0.0.1\n",
        "etc/escape": f"-> {outside / 'file'}",
        str((outside / "file").relative_to("/")): "x\n",
    }
    assert list(outside.iterdir()) == [], "an absolute link never leads out of the root"


def test_relative_and_climbing_paths_are_refused(fake_root: FakeRoot) -> None:
    with pytest.raises(ValueError):
        files.write_file(fake_root.path, "etc/motd", "x", 0o644)
    with pytest.raises(ValueError):
        files.write_file(fake_root.path, "/etc/../../motd", "x", 0o644)
    assert fake_root.tree() == {}


def test_remove_file_removes_a_link_not_its_target(fake_root: FakeRoot) -> None:
    fake_root.write("/usr/share/x/conf", "keep\n")
    fake_root.link("/etc/x.conf", "/usr/share/x/conf")
    assert files.remove_file(fake_root.path, "/etc/x.conf") is True
    assert files.remove_file(fake_root.path, "/etc/x.conf") is False
    assert files.remove_file(fake_root.path, "/no/such/dir/file") is False
    assert fake_root.tree() == {"usr/share/x/conf": "keep\n"}
    assert not (fake_root.path / "no").exists(), "removing creates no directories"


def test_remove_file_refuses_a_directory(fake_root: FakeRoot) -> None:
    (fake_root.path / "etc/cron.d").mkdir(parents=True)
    with pytest.raises(LtspError, match="is a directory"):
        files.remove_file(fake_root.path, "/etc/cron.d")


def test_symlink_replaces_links_but_not_files(fake_root: FakeRoot) -> None:
    fake_root.link("/etc/alternatives/editor", "/usr/bin/vi")
    files.symlink(fake_root.path, "/etc/alternatives/editor", "/usr/bin/nano")
    assert fake_root.tree() == {"etc/alternatives/editor": "-> /usr/bin/nano"}
    fake_root.write("/etc/real", "data\n")
    with pytest.raises(LtspError, match="not a symlink"):
        files.symlink(fake_root.path, "/etc/real", "/dev/null")


def test_add_fstab_line_appends_once(fake_root: FakeRoot) -> None:
    # Debian's debootstrap leaves this fstab.
    fake_root.write("/etc/fstab", "# UNCONFIGURED FSTAB FOR BASE SYSTEM")
    line = "server:/home  /home  nfs  defaults,nolock  0 0"
    assert files.add_fstab_line(fake_root.path, line) is True
    assert (
        files.add_fstab_line(fake_root.path, "server:/home /home nfs defaults,nolock 0 0") is False
    )
    assert fake_root.tree() == {
        "etc/fstab": f"# UNCONFIGURED FSTAB FOR BASE SYSTEM\n{line}\n",
    }


def test_add_fstab_line_creates_the_file_and_checks_the_line(fake_root: FakeRoot) -> None:
    files.add_fstab_line(fake_root.path, "tmpfs /tmp tmpfs defaults 0 0")
    assert fake_root.tree() == {"etc/fstab": "tmpfs /tmp tmpfs defaults 0 0\n"}
    with pytest.raises(LtspError, match="device and a mount point"):
        files.add_fstab_line(fake_root.path, "tmpfs")
    with pytest.raises(ValueError, match="one line"):
        files.add_fstab_line(fake_root.path, "a /a\nb /b")


def test_write_cron(fake_root: FakeRoot) -> None:
    files.write_cron(fake_root.path, "ltsp", ["0 3 * * * root poweroff", "@reboot root true\n"])
    assert fake_root.tree() == {
        "etc/cron.d/ltsp": "# Written by LTSP at boot\n0 3 * * * root poweroff\n@reboot root true\n"
    }
    with pytest.raises(ValueError, match="cron ignores"):
        files.write_cron(fake_root.path, "ltsp.conf", [])


def test_no_temp_files_left_after_a_failed_write(fake_root: FakeRoot) -> None:
    (fake_root.path / "etc").mkdir()
    with pytest.raises(TypeError):
        files.write_file(fake_root.path, "/etc/x", 42, 0o644)  # type: ignore[arg-type]
    assert os.listdir(fake_root.path / "etc") == []
