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
from lab.userlab import ALICE, sshfs_mounts

LOCAL = "local user (pam_unix)"
SERVER = "server user (SSH + SSHFS)"
NOOP = "`ltsp login` with nothing to do"
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


def time_logins(
    shell: GuestShell, home: Path, *, rounds: int, steps: bool = False
) -> dict[str, list[float]]:
    """Seconds per login of each kind, `rounds` each, alternating (and per step)."""
    shell.run(
        f"id {LOCAL_USER} >/dev/null 2>&1 || useradd -m {LOCAL_USER}; "
        f"echo '{LOCAL_USER}:{LOCAL_PASSWORD}' | chpasswd"
    )
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
