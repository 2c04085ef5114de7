"""Server users on a netbooted client (issue 9): accounts from ltsp.img, SSH logins, SSHFS homes.

One boot of lab/userlab.py's client serves every test, in this order (the
last one stops the server's sshd). Users log in for real: a getty and
`login` on the client's serial ports ttyS2/ttyS3 (the image's PAM stack with
our pam-auth-update profile, pam_systemd, logind), and LightDM's autologin.
The root shell on ttyS1 looks at logind, the mounts and the journal:

- (a) a server user logs in with the server password: a logind session, the
  home mounted over SSHFS, a file written on the client is on the server;
  after logout the home is unmounted;
- a wrong password: "Login incorrect", nothing mounted, no session;
- (b) LightDM with AUTOLOGIN boots into the autologin user's X session
  (logind shows it), whose home is mounted with PASSWORDS_x's password;
- two sessions of one user: one mount, kept after the first logout,
  unmounted after the second;
- sshfs killed mid-session: the user is told on their terminal, and the next
  login mounts the home again;
- the server down: the user is told, the journal says why, nothing is
  mounted; a client-only (local) user still logs in and is left alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from lab import SERVER_IP
from lab.guestshell import GuestShell, LoginRefusedError
from lab.userlab import ALICE, KIOSK, UserLab, sshfs_mounts, user_lab

pytestmark = pytest.mark.qemu(timeout=1800)

LOCAL_USER, LOCAL_PASSWORD = "localpupil", "local pw 3"


@pytest.fixture(scope="module")
def lab() -> Iterator[UserLab]:
    with user_lab() as booted:
        yield booted


def journal(shell: GuestShell) -> str:
    return shell.text("journalctl -b --no-pager -t ltsp-login")


def eventually(check: Callable[[], bool], seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(1)
    return True


def sessions(shell: GuestShell, user: str) -> dict[str, str]:
    """The user's logind sessions: id -> `loginctl show-session` of the interesting properties."""
    listing = shell.text("loginctl list-sessions --no-legend")
    ids = [line.split()[0] for line in listing.splitlines() if line.split()[2:3] == [user]]
    props = "-p Name -p Service -p Type -p Class -p State -p TTY -p Remote"
    return {i: shell.text(f"loginctl show-session {i} {props}") for i in ids}


def test_server_user_console_login(lab: UserLab) -> None:
    """(a) alice logs in on ttyS2 with the server password, writes a file, logs out."""
    home = lab.homes / ALICE.name
    with lab.shell() as root:
        merged = root.text(f"getent passwd {ALICE.name}; getent shadow {ALICE.name}")
        assert f"{ALICE.name}:x:{ALICE.uid}:{ALICE.uid}" in merged, merged
        assert f"{ALICE.name}:pamltsp:" in merged, merged
        user = lab.login(root, ALICE.name, ALICE.password, "ttyS2")
        try:
            found = sessions(root, ALICE.name)
            assert len(found) == 1, root.text("loginctl list-sessions") + journal(root)
            (shown,) = found.values()
            for prop in ("Name=alice", "Service=login", "Type=tty", "TTY=ttyS2", "State=active"):
                assert prop in shown, shown
            assert sshfs_mounts(root, home) == 1, journal(root)
            assert user.text("id -u; pwd").split() == [str(ALICE.uid), str(home)]
            user.run("echo written on the client > ~/written-on-client")
            written = home / "written-on-client"
            assert written.read_text() == "written on the client\n"
            assert written.stat().st_uid == ALICE.uid
        finally:
            user.logout()
        assert eventually(lambda: not sessions(root, ALICE.name)), root.text("loginctl")
        assert eventually(lambda: sshfs_mounts(root, home) == 0), journal(root)
        unmounted = f"{ALICE.name}: last session ended; {home} unmounted"
        assert eventually(lambda: unmounted in journal(root), 30), journal(root)
        assert f"{ALICE.name}: home mounted over SSHFS from {SERVER_IP}" in journal(root)


def test_wrong_password(lab: UserLab) -> None:
    with lab.shell() as root:
        with pytest.raises(LoginRefusedError) as refused:
            lab.login(root, ALICE.name, "not the password", "ttyS2")
        assert "Login incorrect" in refused.value.console
        assert sshfs_mounts(root, lab.homes / ALICE.name) == 0
        assert not sessions(root, ALICE.name)
        assert f"{ALICE.name}: {SERVER_IP} rejected the password" in journal(root)


def test_lightdm_autologin_session(lab: UserLab) -> None:
    """(b) LightDM logs KIOSK in by itself (AUTOLOGIN + PASSWORDS_x): an X session in logind."""
    with lab.shell() as root:

        def state() -> str:
            return "".join(sessions(root, KIOSK.name).values())

        assert eventually(lambda: "State=active" in state() or "State=online" in state(), 180), (
            root.text("loginctl list-sessions; systemctl status lightdm --no-pager -l; "
                      "tail -n 40 /var/log/lightdm/lightdm.log /var/log/Xorg.0.log")
        )  # fmt: skip
        shown = state()
        for prop in ("Name=kiosk", "Service=lightdm-autologin", "Type=x11", "Class=user"):
            assert prop in shown, shown
        assert sshfs_mounts(root, lab.homes / KIOSK.name) == 1, journal(root)
        # the X session runs as kiosk and writes into its home, on the server
        errors = lab.homes / KIOSK.name / ".xsession-errors"
        assert eventually(errors.exists, 30), root.text("ls -la ~kiosk")
        assert errors.stat().st_uid == KIOSK.uid


def test_two_sessions_one_mount(lab: UserLab) -> None:
    home = lab.homes / ALICE.name
    with lab.shell() as root:
        first = lab.login(root, ALICE.name, ALICE.password, "ttyS2")
        second = lab.login(root, ALICE.name, ALICE.password, "ttyS3")
        try:
            assert len(sessions(root, ALICE.name)) == 2
            assert sshfs_mounts(root, home) == 1
            assert "home already mounted (another session)" in journal(root)
            closed = f"{ALICE.name}: session closed; the home keeper unmounts after the last one"
            before = journal(root).count(closed)
            first.logout()
            assert eventually(lambda: len(sessions(root, ALICE.name)) == 1, 30)
            assert eventually(lambda: journal(root).count(closed) > before), journal(root)
            time.sleep(5)  # the home keeper would have acted by now
            assert sshfs_mounts(root, home) == 1, journal(root)
            assert second.text("cat ~/written-on-client") == "written on the client\n"
        finally:
            first.close()
            second.logout()
        assert eventually(lambda: sshfs_mounts(root, home) == 0), journal(root)


def test_sshfs_dies_mid_session(lab: UserLab) -> None:
    """kill -9 sshfs: the user's terminal shows the message; the next login mounts the home."""
    home = lab.homes / ALICE.name
    keeper = "ltsp-login-home-alice.service"
    with lab.shell() as root:
        user = lab.login(root, ALICE.name, ALICE.password, "ttyS2")
        try:
            keeping = eventually(
                lambda: root.text(f"systemctl is-active {keeper}") == "active\n", 30
            )
            assert keeping, journal(root) + root.text(f"journalctl -b --no-pager -u {keeper}")
            assert "alice: home keeper started" in journal(root), journal(root)
            root.run(f"pkill -KILL -f 'sshfs .* {home}$'")
            user.expect(rb"no longer reachable", 60)
            assert eventually(lambda: "died mid-session" in journal(root), 30), journal(root)
            assert "told the user on ttyS2" in journal(root).replace("/dev/", ""), journal(root)
        finally:
            user.logout()
        assert eventually(lambda: not sessions(root, ALICE.name)), root.text("loginctl")
        # the next login works: the home mounted anew, the file written before is there
        user = lab.login(root, ALICE.name, ALICE.password, "ttyS2")
        try:
            assert sshfs_mounts(root, home) == 1, journal(root)
            assert user.text("cat ~/written-on-client") == "written on the client\n"
        finally:
            user.logout()
        assert eventually(lambda: sshfs_mounts(root, home) == 0), journal(root)


def test_server_down_local_user_still_logs_in(lab: UserLab) -> None:
    """sshd stopped: alice is told and refused; a client-only user logs in, left alone."""
    lab.sshd.stop()
    with lab.shell() as root:
        with pytest.raises(LoginRefusedError) as refused:
            lab.login(root, ALICE.name, ALICE.password, "ttyS2")
        assert f"Cannot reach the login server {SERVER_IP}" in refused.value.console
        assert f"{ALICE.name}: cannot reach the LTSP server {SERVER_IP}" in journal(root)
        assert sshfs_mounts(root, lab.homes / ALICE.name) == 0
        assert not sessions(root, ALICE.name)
        # a user that exists only on the client
        root.run(
            f"useradd -m -s /bin/sh {LOCAL_USER} && echo '{LOCAL_USER}:{LOCAL_PASSWORD}' | chpasswd"
        )
        shadow = root.text(f"getent shadow {LOCAL_USER}")
        user = lab.login(root, LOCAL_USER, LOCAL_PASSWORD, "ttyS3")
        try:
            assert user.text("pwd").strip() == f"/home/{LOCAL_USER}"
            assert "fuse" not in root.text(f"stat -f -c %T /home/{LOCAL_USER}")
            (shown,) = sessions(root, LOCAL_USER).values()
            assert "TTY=ttyS3" in shown and "State=active" in shown, shown
        finally:
            user.logout()
        assert root.text(f"getent shadow {LOCAL_USER}") == shadow
        assert f"{LOCAL_USER}:" not in journal(root)
