"""A user's SSHFS home: its sshfs and ssh processes, and telling the user it died.

The home keeper (keeper.py) waits for the sshfs process found here to exit.
Killed, sshfs leaves a dead mount ("Transport endpoint is not connected"),
which stays so programs get errors instead of writing into the client's
RAM; on a lost connection sshfs unmounts the home itself. Either way the
user is told on every terminal of their sessions (and by a desktop
notification where `notify-send` exists). The next login mounts the home
again (pam.py).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ltsp_client.run import Runner

if TYPE_CHECKING:
    from ltsp_client.login.logind import Terminal

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


def tell(
    runner: Runner, root: Path, user: str, uid: int, message: str, *, terminals: list[Terminal]
) -> list[str]:
    """Show `message` on the user's session terminals (logind's); return where it was shown."""
    shown = []
    graphical = False
    for terminal in terminals:
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
