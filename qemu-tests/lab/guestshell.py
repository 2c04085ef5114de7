"""Commands in a booted lab client, through its root shell on ttyS1 (a unix socket).

Lab images log root in on ttyS1 (lab.image); `boot_client(..., keep=True)` keeps
the client running after its report. Each command's output travels base64
encoded between two markers the shell computes (`$((N+0))`), so the echo of
the command line itself never matches them and the tty cannot mangle bytes.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import signal
import socket
import time
from pathlib import Path

from lab import LabError


class LoginRefusedError(LabError):
    """A getty's login said "Login incorrect"; `console` is what the terminal showed."""

    def __init__(self, message: str, console: str) -> None:
        super().__init__(message)
        self.console = console


class GuestShell:
    """A root shell on a client's ttyS1 socket; use as a context manager."""

    def __init__(
        self, sock_path: Path, *, timeout: float = 60, login: tuple[str, str] | None = None
    ) -> None:
        """Connect; with `login=(user, password)`, log in at a getty's prompt first (raises
        LoginRefusedError when login says "Login incorrect")."""
        deadline = time.monotonic() + timeout
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        while True:
            try:
                self._sock.connect(str(sock_path))
                break
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise LabError(f"cannot connect to {sock_path}: {exc}") from exc
                time.sleep(0.5)
        self.path = sock_path
        self._count = 0
        self._buf = b""
        self.console = ""  # what the login conversation showed (with `login=`)
        self.password_sent = 0.0  # time.monotonic() when `login=`'s password went out
        try:
            if login is not None:
                self._login(*login, timeout=timeout)
            self.run("stty -echo 2>/dev/null; true", timeout=timeout)
        except BaseException:
            self.close()  # QEMU serves one connection at a time: free the port
            raise

    def __enter__(self) -> GuestShell:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._sock.close()

    def expect(
        self,
        pattern: bytes | re.Pattern[bytes],
        timeout: float,
        poke: bytes = b"",
        *,
        what: str = "",
    ) -> re.Match[bytes]:
        """Read until `pattern` shows; send `poke` every 3 s meanwhile (wakes a getty up)."""
        regex = re.compile(pattern)
        deadline = next_poke = time.monotonic()
        deadline += timeout
        self._sock.settimeout(0.5)
        while (found := regex.search(self._buf)) is None:
            now = time.monotonic()
            if now > deadline:
                tail = self._buf[-400:].decode(errors="replace")
                wanted = what or repr(regex.pattern)
                raise LabError(f"{self.path}: waited {timeout:g} s for {wanted}: ...{tail}")
            if poke and now >= next_poke:
                self._sock.sendall(poke)
                next_poke = now + 3
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                raise LabError(f"{self.path}: the guest closed the connection")
            self._buf += chunk
        return found

    def _login(self, user: str, password: str, *, timeout: float) -> None:
        """A real login at a getty: user name, password, then a shell prompt or a refusal."""
        self._buf = b""
        self._buf = self._buf[self.expect(rb"login: $", timeout, poke=b"\r").end() :]
        self._sock.sendall(user.encode() + b"\r")
        self.expect(rb"Password: ", timeout)
        self.password_sent = time.monotonic()
        self._sock.sendall(password.encode() + b"\r")
        found = self.expect(rb"Login incorrect|\$ $", timeout)
        self.console = self._buf[: found.end()].decode(errors="replace")
        self._buf = self._buf[found.end() :]
        if found.group(0) != b"$ ":
            raise LoginRefusedError(
                f"{self.path}: {user} was refused: {self.console}", self.console
            )

    def logout(self) -> None:
        """Leave a login shell (its PAM session closes) and close the connection."""
        self._sock.sendall(b"\nexit\n")
        self.close()

    def run(self, command: str, *, timeout: float = 60) -> bytes:
        """Run `command` (sh syntax) and return its stdout+stderr; its exit status is ignored."""
        self._count += 1
        n = self._count
        line = (
            f"echo; echo @@B$(({n}+0))@@; ( {command} ) 2>&1 | base64 -w0; "
            f"echo; echo @@E$(({n}+0))@@\n"
        )
        self._sock.sendall(b"\n" + line.encode())
        pattern = re.compile(rb"@@B%d@@\r?\n(.*?)\r?\n@@E%d@@" % (n, n), re.S)
        found = self.expect(pattern, timeout, what=f"an answer to {command!r}")
        self._buf = self._buf[found.end() :]
        return base64.b64decode(re.sub(rb"\s+", b"", found.group(1)))

    def text(self, command: str, *, timeout: float = 60) -> str:
        return self.run(command, timeout=timeout).decode(errors="replace")

    def poweroff(self, *, timeout: float = 30) -> None:
        """Power the client off at once and wait for its QEMU to exit (killed after `timeout`),
        so that the next client can have the tap."""
        self._sock.sendall(b"\necho o > /proc/sysrq-trigger\n")
        self.close()
        deadline = time.monotonic() + timeout
        while pids := qemu_pids(self.path):
            if time.monotonic() > deadline:
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)


def qemu_pids(sock_path: Path) -> list[int]:
    """The QEMU processes whose serial port is `sock_path` (the client this shell is on)."""
    found = []
    needle = f"unix:{sock_path},".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline and b"qemu-system" in cmdline:
            found.append(int(proc.name))
    return found
