"""`ltsp remoteapps`: wrappers, the user's key in authorized_keys, the ssh command."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ltsp_client.errors import LtspError
from ltsp_client.login.remoteapps import ensure_key, register, ssh_argv
from ltsp_client.run import run


def test_register_writes_wrappers(tmp_path: Path) -> None:
    (path,) = register(tmp_path, ["firefox"])
    assert path == tmp_path / "usr/local/bin/firefox"
    assert path.stat().st_mode & 0o777 == 0o755
    assert path.read_text() == '#!/bin/sh\nexec /usr/lib/ltsp/ltsp remoteapps firefox "$@"\n'
    done = subprocess.run(["sh", "-n", str(path)], check=False)
    assert done.returncode == 0
    with pytest.raises(LtspError, match="not a command name"):
        register(tmp_path, ["../../etc/passwd"])


def test_key_is_created_once_and_authorized(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    pub = ensure_key(home, run)
    assert pub == home / ".ssh/id_ed25519.pub"
    authorized = (home / ".ssh/authorized_keys").read_text()
    assert authorized == pub.read_text().strip() + "\n"
    assert (home / ".ssh/authorized_keys").stat().st_mode & 0o777 == 0o600
    ensure_key(home, run)
    assert (home / ".ssh/authorized_keys").read_text() == authorized, "not added twice"


def test_existing_key_is_added(tmp_path: Path) -> None:
    ssh = tmp_path / ".ssh"
    ssh.mkdir()
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(ssh / "a")], check=True
    )
    (ssh / "authorized_keys").write_text("ssh-ed25519 AAAA other\n")
    assert ensure_key(tmp_path, run) == ssh / "a.pub"
    assert not (ssh / "id_ed25519").exists()
    assert (ssh / "authorized_keys").read_text().splitlines()[1] == (
        ssh / "a.pub"
    ).read_text().strip()


def test_ssh_command() -> None:
    argv = ssh_argv("server", "/etc/ltsp/ssh_known_hosts", "gimp", ["a b.png"])
    assert argv[1:] == [
        "-X",
        "-oUserKnownHostsFile=/etc/ltsp/ssh_known_hosts",
        "server",
        "gimp",
        "a b.png",
    ]
