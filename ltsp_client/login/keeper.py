"""The home keeper: one transient service per user whose home we mounted (SSHFS, a guest's tmpfs).

`open_session` starts `ltsp-login-home-<user>.service` (pam.py), or, when it
runs already, wakes it with SIGHUP to look at the home again (a new sshfs
after a dead one). The keeper, for as long as the user has a logind session:

- waits on a pidfd for the home's sshfs to exit (no polling); if it exits
  while the user still has a session, the home died: the user is told on
  their terminals (watch.py) and the journal says so;
- follows logind's SessionRemoved/UserRemoved signals; once the user has no
  session left, it unmounts the home (lazily if busy) and exits.

So `close_session` asks nothing of D-Bus and starts nothing (but a session
logind does not know starts the keeper only at its end). A login that
authenticated (the home mounted or found mounted) but has not opened its
session yet leaves a "pending" mark (auth writes it, open_session removes
it): the keeper keeps the home while the mark is younger than PENDING_FOR.
The keeper's pid is in `/run/ltsp/login/<user>.keeper` ("starting" until it
runs; gone once it is leaving); every change to it, the pending mark and the
unmount happen under the user's login lock.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ltsp_client.errors import LtspError
from ltsp_client.login import homes

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable, Sequence

    from ltsp_client.login.account import Account
    from ltsp_client.login.logind import Logind
    from ltsp_client.login.pam import Login

log = logging.getLogger("ltsp-login")
PENDING_FOR = 60.0  # seconds an authenticated login may take to open its session
STARTING = "starting"
OPTION = "--keep-home"


def mark_pending(pending: Path) -> None:
    pending.touch()


def pending_left(pending: Path) -> float:
    """Seconds a login's pending mark has left (0 when there is none or it is stale)."""
    try:
        age = time.time() - pending.stat().st_mtime
    except FileNotFoundError:
        return 0.0
    return max(0.0, PENDING_FOR - age)


def _running_pid(state: Path) -> int | None:
    """The running keeper's pid; 0 while it starts; None when there is none."""
    try:
        text = state.read_text().strip()
        age = time.time() - state.stat().st_mtime
    except FileNotFoundError:
        return None
    if text == STARTING:
        return 0 if age < PENDING_FOR else None
    try:
        argv = Path(f"/proc/{int(text)}/cmdline").read_bytes().split(b"\0")
    except (ValueError, OSError):
        return None
    return int(text) if OPTION.encode() in argv else None


def start_or_wake(state: Path, start: Callable[[], bool]) -> str:
    """Under the user's lock: wake the running keeper, or `start()` one (False: its unit
    still exists, the previous keeper is leaving: try again). What was done, for the log."""
    pid = _running_pid(state)
    if pid == 0:
        return "starting"  # it looks at the home as it is once it runs
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGHUP)
            return "woken"
    for _ in range(50):
        state.write_text(f"{STARTING}\n")
        if start():
            return "started"
        state.unlink(missing_ok=True)
        time.sleep(0.2)
    raise LtspError("the previous home keeper did not go away in 10 s")


class _Sshfs:
    """The home's sshfs process, watched through a pidfd in the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, pid: int, wake: Callable[[], None]):
        self.loop = loop
        self.exited = False
        self.fd: int | None = None
        try:
            self.fd = os.pidfd_open(pid)
        except ProcessLookupError:
            self.exited = True
            wake()
            return
        self._wake = wake
        loop.add_reader(self.fd, self._on_exit)

    def _on_exit(self) -> None:
        self.close()
        self.exited = True
        self._wake()

    def close(self) -> None:
        if self.fd is not None:
            self.loop.remove_reader(self.fd)
            os.close(self.fd)
            self.fd = None


def _watch(loop: asyncio.AbstractEventLoop, home: Path, wake: Callable[[], None]) -> _Sshfs | None:
    from ltsp_client.login import watch

    if homes.mount_type(home) != homes.SSHFS or homes.is_stale(home):
        return None
    pid = watch.sshfs_pid(home)
    if pid is None:
        log.warning("%s: no sshfs process found; not watching it", home)
        return None
    return _Sshfs(loop, pid, wake)


async def _died(login: Login, account: Account, bus: Logind) -> None:
    """The home's sshfs exited: if the user still has a session, the home died under it."""
    from ltsp_client.login import watch

    home = login.home(account)
    terminals = await bus.terminals(account.user.uid)
    if not terminals:
        return  # no session left: the main loop unmounts
    how = (
        "sshfs killed, mount dead"
        if homes.mount_type(home) == homes.SSHFS
        else "connection lost, sshfs unmounted"
    )
    shown = watch.tell(
        login.runner, login.root, account.name, account.user.uid, watch.MESSAGE,
        terminals=terminals,
    )  # fmt: skip
    log.error(
        "%s: the SSHFS home %s died mid-session (%s); told the user on %s; "
        "the next login mounts it again",
        account.name, home, how, ", ".join(shown) or "no terminal",
    )  # fmt: skip


def _leave(login: Login, account: Account, state: Path) -> None:
    """Under the lock: no keeper any more, and the home unmounted."""
    state.unlink(missing_ok=True)
    home = login.home(account)
    if homes.mount_type(home) in (homes.SSHFS, homes.TMPFS):
        homes.unmount(login.runner, home)
        log.info("%s: last session ended; %s unmounted", account.name, home)


async def _keep(login: Login, account: Account, state: Path, pending: Path) -> int:
    import asyncio

    from ltsp_client.login.logind import Logind

    name, uid, home = account.name, account.user.uid, login.home(account)
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    loop.add_signal_handler(signal.SIGHUP, wake.set)
    sshfs: _Sshfs | None = None
    # subscribed to logind's signals before the first count: no session end is missed
    async with Logind(on_removed=wake.set) as bus:
        with login.locked(name):
            state.write_text(f"{os.getpid()}\n")
        told = False  # about the dead home (once per mount)
        while True:
            wake.clear()
            if sshfs is not None and sshfs.exited:
                sshfs, told = None, True
                await _died(login, account, bus)
            if sshfs is None:
                sshfs = _watch(loop, home, wake.set)
                if sshfs is not None:
                    told = False
                elif not told and homes.mount_type(home) == homes.SSHFS:
                    told = True  # dead before we watched it (we start at Nice=19)
                    await _died(login, account, bus)
            wait: float | None = None
            if await bus.session_count(uid) == 0:
                with login.locked(name):
                    wait = pending_left(pending) or None
                    if wait is None and await bus.session_count(uid) == 0:
                        if sshfs is not None:
                            sshfs.close()
                        _leave(login, account, state)
                        return 0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), wait)


def keep(login: Login, account: Account, state: Path, pending: Path) -> int:
    """The keeper service's main: until the user's last session has ended."""
    import asyncio

    return asyncio.run(_keep(login, account, state, pending))


def command(own: Sequence[str], root: Path, user: str) -> list[str]:
    """The keeper service's command line."""
    at = ["--root", str(root)] if root != Path("/") else []
    return [*own, "login", *at, OPTION, user]
