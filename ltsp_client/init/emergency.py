"""Fatal errors, break points and the debug shell of both boot stages.

A fatal error never hangs silently: `report` prints FATAL, the failed step, a
hint and the log path on the console and /dev/kmsg, in one format for both
stages. Then the initramfs stage (`fatal`) reboots after a visible countdown
(so a lab recovers once the server is back), or opens a debug shell when the
admin asked for one (ltsp.debug_shell=1, ltsp.shell or DEBUG_SHELL=1); pid 1
goes on with the real init instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ltsp_client.log import events
from ltsp_client.paths import LOG_FILE
from ltsp_client.run import clean_environ

log = logging.getLogger(__name__)

# REBOOT_TIMEOUT's declared default (a test checks they agree); the initramfs stage
# sets the policy from the parameter table, this module stays free of config imports.
DEFAULT_REBOOT_TIMEOUT = 60
SHELLS = ("/bin/sh", "/usr/bin/sh", "/bin/busybox")
RB_AUTOBOOT = 0x01234567


def reboot_now() -> None:
    """sync and reboot(2); only returns if the kernel refused."""
    os.sync()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.reboot(RB_AUTOBOOT)


def run_shell(prompt: str) -> int:
    """An interactive shell on our console; returns its exit status (127: no shell)."""
    for shell in SHELLS:
        if os.access(shell, os.X_OK):
            argv = [shell] if not shell.endswith("busybox") else [shell, "sh"]
            env = clean_environ({"PS1": prompt})
            return os.spawnve(os.P_WAIT, shell, argv, env)
    return 127


def _read_line() -> str:
    return sys.stdin.readline()


@dataclass
class Console:
    """Where fatal messages go: the console (stderr) and the kernel log."""

    out: TextIO = field(default_factory=lambda: sys.stderr)
    kmsg: Path = Path("/dev/kmsg")

    def say(self, *lines: str, level: int = 2) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.out.write("".join(f"{line}\n" for line in lines))
            self.out.flush()
        try:
            with self.kmsg.open("a", encoding="utf-8") as kmsg:
                for line in lines:
                    kmsg.write(f"<{level}>ltsp: {line}\n")
        except OSError:
            pass


@dataclass
class Policy:
    """What to do on a fatal error; the actions are injectable for tests."""

    debug_shell: bool = False
    reboot_timeout: int = DEFAULT_REBOOT_TIMEOUT
    console: Console = field(default_factory=Console)
    shell: Callable[[str], int] = run_shell
    reboot: Callable[[], None] = reboot_now
    sleep: Callable[[float], None] = time.sleep
    wait_enter: Callable[[], object] = _read_line


def fatal_lines(applet: str, step: str, message: str, hint: str = "", then: str = "") -> list[str]:
    """The one FATAL format of both stages: what failed where, the hint, the log."""
    lines = [f"FATAL: ltsp {applet}: {step}: {message}"]
    if hint:
        lines.append(f"  hint: {hint}")
    lines.append(f"  log: {LOG_FILE}" + (f"; {then}" if then else ""))
    return lines


def report(
    console: Console, *, applet: str, step: str, message: str, hint: str = "", then: str = ""
) -> None:
    """FATAL on the console and in /dev/kmsg, plus the log file and the events."""
    lines = fatal_lines(applet, step, message, hint, then)
    log.info("%s", " / ".join(lines))  # the log file; the console gets the lines below
    events.write(step=step, event="fatal", error=message)
    console.say(*lines)


def fatal(policy: Policy, *, applet: str, step: str, message: str, hint: str = "") -> int:
    """Report a fatal error, then open the debug shell (returns 1) or reboot (does not return)."""
    report(policy.console, applet=applet, step=step, message=message, hint=hint)
    if policy.debug_shell:
        policy.console.say("Starting a debug shell; exit it to let the boot continue (it may fail)")
        policy.shell(f"(ltsp {step}) # ")
        return 1
    policy.console.say(
        f"Rebooting in {policy.reboot_timeout} seconds "
        "(ltsp.debug_shell=1 on the kernel command line gives a shell instead)"
    )
    remaining = policy.reboot_timeout
    while remaining > 0:
        chunk = min(10, remaining)
        policy.sleep(chunk)
        remaining -= chunk
        if remaining:
            policy.console.say(f"Rebooting in {remaining} seconds...")
    policy.console.say("Rebooting now")
    policy.reboot()
    return 1  # only reached when reboot(2) was refused or injected


def break_point(policy: Policy, step: str, *, applet: str = "") -> None:
    """`ltsp.break=STEP`: a shell (or a wait for Enter, if no shell exists) before STEP."""
    where = f"{applet}/{step}" if applet else step
    policy.console.say(f"ltsp.break: stopped before {where}", level=5)
    if policy.shell(f"(ltsp break {step}) # ") == 127:
        policy.console.say("No shell in the initramfs; press Enter to continue", level=5)
        policy.wait_enter()
    events.write(step=step, event="break")
