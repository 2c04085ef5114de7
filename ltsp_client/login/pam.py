"""`ltsp login`: run by pam_exec (expose_authtok) for server users, as upstream's pamltsp.

    auth     check the typed password by SSH to the server; mount the home over
             SSHFS (unless /home is NFS or local); guests pass without SSH
    open_session   guests get an empty tmpfs home; users with a stored
             password (autologin, PASSWORDS_x) get their SSHFS home here; the
             user's home keeper (keeper.py) starts, or is woken: it tells the
             user if the home's sshfs dies, and unmounts the home once the
             user's last logind session has ended
    close_session  nothing to do (the keeper unmounts); only a session
             that logind does not know starts or wakes the keeper here

Exit 0 is success; anything else makes pam_exec fail, which the PAM stack
turns into a normal login failure (Primary) or ignores (Additional).
Everything is logged to the journal as `ltsp-login`.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import logging
import os
import shutil
import sys
import syslog
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from ltsp_client.appcontext import Context
from ltsp_client.errors import LtspError
from ltsp_client.login import homes, keeper
from ltsp_client.login.account import CACHE_DIR, Account, Kind, lookup
from ltsp_client.login.settings import SETTINGS, LoginSettings, load
from ltsp_client.login.ssh import (
    Attempt,
    Outcome,
    Server,
    authenticate,
    ensure_askpass,
    mount_sshfs,
)
from ltsp_client.run import Runner, run

log = logging.getLogger("ltsp-login")
# not __doc__: the frozen binary is built with optimize=2 (no docstrings)
DESCRIPTION = "authenticate server users over SSH and mount their homes (run by pam_exec)"


@dataclass(frozen=True)
class Login:
    """One PAM call: where (root), with which settings, and the command runner."""

    root: Path
    settings: LoginSettings
    runner: Runner

    def home(self, account: Account) -> Path:
        return self.root / account.user.home.lstrip("/")

    def server(self) -> Server:
        known = str(self.root / self.settings.known_hosts.lstrip("/"))
        return Server(self.settings.ssh_server, known, self.settings.ssh_options)

    def state(self, name: str, what: str) -> Path:
        """One of the user's state files (lock, keeper, pending) in the root-only run dir."""
        return self.root / CACHE_DIR.lstrip("/") / f"{name}.{what}"

    def use_sshfs(self, home: Path) -> bool:
        return (
            self.settings.sshfs
            and not self.settings.nfs_home
            and shutil.which("sshfs") is not None
            and not homes.home_provided(home)
        )

    @contextlib.contextmanager
    def locked(self, name: str) -> Iterator[None]:
        """One login or unmount of a user at a time (two logins must not both mount).

        Not as a user (a screen locker): that only checks the password, mounts nothing.
        """
        if os.geteuid() != 0:
            yield
            return
        lock_path = self.state(name, "lock")
        lock_path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        with lock_path.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield


def auth(login: Login, account: Account, typed: str) -> int:
    if account.kind is Kind.LOCAL:
        return 0 if login.settings.auth_type == "Additional" else 1
    if account.kind is Kind.GUEST:
        log.info("%s: guest, no password and no SSH", account.name)
        return 0
    password = account.stored or typed
    home = login.home(account)
    with login.locked(account.name):
        if login.use_sshfs(home):
            attempt = _mount(login, account, password, home)
            if attempt.ok and os.geteuid() == 0:  # the keeper keeps the home for this login
                keeper.mark_pending(login.state(account.name, "pending"))
        else:
            attempt = _check(login, account, password)
            if attempt.ok and login.settings.mkhomedir:
                _mkhomedir(login, account, home)
    return _report(login, account, attempt)


def _check(login: Login, account: Account, password: str) -> Attempt:
    askpass = ensure_askpass(login.root)
    return authenticate(login.runner, login.server(), account.name, password, askpass=askpass)


def _mount(login: Login, account: Account, password: str, home: Path) -> Attempt:
    """Mount the home over SSHFS (that authenticates too); if already mounted, only check."""
    if homes.mount_type(home) == homes.SSHFS:
        if not homes.is_stale(home):
            log.info(
                "%s: home already mounted (another session); checking the password", account.name
            )
            return _check(login, account, password)
        log.warning("%s: the SSHFS home was dead (sshfs killed?); mounting it again", account.name)
        homes.unmount(login.runner, home)
    created = (
        homes.make_home(home, account.user.uid, account.user.gid)
        if login.settings.mkhomedir
        else False
    )
    fuse3 = shutil.which("fusermount3") is not None
    attempt = mount_sshfs(login.runner, login.server(), account.name, password, home, fuse3=fuse3)
    if attempt.ok:
        log.info("%s: home mounted over SSHFS from %s", account.name, login.settings.ssh_server)
        return attempt
    if created:
        homes.remove_if_empty(home)
    # sshfs says only "read: Connection reset by peer"; ssh tells why.
    why = _check(login, account, password)
    if why.ok:
        return Attempt(Outcome.FAILED, f"sshfs could not mount the home: {attempt.message}")
    return why


def _mkhomedir(login: Login, account: Account, home: Path) -> None:
    """pam_mkhomedir's job for NFS/local homes: a missing home gets /etc/skel."""
    if homes.make_home(home, account.user.uid, account.user.gid):
        skel = login.root / "etc/skel"
        if skel.is_dir():
            shutil.copytree(skel, home, symlinks=True, dirs_exist_ok=True)
        for path in [home, *home.rglob("*")]:
            os.lchown(path, account.user.uid, account.user.gid)


def _report(login: Login, account: Account, attempt: Attempt) -> int:
    server = login.settings.ssh_server
    if attempt.ok:
        log.info("%s: authenticated by %s", account.name, server)
        return 0
    if attempt.outcome is Outcome.WRONG_PASSWORD:
        log.warning("%s: %s rejected the password", account.name, server)
    elif attempt.outcome is Outcome.UNREACHABLE:
        log.error("%s: cannot reach the LTSP server %s: %s", account.name, server, attempt.message)
        print(f"Cannot reach the login server {server}; only local accounts can log in now.")
    elif attempt.outcome is Outcome.HOST_KEY:
        log.error(
            "%s: the host key of %s is not the one in %s (run `ltsp initrd` on the server): %s",
            account.name, server, login.settings.known_hosts, attempt.message,
        )  # fmt: skip
        print(f"The login server {server} is not the expected one; ask the administrator.")
    else:
        log.error("%s: login through %s failed: %s", account.name, server, attempt.message)
        print(f"Login through {server} failed: {attempt.message}")
    return 1


def open_session(login: Login, account: Account) -> int:
    home = login.home(account)
    if account.kind is Kind.GUEST and not homes.home_provided(home):
        with login.locked(account.name):
            homes.mount_guest_home(home, account.user.uid, account.user.gid)
        log.info("%s: guest session with an empty tmpfs home", account.name)
    elif account.kind is Kind.STORED and login.use_sshfs(home):
        with login.locked(account.name):
            if homes.mount_type(home) != homes.SSHFS or homes.is_stale(home):
                status = _report(login, account, _mount(login, account, account.stored, home))
                if status != 0:
                    return status
    kind = homes.mount_type(home)
    if account.kind is Kind.LOCAL or kind not in (homes.SSHFS, homes.TMPFS):
        return 0
    try:
        if kind == homes.SSHFS:
            _own_scope(account, home)
        with login.locked(account.name):
            login.state(account.name, "pending").unlink(missing_ok=True)
            if _logind_session():
                _keep_home(login, account, home)
    except (LtspError, OSError) as err:  # the session works without it
        log.warning("%s: cannot start the home keeper: %s", account.name, err)
    return 0


def _logind_session() -> bool:
    """pam_systemd registered this session with logind (it sets XDG_SESSION_ID in the PAM
    environment, which pam_exec passes on); not when the caller is in a session already."""
    return bool(os.environ.get("XDG_SESSION_ID"))


def unit_name(user: str, job: str = "home", kind: str = "service") -> str:
    """A systemd unit name for one of the user's units (systemd-escape style)."""
    safe = "".join(c if c.isalnum() or c in "_." else f"\\x{ord(c):02x}" for c in user)
    return f"ltsp-login-{job}-{safe}.{kind}"


def _own_scope(account: Account, home: Path) -> None:
    """Move the home's sshfs and its ssh into a scope of their own, out of the unit of the
    program that logged in: a getty's service ends at logout, and systemd kills what is
    left in it, though another session may still use the home."""
    from ltsp_client.login import sysbus, watch

    pid = watch.sshfs_pid(home)
    if pid is not None:
        scope = unit_name(account.name, "sshfs", "scope")
        pids = [pid, *watch.sftp_ssh(pid, account.name)]
        sysbus.start_transient_scope(scope, pids, f"ltsp: sshfs of {home}")


def own_command() -> list[str]:
    """How to run this program again (the frozen binary, or the Python package)."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "ltsp_client"]


def _keep_home(login: Login, account: Account, home: Path) -> None:
    """Under the lock: start the user's home keeper, or wake the running one."""
    from ltsp_client.login import sysbus  # D-Bus only here: not on the auth path

    name = account.name
    argv = keeper.command(own_command(), login.root, name)
    description = f"ltsp: keep {home} while {name} has a session"

    def start() -> bool:
        return sysbus.start_transient_service(unit_name(name), argv, description)

    done = keeper.start_or_wake(login.state(name, "keeper"), start)
    log.info("%s: home keeper %s", name, done)


def close_session(login: Login, account: Account) -> int:
    home = login.home(account)
    if account.kind is Kind.LOCAL or homes.mount_type(home) not in (homes.SSHFS, homes.TMPFS):
        return 0
    if not _logind_session():
        # logind does not know this session (no pam_systemd, or `su` inside another
        # session): the keeper unmounts once the user has no logind session, at once if none
        try:
            with login.locked(account.name):
                _keep_home(login, account, home)
        except (LtspError, OSError) as err:
            log.warning("%s: cannot start the home keeper: %s", account.name, err)
    log.info("%s: session closed; the home keeper unmounts after the last one", account.name)
    return 0


def _read_authtok() -> str:
    """The password pam_exec writes to stdin (expose_authtok), without its NUL/newline."""
    if sys.stdin is None or sys.stdin.isatty():
        return ""
    return sys.stdin.read().split("\0", 1)[0].rstrip("\n")


class _Syslog(logging.Handler):
    """To the journal as `ltsp-login` through libc's syslog(3): logging.handlers (with
    socket and selectors) cost every PAM step about 28 M instructions to import."""

    PRIORITIES = ((logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))

    def __init__(self) -> None:
        super().__init__()
        syslog.openlog("ltsp-login", syslog.LOG_PID)

    def emit(self, record: logging.LogRecord) -> None:
        level = next((p for lv, p in self.PRIORITIES if record.levelno >= lv), syslog.LOG_DEBUG)
        try:
            syslog.syslog(level, self.format(record))
        except Exception:  # as logging's own handlers: a log line never fails the login
            self.handleError(record)


def _setup_logging() -> None:
    log.setLevel(logging.INFO)
    if os.path.exists("/dev/log"):
        handler: logging.Handler = _Syslog()
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("ltsp login: %(message)s"))
    log.addHandler(handler)


def main(ctx: Context, args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ltsp login", description=DESCRIPTION)
    parser.add_argument("--root", type=Path, default=Path("/"), help=argparse.SUPPRESS)
    parser.add_argument(keeper.OPTION, metavar="USER", help="(the home keeper service)")
    options = parser.parse_args(args)
    _setup_logging()
    root: Path = options.root
    settings = load(root / SETTINGS.lstrip("/"))
    # SSHFS=0 and MKHOMEDIR=0 come from the PAM environment, as upstream
    settings = replace(
        settings,
        sshfs=settings.sshfs and os.environ.get("SSHFS") != "0",
        mkhomedir=settings.mkhomedir and os.environ.get("MKHOMEDIR") != "0",
    )
    login = Login(root, settings, run)
    name = options.keep_home or os.environ.get("PAM_USER", "")
    if not name:
        raise LtspError("no PAM_USER", hint="ltsp login is run by pam_exec; see docs/users.md")
    account = lookup(root, name)
    if account is None:
        log.warning("%s: no such user on this client", name)
        return 1
    if options.keep_home:
        state, pending = login.state(name, "keeper"), login.state(name, "pending")
        return keeper.keep(login, account, state, pending)
    pam_type = os.environ.get("PAM_TYPE", "")
    if pam_type == "auth":
        return auth(login, account, _read_authtok())
    if pam_type == "open_session":
        return open_session(login, account)
    if pam_type == "close_session":
        return close_session(login, account)
    return 0
