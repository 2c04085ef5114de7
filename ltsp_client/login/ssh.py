"""SSH to the server with the user's password: authentication, and SSHFS homes.

The password travels only through pipes: ssh asks the SSH_ASKPASS helper,
which reads it from its stdin (inherited from ssh, fed by us); sshfs reads
it with `password_stdin`. Never on a command line or in an environment.

Options (spec §6.3): no user or system ssh config (`-F /dev/null`), no keys
(`IdentitiesOnly`, `IdentityFile=/nonexistent`), one password prompt, the
server's host key checked against the known_hosts from ltsp.img with no
trust-on-first-use (`StrictHostKeyChecking=yes`), then SSH_OPTIONS, then
`KexAlgorithms=-sntrup*` (after SSH_OPTIONS: ssh takes an option's first
value, so SSH_OPTIONS can set KexAlgorithms). The sntrup761 post-quantum hybrid
that OpenSSH 8.5-9.8 prefer costs the client 1.1 G instructions per handshake
against 78 M for curve25519 (callgrind; about a second of a TCG guest's CPU,
docs/benchmarks.md); the host key check is unchanged, and an OpenSSH with
mlkem768x25519 (9.9+, cheap) keeps that hybrid first.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ltsp_client.errors import CommandError, LtspError
from ltsp_client.run import Runner

ASKPASS = "/run/ltsp/login/askpass"
INSTALLED_ASKPASS = "/usr/lib/ltsp/askpass"  # written at boot by the pam plugin
ASKPASS_SCRIPT = """#!/bin/sh
# ltsp login: print the password ssh asks for, read from stdin (a pipe from ltsp login)
IFS= read -r password
printf '%s\\n' "$password"
"""
TIMEOUT = 30.0
# removes sntrup761x25519 (and 8.0-8.4's sntrup4591761x25519) from ssh's default list
FAST_KEX = "KexAlgorithms=-sntrup*"


class Outcome(enum.Enum):
    OK = "ok"
    WRONG_PASSWORD = "wrong password"
    UNREACHABLE = "server unreachable"
    HOST_KEY = "server host key not known"
    FAILED = "failed"


_SIGNS = (
    (Outcome.WRONG_PASSWORD, ("permission denied", "too many authentication failures")),
    (
        Outcome.HOST_KEY,
        ("host key verification failed", "identification has changed", "host key is known"),
    ),
    (
        Outcome.UNREACHABLE,
        (
            "connection refused",
            "no route to host",
            "timed out",
            "could not resolve",
            "network is unreachable",
            "name or service not known",
            "connection reset",
            "connection closed",
        ),
    ),
)


@dataclass(frozen=True)
class Server:
    host: str
    known_hosts: str
    options: tuple[str, ...] = ()

    def ssh_options(self) -> list[str]:
        fixed = (
            f"UserKnownHostsFile={self.known_hosts}",
            "GlobalKnownHostsFile=/dev/null",
            "StrictHostKeyChecking=yes",
            "IdentitiesOnly=yes",
            "IdentityFile=/nonexistent",
            "NumberOfPasswordPrompts=1",
            "LogLevel=ERROR",
            "ConnectTimeout=5",
        )
        out = ["-F", "/dev/null"]
        for option in fixed:
            out += ["-o", option]
        return [*out, *self.options, "-o", FAST_KEX]


@dataclass(frozen=True)
class Attempt:
    outcome: Outcome
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


def classify(returncode: int, stderr: str) -> Attempt:
    if returncode == 0:
        return Attempt(Outcome.OK)
    text = stderr.strip()
    lower = text.lower()
    for outcome, signs in _SIGNS:
        if any(sign in lower for sign in signs):
            return Attempt(outcome, text)
    return Attempt(Outcome.FAILED, text or f"exit status {returncode}")


def ensure_askpass(root: Path) -> Path:
    """The askpass helper script (root-owned, 0755): the pam plugin's, or written once per boot."""
    for candidate in (INSTALLED_ASKPASS, ASKPASS):
        path = root / candidate.lstrip("/")
        if path.is_file() and path.read_text(encoding="utf-8") == ASKPASS_SCRIPT:
            return path
    if os.geteuid() != 0:
        raise LtspError(
            f"{ASKPASS} is missing and only root may create it",
            hint="the pam plugin installs /usr/lib/ltsp/askpass at boot",
        )
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    temp = path.with_suffix(".new")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o755)
    with os.fdopen(fd, "w") as stream:
        stream.write(ASKPASS_SCRIPT)
    os.chmod(temp, 0o755)
    os.replace(temp, path)
    return path


def authenticate(
    runner: Runner, server: Server, user: str, password: str, *, askpass: Path
) -> Attempt:
    """Log in to the server's sftp subsystem (works when shells are forbidden) and leave."""
    env = {"DISPLAY": " ", "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force"}
    argv = ["ssh", "-n", "-s", *server.ssh_options(), f"{user}@{server.host}", "sftp"]
    return _attempt(runner, argv, password, env)


def mount_sshfs(
    runner: Runner, server: Server, user: str, password: str, home: Path, *, fuse3: bool
) -> Attempt:
    """Mount the user's server home on `home` (allow_other: root mounts it for the user)."""
    options = "password_stdin,allow_other,default_permissions" + ("" if fuse3 else ",nonempty")
    argv = ["sshfs", "-o", options, *server.ssh_options(), f"{user}@{server.host}:", str(home)]
    return _attempt(runner, argv, password, None)


def _attempt(
    runner: Runner, argv: Sequence[str], password: str, env: dict[str, str] | None
) -> Attempt:
    try:
        result = runner(argv, timeout=TIMEOUT, check=False, input=password + "\n", env=env)
    except CommandError as err:
        return Attempt(Outcome.FAILED, err.message)
    return classify(result.returncode, result.stderr)
