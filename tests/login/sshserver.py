"""A real sshd on loopback, with test users that exist only in its own mount namespace.

The server's /etc/passwd, group and shadow are bind-mounted copies with the
test users added (`unshare -m`), so the host's accounts are never touched.
The homes live under the test's temp dir, owned by the test users' uids.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"


@dataclass(frozen=True)
class TestUser:
    name: str
    password: str
    uid: int

    def passwd_line(self, home: Path) -> str:
        return f"{self.name}:x:{self.uid}:{self.uid}:{self.name}:{home}:/bin/sh\n"


ALICE = TestUser("alice", "s3cret pw", 41500)
BOB = TestUser("bob", "b0b", 41501)
KIOSK = TestUser("kiosk", "k10sk/+", 41502)


@dataclass
class SshServer:
    port: int
    directory: Path
    homes: Path
    known_hosts_line: str  # "host keytype key", for the client's ssh_known_hosts
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.homes, ignore_errors=True)

    def log(self) -> str:
        path = self.directory / "sshd.log"
        return path.read_text(errors="replace") if path.exists() else ""


def need(*programs: str) -> None:
    """A missing tool fails the test (scripts/deps/apt-users.txt installs them)."""
    missing = [p for p in programs if not (shutil.which(p) or Path(p).exists())]
    assert not missing, f"missing {missing}: install scripts/deps/apt-users.txt"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def password_hash(password: str) -> str:
    """A shadow (sha512-crypt) hash of `password`."""
    done = subprocess.run(
        ["openssl", "passwd", "-6", "-stdin"],
        input=password,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def start(directory: Path, users: list[TestUser]) -> SshServer:
    need(SSHD, "ssh-keygen", "openssl", "unshare")
    directory.mkdir(parents=True, exist_ok=True)
    # the server users must reach their homes: not under pytest's 0700 temp dirs
    homes = Path(tempfile.mkdtemp(prefix="ltsp-test-homes-", dir="/var/tmp"))
    homes.chmod(0o755)
    etc = directory / "etc"
    etc.mkdir(exist_ok=True)
    key = directory / "ssh_host_ed25519_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    passwd = Path("/etc/passwd").read_text()
    group = Path("/etc/group").read_text()
    shadow = Path("/etc/shadow").read_text()
    for user in users:
        home = homes / user.name
        home.mkdir(mode=0o755)
        os.chown(home, user.uid, user.uid)
        passwd += user.passwd_line(home)
        group += f"{user.name}:x:{user.uid}:\n"
        shadow += f"{user.name}:{password_hash(user.password)}:19000:0:99999:7:::\n"
    for name, text in (("passwd", passwd), ("group", group), ("shadow", shadow)):
        (etc / name).write_text(text)
    port = free_port()
    config = directory / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {key}\n"
        f"PidFile {directory}/sshd.pid\nUsePAM no\nPasswordAuthentication yes\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin no\nStrictModes no\n"
        "AuthorizedKeysFile none\nSubsystem sftp internal-sftp\nMaxStartups 50\n"
        "LogLevel VERBOSE\n"
    )
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    binds = " && ".join(f"mount --bind {etc / n} /etc/{n}" for n in ("passwd", "group", "shadow"))
    log = (directory / "sshd.log").open("wb")
    process = subprocess.Popen(
        [
            "unshare", "-m", "--propagation", "private", "sh", "-c",
            f'{binds} && exec {SSHD} -D -e -f "$1"', "sh", str(config),
        ],
        stdout=log, stderr=log,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"sshd exited: {(directory / 'sshd.log').read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        process.kill()
        raise AssertionError("sshd did not listen within 10 s")
    pub = (directory / "ssh_host_ed25519_key.pub").read_text().split()
    line = f"[127.0.0.1]:{port} {pub[0]} {pub[1]}"
    return SshServer(port, directory, homes, line, process)
