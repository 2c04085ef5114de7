"""The lab network: a network namespace with a bridge, one tap per client and an optional router.

Layout (all inside namespaces created here, so no packet reaches the host's networks):

    netns NAME:      br0 192.168.67.1/24 + fd67::1/64, tap0..tapN-1 (QEMU clients),
                     veth-b (only with router=True); default route via the router
    netns NAME-r:    veth-r 192.168.67.254/24 (a "foreign" DHCP server lives here)

The namespace name carries the creating PID (``ltl-<pid>-<n>``) so that a later
run can tell leftovers of a killed run from a namespace still in use.
Everything started through `spawn()` or registered with `track_pidfile()` /
`on_teardown()` is stopped by PID when the `with` block ends, also on
exceptions, Ctrl-C and (with `install_sigterm_handler()`) SIGTERM.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO

from lab import PREFIX_LEN, ROUTER_IP, SERVER_IP, SERVER_IP6, LabError
from ltsp_client.errors import CommandError
from ltsp_client.run import run

log = logging.getLogger(__name__)
_counter = itertools.count()
BRIDGE = "br0"


def _ip(*args: str, check: bool = True) -> None:
    try:
        run(["ip", *args], timeout=20, check=check)
    except CommandError as exc:
        raise LabError(str(exc), hint="the lab needs root and iproute2") from exc


def pid_alive(pid: int) -> bool:
    """True while pid runs; a zombie has exited (an orphan waits for pid 1 to reap it, which
    can take seconds in a container) and counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :][:1] != "Z"


def kill_pid(pid: int, *, wait: float = 3.0) -> None:
    """SIGTERM, wait up to `wait` seconds, then SIGKILL; a process already gone is fine."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        if not pid_alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def read_pidfile(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def install_sigterm_handler() -> None:
    """Make SIGTERM/SIGHUP unwind like Ctrl-C, so `with LabNetwork()` tears down."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupt)


def list_netns() -> list[str]:
    result = run(["ip", "netns", "list"], timeout=20, check=False)
    return [line.split()[0] for line in result.stdout.splitlines() if line.strip()]


def cleanup_stale(prefix: str) -> list[str]:
    """Delete `<prefix>-<pid>-*` namespaces whose creating process is gone; return their names."""
    removed = []
    for name in list_netns():
        parts = name.split("-")
        if len(parts) < 3 or parts[0] != prefix or not parts[1].isdigit():
            continue
        if pid_alive(int(parts[1])):
            continue
        pids = run(["ip", "netns", "pids", name], timeout=20, check=False).stdout.split()
        for pid in pids:
            if pid.isdigit():
                kill_pid(int(pid), wait=1.0)
        run(["ip", "netns", "del", name], timeout=20, check=False)
        removed.append(name)
    return removed


class LabNetwork:
    """A namespace with br0, `clients` taps and optionally a router namespace. Use as a context."""

    server_ip = SERVER_IP
    server_ip6 = SERVER_IP6
    router_ip = ROUTER_IP
    bridge = BRIDGE

    def __init__(self, prefix: str = "ltl", clients: int = 1, router: bool = False) -> None:
        self.prefix = prefix
        self.clients = clients
        self.router = router
        self.name = f"{prefix}-{os.getpid()}-{next(_counter)}"
        self.router_name = f"{self.name}-r"
        self._procs: list[subprocess.Popen[bytes]] = []
        self._pidfiles: list[Path] = []
        self._teardown: list[Callable[[], None]] = []
        self._up = False

    # --- naming -------------------------------------------------------------------------------
    def tap(self, i: int) -> str:
        if not 0 <= i < self.clients:
            raise LabError(f"no tap {i}: this lab network has {self.clients} client(s)")
        return f"tap{i}"

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        """argv run inside the lab namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def router_exec_argv(self, argv: Sequence[str]) -> list[str]:
        if not self.router:
            raise LabError("this lab network has no router namespace (router=False)")
        return ["ip", "netns", "exec", self.router_name, *argv]

    # --- lifecycle ----------------------------------------------------------------------------
    def up(self) -> LabNetwork:
        cleanup_stale(self.prefix)
        ns = self.name
        _ip("netns", "add", ns)
        self._up = True
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip(
            "-n",
            ns,
            "link",
            "add",
            BRIDGE,
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
        )
        _ip("-n", ns, "addr", "add", f"{SERVER_IP}/{PREFIX_LEN}", "dev", BRIDGE)
        _ip("-n", ns, "addr", "add", f"{SERVER_IP6}/64", "dev", BRIDGE, "nodad")
        _ip("-n", ns, "link", "set", BRIDGE, "up")
        for i in range(self.clients):
            tap = self.tap(i)
            _ip("-n", ns, "tuntap", "add", "dev", tap, "mode", "tap")
            _ip("-n", ns, "link", "set", tap, "master", BRIDGE)
            _ip("-n", ns, "link", "set", tap, "up")
        if self.router:
            r = self.router_name
            _ip("netns", "add", r)
            _ip("-n", r, "link", "set", "lo", "up")
            _ip(
                "link",
                "add",
                "veth-r",
                "netns",
                r,
                "type",
                "veth",
                "peer",
                "name",
                "veth-b",
                "netns",
                ns,
            )
            _ip("-n", ns, "link", "set", "veth-b", "master", BRIDGE)
            _ip("-n", ns, "link", "set", "veth-b", "up")
            _ip("-n", r, "addr", "add", f"{ROUTER_IP}/{PREFIX_LEN}", "dev", "veth-r")
            _ip("-n", r, "link", "set", "veth-r", "up")
            # upstream's server tools want a route; it leads into our own router namespace
            _ip("-n", ns, "route", "add", "default", "via", ROUTER_IP)
        log.info("lab network %s up (%d tap(s), router=%s)", ns, self.clients, self.router)
        return self

    def down(self) -> None:
        """Stop everything we started (newest first), then delete the namespaces."""
        while self._teardown:
            fn = self._teardown.pop()
            try:
                fn()
            except Exception as exc:  # teardown must go on
                log.warning("teardown step failed: %s", exc)
        while self._procs:
            proc = self._procs.pop()
            if proc.poll() is None:
                kill_pid(proc.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=1)
        while self._pidfiles:
            daemon = read_pidfile(self._pidfiles.pop())
            if daemon is not None:
                kill_pid(daemon)
        if self._up:
            for ns in (self.router_name, self.name):
                words = run(["ip", "netns", "pids", ns], timeout=20, check=False).stdout.split()
                for word in words:
                    if word.isdigit():
                        log.warning("killing leftover pid %s in %s", word, ns)
                        kill_pid(int(word), wait=1.0)
                run(["ip", "netns", "del", ns], timeout=20, check=False)
            self._up = False

    def __enter__(self) -> LabNetwork:
        try:
            return self.up()
        except BaseException:
            self.down()
            raise

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.down()

    # --- processes ----------------------------------------------------------------------------
    def spawn(
        self,
        argv: Sequence[str],
        *,
        log_path: Path,
        router: bool = False,
        stdin: int | IO[bytes] | None = subprocess.DEVNULL,
    ) -> subprocess.Popen[bytes]:
        """Start argv inside the namespace (stdout+stderr to log_path); stopped at teardown."""
        full = self.router_exec_argv(argv) if router else self.exec_argv(argv)
        with log_path.open("ab") as out:
            try:
                proc = subprocess.Popen(
                    full, stdin=stdin, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
            except OSError as exc:
                raise LabError(f"cannot start {argv[0]}: {exc}") from exc
        self._procs.append(proc)
        return proc

    def track(self, proc: subprocess.Popen[bytes]) -> None:
        """Stop this process at teardown (for processes started elsewhere, e.g. QEMU)."""
        self._procs.append(proc)

    def untrack(self, proc: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ValueError):
            self._procs.remove(proc)

    def track_pidfile(self, path: Path) -> None:
        """Kill the PID written in `path` at teardown (daemons that fork)."""
        self._pidfiles.append(path)

    def on_teardown(self, fn: Callable[[], None]) -> None:
        """Call fn at teardown, before processes are killed (newest first)."""
        self._teardown.append(fn)

    def run_in(self, argv: Sequence[str], *, timeout: float = 30, check: bool = True) -> str:
        """Run a short command inside the namespace and return its stdout."""
        return run(self.exec_argv(argv), timeout=timeout, check=check).stdout
