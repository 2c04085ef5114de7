"""Run a command in the root shell a running lab client has on ttyS1 (a unix socket).

Lab images autologin root on ttyS1; `vm.boot_client(keep=True)` leaves the client
running. The command's end is found by a token printed with its exit status;
the token is split in the typed text so that the terminal's echo never matches.
"""

from __future__ import annotations

import re
import secrets
import socket
import time
from pathlib import Path

from lab import LabError

_ESCAPES = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\r")


def shell(sock: Path, command: str, *, timeout: float = 180.0) -> tuple[int, str]:
    """(exit status, output) of `command` run by the client's root shell."""
    token = secrets.token_hex(6)
    head, tail = token[:6], token[6:]
    typed = f"{command}; echo {head}''{tail}-$?\n"
    done = re.compile(rb"(?m)^" + token.encode() + rb"-(\d+)\s*$")
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(str(sock))
        conn.settimeout(1.0)
        conn.sendall(b"\n" + typed.encode())
        data = b""
        while time.monotonic() < deadline:
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                break
            data += chunk
            clean = _ESCAPES.sub(b"", data)
            found = done.search(clean)
            if found:
                text = clean[: found.start()].decode(errors="replace")
                # drop what precedes the echo of the typed command (prompt, earlier output)
                marker = text.rfind(f"{head}''{tail}-$?")
                output = text[marker:].split("\n", 1)[1] if marker >= 0 else text
                return int(found.group(1)), output
    raise LabError(f"no answer from the shell on {sock} within {timeout:g}s: {data[-500:]!r}")
