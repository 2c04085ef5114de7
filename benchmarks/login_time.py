#!/usr/bin/env python3
"""What `ltsp login` adds to a login: SSH password check + SSHFS mount.

    python3 benchmarks/login_time.py [--rounds N]          # loopback sshd, no VM
    /work/wt/qemu-slot --both python3 benchmarks/login_time.py --lab [--rounds N]

Runs as root (mounts). Loopback: per round, as pam_exec would, `ltsp login`
(PAM_TYPE=auth, the password on stdin) for a server user whose home is not
mounted (sshfs mount), again for a second session (ssh check only), and a wrong
password; the process is `python3 -m ltsp_client`.

--lab: boots the user lab's client (qemu-tests/lab/userlab.py: our frozen
binary, the image's real PAM stack, logind, the lab server's sshd) and times
whole logins (`pamtester ... authenticate open_session close_session`) of a
local user and of a server user, alternating (qemu-tests/lab/logintime.py);
--steps adds a row per PAM step (authenticate, open_session, close_session).
--getty: instead, whole logins through real logind sessions, a getty and
`login` on a serial port, from the password sent to a usable shell prompt.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests/login"))

import sshserver  # noqa: E402


def lab(rounds: int, steps: bool, getty: bool) -> None:
    sys.path.insert(0, str(ROOT / "qemu-tests"))
    from lab import logintime
    from lab.userlab import ALICE, user_lab

    with user_lab("login-time") as booted, booted.shell() as shell:
        load = os.getloadavg()
        if getty:
            times = logintime.time_getty_logins(booted, shell, rounds=rounds)
            local, server = logintime.GETTY_LOCAL, logintime.GETTY_SERVER
            # where the keepers ran: their slice and its weight (cgroup v2)
            print(shell.text(
                "systemctl show -p CPUWeight -p IOWeight ltsp.slice; "
                "cat /sys/fs/cgroup/ltsp.slice/cpu.weight; "
                "journalctl -b --no-pager -o short-precise -u 'ltsp-login-home-*' | tail -n 12"
            ))  # fmt: skip
        else:
            times = logintime.time_logins(
                shell, booted.homes / ALICE.name, rounds=rounds, steps=steps
            )
            local, server = logintime.LOCAL, logintime.SERVER
        if steps:  # when each `ltsp login` step and unit logged, to read the gaps from
            journal = "journalctl -b -o short-precise --no-pager -t ltsp-login"
            print(shell.text(f"{journal} | tail -n 30"))
            # whether system.slice (transient services) and user.slice share the CPU by weight
            print("cpu controller:", shell.text("cat /sys/fs/cgroup/cgroup.subtree_control"))
        print(f"host load average before {load[0]:.2f}, after {os.getloadavg()[0]:.2f} (1 min)")
    report(times)
    added = statistics.median(times[server]) - statistics.median(times[local])
    print(f"{'added by a server login':<28} median {added:.2f} s")


def report(times: dict[str, list[float]]) -> None:
    for label, values in times.items():
        median = statistics.median(values)
        spread = f"min {min(values):.2f}, max {max(values):.2f}, n={len(values)}"
        print(f"{label:<28} median {median:.2f} s  ({spread})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lab", action="store_true", help="in a QEMU lab client (minutes)")
    parser.add_argument("--steps", action="store_true", help="--lab: also time each PAM step apart")
    parser.add_argument("--getty", action="store_true", help="--lab: getty logins, real sessions")
    options = parser.parse_args()
    if options.lab:
        lab(options.rounds, options.steps, options.getty)
        return 0
    rounds = options.rounds
    user = sshserver.TestUser("bench", "bench pw", 41900)
    with tempfile.TemporaryDirectory(prefix="ltsp-login-bench-") as tmp:
        server = sshserver.start(Path(tmp) / "sshd", [user])
        try:
            client = Path(tmp) / "client"
            (client / "etc/ltsp").mkdir(parents=True)
            (client / "etc/passwd").write_text(user.passwd_line(Path("/home/bench")))
            (client / "etc/shadow").write_text("bench:pamltsp:::::::\n")
            (client / "etc/ltsp/ssh_known_hosts").write_text(server.known_hosts_line + "\n")
            (client / "etc/ltsp/login.json").write_text(
                f'{{"ssh_server": "127.0.0.1", "ssh_options": ["-p", "{server.port}"]}}\n'
            )
            env = {**os.environ, "PAM_USER": "bench", "PAM_TYPE": "auth", "PYTHONPATH": str(ROOT)}
            argv = [sys.executable, "-m", "ltsp_client", "login", "--root", str(client)]
            home = client / "home/bench"
            times: dict[str, list[float]] = {
                "first session (mount)": [],
                "second session": [],
                "wrong password": [],
            }
            for _ in range(rounds):
                for label, password in (
                    ("first session (mount)", user.password),
                    ("second session", user.password),
                    ("wrong password", "nope"),
                ):
                    start = time.monotonic()
                    subprocess.run(argv, input=password + "\0", env=env, text=True, check=False,
                                   capture_output=True)  # fmt: skip
                    times[label].append(time.monotonic() - start)
                subprocess.run(["fusermount3", "-u", str(home)], check=False)
            report(times)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
