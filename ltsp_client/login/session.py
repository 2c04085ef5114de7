"""`ltsp session COMMAND...`: one desktop session per user across the clients (upstream's).

With a shared (SSHFS/NFS) home, two clients running one user's desktop
corrupt its settings. Each session leaves a file in ~/.config/ltsp/session/;
a new session asks whether to go on (zenity, when there is a display), then
deletes the other files: those sessions see their file gone and end, killing
the user's processes on their client.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from ltsp_client.appcontext import Context
from ltsp_client.errors import LtspError
from ltsp_client.run import Runner, run

SESSIONS = ".config/ltsp/session"
POLL = 1.0  # upstream checks once a second too; the file may be on SSHFS (no inotify there)


def describe(files: Sequence[Path]) -> str:
    lines = []
    for path in files:
        values = dict(
            line.split("=", 1)
            for line in path.read_text(errors="replace").splitlines()
            if "=" in line
        )
        lines.append(f"On {values.get('HOSTNAME', '?')} since {path.name}")
    return "\n".join(lines)


def ask(runner: Runner, text: str) -> bool:
    """Yes/No in a dialog; without zenity or a display, yes (as without a GUI upstream)."""
    zenity = shutil.which("zenity")
    if not zenity or not os.environ.get("DISPLAY"):
        return True
    result = runner(
        [zenity, "--question", "--title=You are already logged in!", f"--text={text}"],
        timeout=3600,
        check=False,
    )
    return result.ok


def start_session(home: Path, hostname: str, now: datetime) -> Path:
    """Remove the other sessions' files (that ends them) and write ours."""
    config = home / ".config"
    config.mkdir(mode=0o700, exist_ok=True)
    directory = home / SESSIONS
    directory.mkdir(parents=True, exist_ok=True)
    for other in directory.iterdir():
        other.unlink(missing_ok=True)
    ours = directory / now.strftime("%Y%m%d-%H%M%S")
    ours.write_text(
        f"HOSTNAME={hostname}\nIP_ADDRESS={os.environ.get('IP_ADDRESS', '')}\n"
        f"MAC_ADDRESS={os.environ.get('MAC_ADDRESS', '')}\n"
    )
    return ours


def follow(pid: int, ours: Path) -> None:
    """Until the command exits or another session removes our file."""
    while ours.exists():
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        time.sleep(POLL)


def main(ctx: Context, args: list[str]) -> int:
    if not args or args[0] in ("-h", "--help"):
        print("Usage: ltsp session COMMAND [ARGS...]  (wraps a desktop session)")
        return 0 if args else 1
    home = Path.home()
    others = sorted((home / SESSIONS).glob("*")) if (home / SESSIONS).is_dir() else []
    text = (
        "Multiple simultaneous logins are not supported; the other sessions will be logged "
        f"out if you continue:\n{describe(others)}\nContinue?"
    )
    if others and not ask(run, text):
        return 0
    ours = start_session(home, socket.gethostname(), datetime.now())
    try:
        pid = os.posix_spawnp(args[0], args, dict(os.environ))
    except OSError as err:
        ours.unlink(missing_ok=True)
        raise LtspError(f"cannot start {args[0]}: {err}") from None
    try:
        follow(pid, ours)
    finally:
        ours.unlink(missing_ok=True)
        run(["pkill", "-u", str(os.getuid())], timeout=10, check=False)
    return 0
