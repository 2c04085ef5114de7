"""Watch a user's SSHFS home for the session's lifetime: tell the user when sshfs dies.

Run as the transient service `ltsp-login-watch-<user>.service`, started at
`open_session`. It waits on a pidfd for the sshfs process to exit (no
polling). An sshfs that exits after the user's last session (the unmount
service unmounted the home) is a normal logout. Otherwise the home died
mid-session: killed, sshfs leaves a dead mount ("Transport endpoint is not
connected"), which stays so programs get errors instead of writing into
the client's RAM; on a lost connection sshfs unmounts the home itself. Either
way the user is told on every terminal of their sessions (and by a desktop
notification where `notify-send` exists). The next login mounts the home
again (pam.py); the unmount service removes it after the last session.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import shutil
from collections.abc import Iterator
from pathlib import Path

from ltsp_client.login import homes
from ltsp_client.run import Runner

log = logging.getLogger("ltsp-login")

MESSAGE = (
    "Your home folder on the login server is no longer reachable (the SSHFS mount died). "
    "Files you save now are lost: log out and log in again."
)


def _processes(proc: Path) -> Iterator[tuple[Path, list[bytes]]]:
    """Each running process's /proc entry and argv (those that exit meanwhile skipped)."""
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            yield entry, (entry / "cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        except OSError:
            continue  # exited meanwhile


def sshfs_pid(home: Path, proc: Path = Path("/proc")) -> int | None:
    """The sshfs process serving `home` (its last argument is the mount point)."""
    for entry, argv in _processes(proc):
        if os.path.basename(argv[0]) == b"sshfs" and argv[-1] == os.fsencode(home):
            return int(entry.name)
    return None


def sftp_ssh(sshfs: int, user: str, proc: Path = Path("/proc")) -> list[int]:
    """The ssh that sshfs talks to. sshfs starts it before it daemonizes, so it is not
    sshfs's child: it is the `ssh ... USER@host ... sftp` in sshfs's cgroup."""
    try:
        cgroup = (proc / str(sshfs) / "cgroup").read_bytes()
    except OSError:
        return []
    login = user.encode() + b"@"
    found = []
    for entry, argv in _processes(proc):
        ssh = os.path.basename(argv[0]) == b"ssh" and b"sftp" in argv
        if not ssh or not any(arg.startswith(login) for arg in argv):
            continue
        try:
            same = (entry / "cgroup").read_bytes() == cgroup
        except OSError:
            continue  # exited meanwhile
        if same:
            found.append(int(entry.name))
    return found


def wait_exit(pid: int) -> None:
    """Block until the process exits (a pidfd turns readable); at once if it is gone."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        select.select([fd], [], [])
    finally:
        os.close(fd)


def tell(runner: Runner, root: Path, user: str, uid: int, message: str) -> list[str]:
    """Show `message` on the user's session terminals; return where it was shown."""
    from ltsp_client.login import logind  # D-Bus only here

    shown = []
    graphical = False
    for terminal in logind.terminals(uid):
        graphical = graphical or bool(terminal.display)
        if terminal.tty:
            device = root / "dev" / terminal.tty.removeprefix("/dev/")
            with contextlib.suppress(OSError):
                fd = os.open(device, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
                with os.fdopen(fd, "w") as stream:
                    stream.write(f"\r\n\a*** {message} ***\r\n")
                shown.append(terminal.tty)
    if graphical and shutil.which("notify-send") and shutil.which("runuser"):
        bus = f"unix:path=/run/user/{uid}/bus"
        argv = ["runuser", "-u", user, "--", "env", f"DBUS_SESSION_BUS_ADDRESS={bus}"]
        argv += ["notify-send", "--urgency=critical", "Home folder lost", message]
        if runner(argv, timeout=10, check=False).ok:
            shown.append("desktop notification")
    return shown


def watch(runner: Runner, root: Path, user: str, uid: int, home: Path) -> int:
    """Wait for the home's sshfs to exit; if the user still has a session, tell them."""
    from ltsp_client.login import logind

    pid = sshfs_pid(home)
    if pid is not None:
        wait_exit(pid)
    elif homes.mount_type(home) == homes.SSHFS and not homes.is_stale(home):
        log.warning("%s: no sshfs process found for %s; not watching it", user, home)
        return 0
    stale = homes.mount_type(home) == homes.SSHFS
    if not stale and logind.session_count(uid) == 0:
        return 0  # the unmount after the last session: sshfs exits after it
    shown = tell(runner, root, user, uid, MESSAGE)
    log.error(
        "%s: the SSHFS home %s died mid-session (%s); told the user on %s; "
        "the next login mounts it again",
        user, home, "sshfs killed, mount dead" if stale else "connection lost, sshfs unmounted",
        ", ".join(shown) or "no terminal",
    )  # fmt: skip
    return 0
