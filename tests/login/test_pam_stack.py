"""The real PAM stack: Debian's pam-auth-update installs our profile, pamtester logs in.

Everything runs in a private mount namespace where the client's /etc/pam.d,
/usr/share/pam-configs, debconf database, passwd/group/shadow and /etc/ltsp
are bind-mounted copies: the host's PAM and accounts are never touched. The
server is the real sshd of the other login tests (tests/login/sshserver.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sshserver
from sshserver import ALICE

from ltsp_client.login.settings import LoginSettings
from ltsp_client.plugins.pam import profile

REPO = Path(__file__).resolve().parents[2]
LOCAL = sshserver.TestUser("localann", "l0cal pw", 41800)
SERVICE = "auth required pam_env.so\n@include common-auth\n@include common-session\n"


@pytest.fixture
def client(server: sshserver.SshServer) -> Iterator[Path]:
    sshserver.need("pamtester", "pam-auth-update", "unshare")
    # homes outside pytest's 0700 temp dirs, and not a mount point (else: no SSHFS)
    top = Path(tempfile.mkdtemp(prefix="ltsp-pam-test-", dir="/var/tmp"))
    top.chmod(0o755)  # the user of the unlock test runs ./ltsp
    homes = top / "home"
    homes.mkdir()
    shutil.copytree("/etc/pam.d", top / "pam.d", symlinks=True)
    shutil.copytree("/usr/share/pam-configs", top / "pam-configs", symlinks=True)
    shutil.copytree("/var/cache/debconf", top / "debconf", symlinks=True)
    (top / "pam.d/ltsp-test").write_text(SERVICE)
    # pam_unix waits 2 s after every failed authentication; the tests assert results, not delays
    unix = top / "pam-configs/unix"
    unix.write_text(unix.read_text().replace("pam_unix.so nullok", "pam_unix.so nullok nodelay"))
    command = top / "ltsp"
    command.write_text(f'#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -m ltsp_client "$@"\n')
    command.chmod(0o755)
    (top / "pam-configs/ltsp").write_text(profile("Primary", f"{command} login"))
    etc_ltsp = top / "etc-ltsp"
    etc_ltsp.mkdir()
    (etc_ltsp / "ssh_known_hosts").write_text(server.known_hosts_line + "\n")
    (etc_ltsp / "login.json").write_text(
        LoginSettings(ssh_server="127.0.0.1", ssh_options=("-p", str(server.port))).to_json()
    )
    users = (ALICE, LOCAL)
    (top / "passwd").write_text(
        Path("/etc/passwd").read_text() + "".join(u.passwd_line(homes / u.name) for u in users)
    )
    (top / "group").write_text(
        Path("/etc/group").read_text() + "".join(f"{u.name}:x:{u.uid}:\n" for u in users)
    )
    (top / "shadow").write_text(
        Path("/etc/shadow").read_text()
        + "alice:pamltsp:::::::\n"
        + f"localann:{sshserver.password_hash(LOCAL.password)}:19000:0:99999:7:::\n"
    )
    (top / "shadow").chmod(0o640)
    yield top
    shutil.rmtree(top, ignore_errors=True)


def in_client(top: Path, script: str) -> subprocess.CompletedProcess[str]:
    """Run `script` (sh) with the client's files bind-mounted over the host's."""
    binds = {
        "pam.d": "/etc/pam.d",
        "pam-configs": "/usr/share/pam-configs",
        "debconf": "/var/cache/debconf",
        "etc-ltsp": "/etc/ltsp",
        "passwd": "/etc/passwd",
        "group": "/etc/group",
        "shadow": "/etc/shadow",
    }
    # the only host change: empty /etc/ltsp and /run/ltsp as mount points when missing
    Path("/etc/ltsp").mkdir(exist_ok=True)
    Path("/run/ltsp").mkdir(exist_ok=True)
    setup = "".join(f"mount --bind {top / src} {dst} && " for src, dst in binds.items())
    setup += "mount -t tmpfs ltsp-test /run/ltsp && "  # the login's cache stays in here
    full = (
        f"set -e; {setup}DEBIAN_FRONTEND=noninteractive pam-auth-update --package --enable ltsp\n"
    )
    return subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", full + script],
        capture_output=True, text=True, timeout=120, check=False,
        env={"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")},
    )  # fmt: skip


def login_script(user: str, password: str, home: Path) -> str:
    """pamtester authenticates and opens a session; report the result and the mount."""
    return (
        "set +e\n"
        f"printf '%s\\n' '{password}' | pamtester ltsp-test {user} authenticate open_session\n"
        'echo "RESULT=$?"\n'
        f"grep -c ' {home} fuse.sshfs ' /proc/self/mounts | sed 's/^/MOUNTS=/'\n"
        f"fusermount3 -u {home} 2>/dev/null; true\n"
    )


def results(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    values = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    assert "RESULT" in values, done.stdout + done.stderr
    return values


def test_common_auth_gets_our_line_after_pam_unix(client: Path) -> None:
    done = in_client(client, "cat /etc/pam.d/common-auth /etc/pam.d/common-session\n")
    assert done.returncode == 0, done.stderr
    lines = [line.split() for line in done.stdout.splitlines() if line.startswith("auth")]
    unix = next(i for i, words in enumerate(lines) if "pam_unix.so" in words)
    assert lines[unix][1] == "[success=2"  # jumps over our line on success
    assert lines[unix + 1][1:3] == ["[success=1", "default=ignore]"]
    assert "expose_authtok" in lines[unix + 1] and lines[unix + 1][-1] == "login"
    assert any("pam_exec.so" in line and "expose_authtok" not in line
               for line in done.stdout.splitlines() if line.startswith("session"))  # fmt: skip


def test_server_user_logs_in_and_gets_the_sshfs_home(client: Path) -> None:
    home = client / "home/alice"
    values = results(in_client(client, login_script("alice", ALICE.password, home)))
    assert (values["RESULT"], values["MOUNTS"]) == ("0", "1")


def test_wrong_password_is_a_pam_failure_and_mounts_nothing(client: Path) -> None:
    home = client / "home/alice"
    values = results(in_client(client, login_script("alice", "wrong", home)))
    assert values["RESULT"] != "0" and values["MOUNTS"] == "0"
    assert not home.exists()


def test_local_user_logs_in_while_the_server_is_down(client: Path) -> None:
    settings = LoginSettings(ssh_server="127.0.0.1", ssh_options=("-p", str(sshserver.free_port())))
    (client / "etc-ltsp/login.json").write_text(settings.to_json())
    local = results(in_client(client, login_script("localann", LOCAL.password, client / "x")))
    assert local["RESULT"] == "0"
    server_user = in_client(client, login_script("alice", ALICE.password, client / "home/alice"))
    assert results(server_user)["RESULT"] != "0"
    assert "Cannot reach the login server 127.0.0.1" in server_user.stdout + server_user.stderr


def test_screen_unlock_as_the_user(client: Path) -> None:
    """A screen locker runs the stack as the user: shadow comes from the login's cache,
    the password is checked over SSH, nothing is mounted or locked."""
    home = client / "home/alice"
    # the user's process runs Debian's python (the test's may live under /root, 0700)
    command = client / "ltsp"
    command.write_text(f'#!/bin/sh\nPYTHONPATH={REPO} exec /usr/bin/python3 -m ltsp_client "$@"\n')
    user = f"setpriv --reuid={ALICE.uid} --regid={ALICE.uid} --clear-groups"
    script = (
        "set +e\n"
        f"printf '%s\\n' '{ALICE.password}' | pamtester ltsp-test alice authenticate\n"
        f"printf '%s\\n' '{ALICE.password}' | pamtester ltsp-test alice authenticate\n"
        f"printf '%s\\n' '{ALICE.password}' | {user} pamtester ltsp-test alice authenticate\n"
        'echo "UNLOCK=$?"\n'
        f"printf '%s\\n' 'wrong' | {user} pamtester ltsp-test alice authenticate\n"
        'echo "WRONG=$?"\n'
        "echo RESULT=0\n"
        f"grep -c ' {home} fuse.sshfs ' /proc/self/mounts | sed 's/^/MOUNTS=/'\n"
        f"fusermount3 -u {home} 2>/dev/null; true\n"
    )
    done = in_client(client, script)
    values = results(done)
    assert values["UNLOCK"] == "0", done.stdout + done.stderr
    assert values["WRONG"] != "0" and values["MOUNTS"] == "1", done.stdout + done.stderr
