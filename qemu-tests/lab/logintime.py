"""Login times in a booted user-lab client: a server user (SSH + SSHFS) against a local user.

Each login is `pamtester login USER authenticate open_session close_session`
through the image's real PAM stack, timed inside the client (`date +%s%N`
around it, so the serial shell's round trips do not count). A local user
goes through pam_unix (our session line runs too, and does nothing for
them); a server user's login checks the password over SSH, mounts the home
over SSHFS and moves sshfs into a scope. pamtester runs in the lab's root
session, so pam_systemd makes no logind session for these logins: the home
keeper starts at close_session instead of open_session (pam.py), and unmounts
the home at once (no session), so every round is a first login. NOOP is one start of our binary,
which a local login pays twice (open and close).

`time_getty_logins` times whole logins through real logind sessions instead:
a getty and `login` on a serial port (UserLab.login), from sending the
password to a usable shell (its prompt, then one command echoed back:
GuestShell's `stty`), timed on the host. Both kinds of user pay the same
serial round trips. Between logins the user logs out and the next one waits
until logind has dropped the user (user@.service stopped, UserStopDelaySec)
and, for the server user, the home is unmounted: every server login is a
first one, whose keeper starts in the background beside the session start.

With `steps`, each round also times each PAM step of each login apart
(three pamtester runs: `authenticate`, `open_session`, `close_session`; the
root session's pamtester makes no logind session, so nothing ties them):
where a server login's extra time goes.
"""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path

from lab import LabError
from lab.guestshell import GuestShell
from lab.userlab import ALICE, LOGIN_PORTS, UserLab, sshfs_mounts

LOCAL = "local user (pam_unix)"
SERVER = "server user (SSH + SSHFS)"
NOOP = "`ltsp login` with nothing to do"
GETTY_LOCAL = "getty login, local user"
GETTY_SERVER = "getty login, server user"
STEPS = ("authenticate", "open_session", "close_session")
LOCAL_USER, LOCAL_PASSWORD = "localpupil", "local pw 3"


def _timed(shell: GuestShell, command: str, what: str, *, timeout: float = 60) -> float:
    """Seconds `command` took, timed inside the client; LabError unless it exits 0."""
    out = shell.run(
        f"s=$(date +%s%N); {command}; r=$?; e=$(date +%s%N); echo RESULT=$r NS=$((e-s))",
        timeout=timeout,
    ).decode(errors="replace")
    found = re.search(r"RESULT=(\d+) NS=(\d+)", out)
    if not found or found.group(1) != "0":
        raise LabError(f"{what} failed: {out}")
    return int(found.group(2)) / 1e9


def _timed_login(
    shell: GuestShell, user: str, password: str, operations: str = " ".join(STEPS)
) -> float:
    encoded = base64.b64encode(f"{password}\n".encode()).decode()
    shell.run(f"echo {encoded} | base64 -d > /run/lab-pw")
    try:
        login = f"pamtester login {user} {operations} < /run/lab-pw"
        return _timed(shell, login, f"the timed login of {user} ({operations})", timeout=120)
    finally:
        shell.run("rm -f /run/lab-pw")


def _timed_noop(shell: GuestShell) -> float:
    """One start of our binary as the session line runs it for a local user (it does nothing)."""
    noop = f"PAM_TYPE=open_session PAM_USER={LOCAL_USER} /usr/lib/ltsp/ltsp login"
    return _timed(shell, noop, "ltsp login for a local user")


def _wait_unmounted(shell: GuestShell, home: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while sshfs_mounts(shell, home):
        if time.monotonic() > deadline:
            raise LabError(f"{home} still mounted {timeout:g} s after the session closed")
        time.sleep(0.5)


def _add_local_user(shell: GuestShell) -> None:
    shell.run(
        f"id {LOCAL_USER} >/dev/null 2>&1 || useradd -m -s /bin/sh {LOCAL_USER}; "
        f"echo '{LOCAL_USER}:{LOCAL_PASSWORD}' | chpasswd"
    )


def _wait_logged_out(shell: GuestShell, user: str, timeout: float = 90) -> None:
    """Until logind has dropped `user` (their user@.service stops UserStopDelaySec after
    the last session), so that the next login starts from the same state."""
    deadline = time.monotonic() + timeout
    while "RESULT=0" in shell.text(f"loginctl show-user {user} >/dev/null 2>&1; echo RESULT=$?"):
        if time.monotonic() > deadline:
            raise LabError(f"logind still has {user} {timeout:g} s after the logout")
        time.sleep(0.5)


def time_getty_logins(lab: UserLab, root: GuestShell, *, rounds: int) -> dict[str, list[float]]:
    """Seconds from the password sent at a getty to a usable shell, each kind `rounds`
    times, alternating; `root` is the lab's root shell."""
    _add_local_user(root)
    home = lab.homes / ALICE.name
    _wait_logged_out(root, ALICE.name)
    _wait_unmounted(root, home)
    times: dict[str, list[float]] = {GETTY_LOCAL: [], GETTY_SERVER: []}
    for _ in range(rounds):
        for label, user, password in (
            (GETTY_LOCAL, LOCAL_USER, LOCAL_PASSWORD),
            (GETTY_SERVER, ALICE.name, ALICE.password),
        ):
            session = lab.login(root, user, password, LOGIN_PORTS[0])
            times[label].append(time.monotonic() - session.password_sent)
            session.logout()
            _wait_logged_out(root, user)
            _wait_unmounted(root, home)
    return times


def time_logins(
    shell: GuestShell, home: Path, *, rounds: int, steps: bool = False
) -> dict[str, list[float]]:
    """Seconds per login of each kind, `rounds` each, alternating (and per step)."""
    _add_local_user(shell)
    _wait_unmounted(shell, home)
    times: dict[str, list[float]] = {LOCAL: [], SERVER: [], NOOP: []}
    for _ in range(rounds):
        times[NOOP].append(_timed_noop(shell))
        times[LOCAL].append(_timed_login(shell, LOCAL_USER, LOCAL_PASSWORD))
        times[SERVER].append(_timed_login(shell, ALICE.name, ALICE.password))
        _wait_unmounted(shell, home)
        if not steps:
            continue
        for label, user, password in (
            (LOCAL, LOCAL_USER, LOCAL_PASSWORD),
            (SERVER, ALICE.name, ALICE.password),
        ):
            for operations in STEPS:
                row = f"{label.split(' (')[0]}: {operations}"
                took = _timed_login(shell, user, password, operations)
                times.setdefault(row, []).append(took)
        _wait_unmounted(shell, home)
    return times
