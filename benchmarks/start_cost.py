#!/usr/bin/env python3
"""CPU cost of the frozen binary's start and of the login's SSH handshake, as a TCG guest pays it.

    python3 benchmarks/start_cost.py [--tree LABEL=DIR ...] [--rounds N] [--no-ssh]

Root (build-tools/with-ltsp-at shows each tree at /usr/lib/ltsp). Two stand-ins
for the lab's emulated CPU: user-mode TCG (`qemu-x86_64-static`, wall-clock
median of N runs) and callgrind instruction counts (repeatable under any load).
The bootloader re-execs itself once, and an exec leaves qemu-user and valgrind:
the environment it would set is given up front, so the emulated process is the
Python one.

Rows per tree: `ltsp --version`; `ltsp login` as pam_exec runs it for the
auth of a local user, on a client with a school's ltsp.conf (every PAM step
of every login pays this start; a server user's auth adds SSH); `ltsp init
--root DIR` (the pid-1 stage's plugins on a scratch root, then the exec of
its init). SSH rows: `ssh -s sftp` with ltsp login's options against a native sshd
on loopback (tests/login/sshserver.py), with OpenSSH's default key exchange
and with ours (ltsp_client/login/ssh.py FAST_KEX).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests/login"))

import sshserver  # noqa: E402

from ltsp_client.login.ssh import FAST_KEX, Server  # noqa: E402

QEMU = "qemu-x86_64-static"
BOOTLOADER_ENV = {
    "LD_LIBRARY_PATH": "/usr/lib/ltsp/_internal",
    "_PYI_ARCHIVE_FILE": "/usr/lib/ltsp/ltsp",
    "_PYI_LINUX_PROCESS_NAME": "ltsp",
    "_PYI_PARENT_PROCESS_LEVEL": "-1",
}


def instructions(directory: Path) -> int:
    """The measured process's callgrind total: the lowest pid's dumps (a forked child's
    dump repeats its parent's counts; `init` writes one dump before its exec)."""
    dumps: dict[int, list[Path]] = {}
    for dump in directory.iterdir():
        dumps.setdefault(int(dump.name.split(".")[1]), []).append(dump)
    total = 0
    for dump in dumps[min(dumps)] if dumps else []:
        match = re.search(r"^(?:summary|totals): (\d+)", dump.read_text(), re.MULTILINE)
        total += int(match.group(1)) if match else 0
    if not total:
        raise SystemExit(f"start_cost: no callgrind totals in {directory}")
    return total


def measure(
    prefix: Sequence[str],
    argv: Sequence[str],
    env: dict[str, str],
    stdin: str,
    rounds: int,
    *,
    ends_in_exec: bool = False,
) -> tuple[float, int]:
    """(median seconds under qemu-user, callgrind instructions) of one command."""
    data = stdin.encode()
    times = []
    for _ in range(rounds):
        start = time.monotonic()
        subprocess.run(
            [*prefix, QEMU, *argv], check=False, input=data, env=env, capture_output=True
        )  # fmt: skip
        times.append(time.monotonic() - start)
    with tempfile.TemporaryDirectory(prefix="callgrind-") as out:
        grind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg.%p"]
        if ends_in_exec:  # `init` execs the real init: dump what ran before
            grind.append("--dump-before=execve")
        subprocess.run(
            [*prefix, *grind, *argv], check=False, input=data, env=env, capture_output=True
        )  # fmt: skip
        return statistics.median(times), instructions(Path(out))


SCHOOL_CONF = """[server]
NAT=1
[common]
TIMEZONE="Europe/Athens"
[clients]
PAM_AUTH_TYPE=Primary
SSH_OPTIONS="-p 22"
PASSWORDS_LAB="guest[0-9]*/"
X_DPMS=0
[52:54:00:12:34:56]
HOSTNAME=teacher
INCLUDE=teacher
[teacher]
RELOGIN=1
"""


def client_dirs(directory: Path) -> dict[str, str]:
    """A client: a root with one local user (root) and login settings; /etc/ltsp with a
    school's ltsp.conf; /run/ltsp with the client marker and the boot's cached facts."""
    root = directory / "client"
    (root / "etc/ltsp").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc/shadow").write_text("root:!:19000:0:99999:7:::\n")
    (root / "etc/ltsp/login.json").write_text('{"ssh_server": "127.0.0.1"}\n')
    (directory / "etc").mkdir()
    (directory / "etc/ltsp.conf").write_text(SCHOOL_CONF)
    run = directory / "run"
    run.mkdir()
    (run / "client").touch()
    nic = next(n for n in sorted(os.listdir("/sys/class/net")) if n != "lo")
    mac = Path(f"/sys/class/net/{nic}/address").read_text().strip()
    facts = {"device": nic, "ip_address": "10.0.2.15", "prefixlen": 24, "mac_address": mac}
    facts |= {"gateway": "10.0.2.2", "hostname": "pc01", "ipconfig": {}}
    (run / "facts.json").write_text(json.dumps(facts) + "\n")
    init_root = directory / "init-root"
    (init_root / "sbin").mkdir(parents=True)
    (init_root / "sbin/init").write_text("#!/bin/sh\n")
    (init_root / "sbin/init").chmod(0o755)
    return {
        "root": str(root),
        "etc": str(directory / "etc"),
        "run": str(run),
        "init": str(init_root),
    }


def tree_rows(
    label: str, tree: Path, dirs: dict[str, str], rounds: int
) -> list[tuple[str, float, int]]:
    prefix = [str(ROOT / "build-tools/with-ltsp-at"), str(tree)]
    env = {**os.environ, **BOOTLOADER_ENV}
    login_env = {**env, "PAM_TYPE": "auth", "PAM_USER": "root"}
    login_env |= {"LTSP_ETC_DIR": dirs["etc"], "LTSP_RUN_DIR": dirs["run"]}
    binary = "/usr/lib/ltsp/ltsp"
    login = [binary, "login", "--root", dirs["root"]]
    init = [binary, "init", "--root", dirs["init"], "--"]
    return [
        (f"{label}: ltsp --version", *measure(prefix, [binary, "--version"], env, "", rounds)),
        (
            f"{label}: ltsp login (auth, local user)",
            *measure(prefix, login, login_env, "pw\n", rounds),
        ),
        (
            f"{label}: ltsp init --root DIR (plugins)",
            *measure(prefix, init, env, "", rounds, ends_in_exec=True),
        ),
    ]


def ssh_rows(directory: Path, rounds: int) -> list[tuple[str, float, int]]:
    user = sshserver.TestUser("startcost", "start cost pw", 41920)
    server = sshserver.start(directory / "sshd", [user])
    try:
        known = directory / "known_hosts"
        known.write_text(server.known_hosts_line + "\n")
        askpass = directory / "askpass"
        askpass.write_text("#!/bin/sh\nIFS= read -r p\nprintf '%s\\n' \"$p\"\n")
        askpass.chmod(0o755)
        env = {**os.environ, "DISPLAY": " ", "SSH_ASKPASS": str(askpass)}
        env["SSH_ASKPASS_REQUIRE"] = "force"
        ours = Server("127.0.0.1", str(known), ("-p", str(server.port))).ssh_options()
        assert ours[-2:] == ["-o", FAST_KEX]
        rows = []
        for label, options in (("OpenSSH default kex", ours[:-2]), ("ltsp login's", ours)):
            argv = ["/usr/bin/ssh", "-n", "-s", *options, f"{user.name}@127.0.0.1", "sftp"]
            rows.append(
                (f"ssh -s sftp, {label}", *measure([], argv, env, user.password + "\n", rounds))
            )
        return rows
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", action="append", metavar="LABEL=DIR", help="default dist/ltsp")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-ssh", action="store_true")
    options = parser.parse_args()
    trees = options.tree or [f"dist={ROOT / 'dist/ltsp'}"]
    rows: list[tuple[str, float, int]] = []
    with tempfile.TemporaryDirectory(prefix="ltsp-start-cost-") as tmp:
        dirs = client_dirs(Path(tmp))
        for spec in trees:
            label, _, directory = spec.partition("=")
            rows += tree_rows(label, Path(directory), dirs, options.rounds)
        if not options.no_ssh:
            rows += ssh_rows(Path(tmp), options.rounds)
    print(f"| command | qemu-user median s ({options.rounds} runs) | instructions (callgrind) |")
    print("|---|---:|---:|")
    for name, seconds, count in rows:
        print(f"| {name} | {seconds:.3f} | {count / 1e6:,.0f} M |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
