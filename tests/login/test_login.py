"""`ltsp login` against a real sshd on loopback and real SSHFS mounts.

The client is a temp root (its /etc/passwd and shadow as the accounts plugin
writes them); homes are mounted under it. Needs root, sshd, sshfs and FUSE:
a missing tool FAILS the test (scripts/deps/apt-users.txt).
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fakebus
import pytest
import sshserver
from sshserver import ALICE, BOB, KIOSK

from ltsp_client.login import homes, keeper, pam, watch
from ltsp_client.login.account import lookup
from ltsp_client.login.settings import LoginSettings
from ltsp_client.run import Result, run

REPO = Path(__file__).resolve().parents[2]


class Recorder:
    """The real runner, keeping the argv of every command (to assert what did NOT run)."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, ...]] = []

    def __call__(self, argv: Sequence[str], **kwargs: object) -> Result:
        self.commands.append(tuple(argv))
        return run(argv, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def client(tmp_path: Path, server: sshserver.SshServer) -> Iterator[Path]:
    root = tmp_path / "client"
    (root / "etc/ltsp").mkdir(parents=True)
    (root / "home").mkdir()
    stored = base64.b64encode(KIOSK.password.encode()).decode()
    (root / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n"
        + "".join(u.passwd_line(Path("/home") / u.name) for u in (ALICE, BOB, KIOSK))
        + "guest01:x:41600:41600::/home/guest01:/bin/sh\n"
        "localbob:x:41700:41700::/home/localbob:/bin/sh\n"
    )
    (root / "etc/shadow").write_text(
        "root:!:::::::\nalice:pamltsp:::::::\nbob:pamltsp:::::::\n"
        f"kiosk:pamltsp={stored}:::::::\nguest01:pamltsp=:::::::\n"
        "localbob:$y$j9T$abc$def:19000:0:99999:7:::\n"
    )
    (root / "etc/ltsp/ssh_known_hosts").write_text(server.known_hosts_line + "\n")
    yield root
    for mount in sorted(
        (line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()),
        reverse=True,
    ):
        if mount.startswith(str(root)):
            subprocess.run(["umount", "-l", mount], check=False)


def login(root: Path, port: int, recorder: Recorder | None = None) -> pam.Login:
    settings = LoginSettings(ssh_server="127.0.0.1", ssh_options=("-p", str(port)))
    return pam.Login(root, settings, recorder or Recorder())


def sshfs_mounts(path: Path) -> int:
    return [line.split()[1:3] for line in Path("/proc/mounts").read_text().splitlines()].count(
        [str(path), "fuse.sshfs"]
    )


def account(root: Path, name: str) -> pam.Account:
    found = lookup(root, name)
    assert found is not None
    return found


def test_right_password_mounts_home_once(client: Path, server: sshserver.SshServer) -> None:
    recorder = Recorder()
    lg = login(client, server.port, recorder)
    home = client / "home/alice"
    assert pam.auth(lg, account(client, "alice"), ALICE.password) == 0
    assert sshfs_mounts(home) == 1
    (home / "written-on-client").write_text("hello")
    assert (server.homes / "alice/written-on-client").read_text() == "hello"
    # a second session of the same user: password checked again, no second mount
    assert pam.auth(lg, account(client, "alice"), ALICE.password) == 0
    assert sshfs_mounts(home) == 1
    assert pam.auth(lg, account(client, "alice"), "not it") == 1
    assert sshfs_mounts(home) == 1
    # the password never reaches a command line
    assert recorder.commands
    assert not any(ALICE.password in word for argv in recorder.commands for word in argv)


def test_wrong_password_mounts_nothing(
    client: Path, server: sshserver.SshServer, caplog: pytest.LogCaptureFixture
) -> None:
    assert pam.auth(login(client, server.port), account(client, "bob"), "wrong") == 1
    assert sshfs_mounts(client / "home/bob") == 0
    assert not (client / "home/bob").exists()  # no empty local home to log into
    assert "rejected the password" in caplog.text


def test_server_down(
    client: Path, server: sshserver.SshServer, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder = Recorder()
    lg = login(client, sshserver.free_port(), recorder)
    assert pam.auth(lg, account(client, "alice"), ALICE.password) == 1
    assert "Cannot reach the login server 127.0.0.1" in capsys.readouterr().out
    assert sshfs_mounts(client / "home/alice") == 0
    # a local account is pam_unix's: no SSH tried, PAM ignores our answer
    recorder.commands.clear()
    assert pam.auth(lg, account(client, "localbob"), "x") == 1
    assert recorder.commands == []


def test_client_only_user_untouched(client: Path, server: sshserver.SshServer) -> None:
    recorder = Recorder()
    lg = login(client, server.port, recorder)
    before = sorted(p.relative_to(client) for p in client.rglob("*"))
    local = account(client, "localbob")
    assert pam.auth(lg, local, "whatever") == 1
    assert pam.open_session(lg, local) == 0
    assert pam.close_session(lg, local) == 0
    assert recorder.commands == []
    assert sorted(p.relative_to(client) for p in client.rglob("*")) == before


def test_wrong_host_key_is_refused(
    client: Path, server: sshserver.SshServer, capsys: pytest.CaptureFixture[str]
) -> None:
    other = subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(client / "k")], check=True
    )
    assert other.returncode == 0
    key = (client / "k.pub").read_text().split()
    (client / "etc/ltsp/ssh_known_hosts").write_text(
        f"[127.0.0.1]:{server.port} {key[0]} {key[1]}\n"
    )
    assert pam.auth(login(client, server.port), account(client, "alice"), ALICE.password) == 1
    assert "not the expected one" in capsys.readouterr().out
    assert sshfs_mounts(client / "home/alice") == 0


def test_guest_gets_empty_tmpfs_home_without_ssh(client: Path, server: sshserver.SshServer) -> None:
    recorder = Recorder()
    lg = login(client, server.port, recorder)
    guest = account(client, "guest01")
    assert pam.auth(lg, guest, "") == 0
    assert pam.open_session(lg, guest) == 0
    home = client / "home/guest01"
    assert homes.mount_type(home) == "tmpfs"
    assert list(home.iterdir()) == []
    assert (home.stat().st_uid, home.stat().st_mode & 0o777) == (41600, 0o700)
    assert recorder.commands == []


def test_stored_password_mounts_at_session_open(
    client: Path, server: sshserver.SshServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Autologin: no auth step; PASSWORDS_x's password (with `/` and `+`) mounts the home."""
    with fakebus.fake_system_bus(tmp_path) as (address, system):
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        monkeypatch.setenv("XDG_SESSION_ID", "c1")
        lg = login(client, server.port)
        kiosk = account(client, "kiosk")
        assert kiosk.stored == KIOSK.password
        assert pam.open_session(lg, kiosk) == 0
        assert sshfs_mounts(client / "home/kiosk") == 1
        started = dict(system.systemd1.started)
        assert list(started) == [
            "ltsp-login-sshfs-kiosk.scope", "ltsp.slice", "ltsp-login-home-kiosk.service"
        ]  # fmt: skip
        assert dict(started["ltsp-login-home-kiosk.service"])["Slice"] == "ltsp.slice"
        # sshfs leaves the unit of the program that logged in (a getty's ends at logout)
        sshfs = watch.sshfs_pid(client / "home/kiosk")
        assert sshfs is not None
        (ssh,) = watch.sftp_ssh(sshfs, "kiosk")
        assert Path(f"/proc/{ssh}/exe").resolve().name == "ssh"
        assert dict(started["ltsp-login-sshfs-kiosk.scope"])["PIDs"] == [sshfs, ssh]


def kill_sshfs(home: Path) -> None:
    pids = subprocess.run(
        ["pgrep", "-f", f"sshfs .* {home}$"], capture_output=True, text=True, check=False
    ).stdout.split()
    assert pids
    for pid in pids:
        os.kill(int(pid), signal.SIGKILL)


def started_keeper(system: fakebus.FakeSystem) -> list[str]:
    """The command of the home keeper unit started last."""
    (name, properties) = system.systemd1.started[-1]
    assert name.startswith("ltsp-login-home-")
    ((_, argv, _),) = dict(properties)["ExecStart"]
    return list(argv)


@contextlib.contextmanager
def keeper_running(argv: list[str], state: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Run a home keeper command as systemd would (until it has written its pid to
    `state`, if given); killed at the end if it is still running."""
    keeping = subprocess.Popen(argv, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        if state is not None:
            assert eventually(lambda: written(state) == f"{keeping.pid}\n")
        yield keeping
    finally:
        keeping.kill()
        keeping.wait()


def written(path: Path) -> str:
    """A state file's text, or "" while it is not there."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def eventually(check: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_dead_sshfs_is_remounted(client: Path, server: sshserver.SshServer) -> None:
    lg = login(client, server.port)
    home = client / "home/alice"
    assert pam.auth(lg, account(client, "alice"), ALICE.password) == 0
    kill_sshfs(home)
    assert homes.is_stale(home)
    assert pam.auth(lg, account(client, "alice"), ALICE.password) == 0
    assert not homes.is_stale(home) and sshfs_mounts(home) == 1


@dataclass
class Watched:
    """A server user logged in with one session on `tty`, and the home keeper running."""

    login: pam.Login
    system: fakebus.FakeSystem
    tty: Path
    keeper: subprocess.Popen[bytes]


@pytest.fixture
def watched(
    client: Path, server: sshserver.SshServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[sshserver.TestUser, str], contextlib.AbstractContextManager[Watched]]:
    @contextlib.contextmanager
    def start(user: sshserver.TestUser, tty: str, *, dead: bool = False) -> Iterator[Watched]:
        """dead: sshfs is killed before the keeper starts."""
        device = client / "dev" / tty
        device.parent.mkdir(parents=True, exist_ok=True)
        device.write_text("")
        with fakebus.fake_system_bus(tmp_path) as (address, system):
            monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
            monkeypatch.setenv("XDG_SESSION_ID", f"s_{user.name}")
            lg = login(client, server.port)
            assert pam.auth(lg, account(client, user.name), user.password) == 0
            system.add_session(user.uid, f"s_{user.name}", tty=tty)
            assert pam.open_session(lg, account(client, user.name)) == 0
            if dead:
                kill_sshfs(client / "home" / user.name)
            with keeper_running(started_keeper(system), lg.state(user.name, "keeper")) as keeping:
                yield Watched(lg, system, device, keeping)

    return start


def test_dead_sshfs_mid_session_tells_the_user(client: Path, watched: Any) -> None:
    """sshfs exits, the home stays (dead) mounted: the keeper writes to the session's tty;
    the next login mounts the home again and wakes the keeper, which watches the new sshfs."""
    with watched(ALICE, "pts/7") as w:
        home = client / "home/alice"
        kill_sshfs(home)
        assert eventually(lambda: "no longer reachable" in w.tty.read_text())
        assert "home folder on the login server is no longer reachable" in w.tty.read_text()
        w.tty.write_text("")
        # the next login mounts it again; its session start wakes the keeper (no second one)
        assert pam.auth(w.login, account(client, "alice"), ALICE.password) == 0
        assert not homes.is_stale(home) and sshfs_mounts(home) == 1
        w.system.add_session(ALICE.uid, "s_alice2", tty="pts/7")
        assert pam.open_session(w.login, account(client, "alice")) == 0
        assert [n for n, _ in w.system.systemd1.started].count("ltsp-login-home-alice.service") == 1
        time.sleep(1)  # the keeper looks for the new sshfs
        kill_sshfs(home)
        assert eventually(lambda: "no longer reachable" in w.tty.read_text())
        assert w.keeper.poll() is None  # sessions left
        w.system.remove_session(ALICE.uid, "s_alice")
        w.system.remove_session(ALICE.uid, "s_alice2")
        assert w.keeper.wait(10) == 0
        assert sshfs_mounts(home) == 0  # the dead mount too


def test_home_dead_before_the_keeper_started(client: Path, watched: Any) -> None:
    with watched(ALICE, "pts/8", dead=True) as w:
        assert eventually(lambda: "no longer reachable" in w.tty.read_text())
        w.system.remove_session(ALICE.uid, "s_alice")
        assert w.keeper.wait(10) == 0
        assert sshfs_mounts(client / "home/alice") == 0


def test_keeper_unmounts_after_the_last_session_quietly(client: Path, watched: Any) -> None:
    with watched(BOB, "tty3") as w:
        assert pam.close_session(w.login, account(client, "bob")) == 0  # asks nothing of D-Bus
        assert len(w.system.systemd1.started) == 3  # the sshfs scope, the keeper and its slice
        assert w.keeper.poll() is None and sshfs_mounts(client / "home/bob") == 1
        w.system.remove_session(BOB.uid, "s_bob")
        assert w.keeper.wait(10) == 0
        assert sshfs_mounts(client / "home/bob") == 0
        assert w.tty.read_text() == ""
        assert not w.login.state("bob", "keeper").exists()


def test_lost_connection_mid_session_tells_the_user(
    client: Path, server: sshserver.SshServer, watched: Any
) -> None:
    """ssh dies (network gone): sshfs unmounts the home and exits; the session still runs."""
    with watched(BOB, "tty4") as w:
        ssh = subprocess.run(
            ["pgrep", "-f", f"^ssh .*-oPort={server.port} .*bob@127.0.0.1 sftp"],
            capture_output=True, text=True, check=False,
        ).stdout.split()  # fmt: skip
        assert len(ssh) == 1
        os.kill(int(ssh[0]), signal.SIGKILL)
        assert eventually(lambda: "no longer reachable" in w.tty.read_text())
        assert sshfs_mounts(client / "home/bob") == 0
        assert w.keeper.poll() is None
        w.system.remove_session(BOB.uid, "s_bob")
        assert w.keeper.wait(10) == 0


def test_through_the_applet_like_pam_exec(client: Path, server: sshserver.SshServer) -> None:
    """`ltsp login` as pam_exec runs it: PAM_* in the environment, the password on stdin + NUL."""
    (client / "etc/ltsp/login.json").write_text(
        LoginSettings(ssh_server="127.0.0.1", ssh_options=("-p", str(server.port))).to_json()
    )
    env = {**os.environ, "PAM_USER": "bob", "PAM_TYPE": "auth", "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-m", "ltsp_client", "login", "--root", str(client)]
    done = subprocess.run(
        argv, input=BOB.password + "\0", env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert sshfs_mounts(client / "home/bob") == 1
    wrong = subprocess.run(
        argv, input="nope\0", env=env, capture_output=True, text=True, check=False
    )
    assert wrong.returncode == 1


def test_unmount_after_the_last_session(
    client: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two sessions, one home: it stays after the first ends, goes after the second (signals)."""
    with fakebus.fake_system_bus(tmp_path) as (address, system):
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        monkeypatch.setenv("XDG_SESSION_ID", "c1")
        lg = login(client, 1)
        guest = account(client, "guest01")
        system.add_session(41600, "c1")
        assert pam.open_session(lg, guest) == 0
        home = client / "home/guest01"
        assert homes.mount_type(home) == "tmpfs"
        ((_slice, _), (name, properties)) = system.systemd1.started
        assert name == "ltsp-login-home-guest01.service"
        ((path, argv, _),) = dict(properties)["ExecStart"]
        assert argv[0] == path and argv[-4:] == ["--root", str(client), "--keep-home", "guest01"]
        with keeper_running(started_keeper(system), lg.state("guest01", "keeper")) as keeping:
            system.add_session(41600, "c2")
            assert pam.open_session(lg, guest) == 0  # wakes the keeper, starts no other
            assert len(system.systemd1.started) == 2  # the keeper and its slice
            assert pam.close_session(lg, guest) == 0
            system.remove_session(41600, "c1")
            with pytest.raises(subprocess.TimeoutExpired):
                keeping.wait(1)
            assert homes.mount_type(home) == "tmpfs"
            assert pam.close_session(lg, guest) == 0
            system.remove_session(41600, "c2")
            assert keeping.wait(10) == 0
            assert homes.mount_type(home) is None


def test_relogin_while_the_keeper_is_leaving_keeps_the_home(
    client: Path, server: sshserver.SshServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A login authenticated (home mounted) but not yet in logind: the keeper, seeing no
    session, keeps the home while the login's pending mark is fresh; the session start
    clears it and wakes the keeper, which then follows that session."""
    with fakebus.fake_system_bus(tmp_path) as (address, system):
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        monkeypatch.setenv("XDG_SESSION_ID", "s1")
        lg = login(client, server.port)
        home = client / "home/alice"
        assert pam.auth(lg, account(client, "alice"), ALICE.password) == 0
        assert lg.state("alice", "pending").exists()
        # the keeper of an earlier session, which just ended (no session in logind now)
        argv = keeper.command(pam.own_command(), client, "alice")
        with keeper_running(argv, lg.state("alice", "keeper")) as keeping:
            time.sleep(1)
            assert keeping.poll() is None and sshfs_mounts(home) == 1
            system.add_session(ALICE.uid, "s1")
            assert pam.open_session(lg, account(client, "alice")) == 0
            assert not lg.state("alice", "pending").exists()
            assert [n for n, _ in system.systemd1.started] == ["ltsp-login-sshfs-alice.scope"]
            time.sleep(1)
            assert keeping.poll() is None and sshfs_mounts(home) == 1
            system.remove_session(ALICE.uid, "s1")
            assert keeping.wait(10) == 0
            assert sshfs_mounts(home) == 0


def test_a_session_logind_does_not_know_starts_the_keeper_at_its_end(
    client: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No XDG_SESSION_ID (no pam_systemd, or `su` inside another session): no keeper at the
    start (it would unmount at once); at the end the keeper starts and unmounts unless the
    user has a logind session elsewhere."""
    with fakebus.fake_system_bus(tmp_path) as (address, system):
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        monkeypatch.delenv("XDG_SESSION_ID", raising=False)
        lg = login(client, 1)
        guest = account(client, "guest01")
        assert pam.open_session(lg, guest) == 0
        assert system.systemd1.started == []
        home = client / "home/guest01"
        system.add_session(41600, "elsewhere")
        assert pam.close_session(lg, guest) == 0
        with keeper_running(started_keeper(system), lg.state("guest01", "keeper")) as keeping:
            assert homes.mount_type(home) == "tmpfs"  # the session elsewhere keeps it
            system.remove_session(41600, "elsewhere")
            assert keeping.wait(10) == 0
            assert homes.mount_type(home) is None
