"""The one place that starts processes: no shell, always a timeout, a clean environment.

A frozen (PyInstaller) binary sets LD_LIBRARY_PATH to its own bundle; a child
that inherits it loads our libraries with its own loader and may fail (see
docs/architecture.md). `clean_environ()` removes that, for exec too.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ltsp_client.errors import CommandError

log = logging.getLogger(__name__)

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_SECRET_WORDS = ("password", "passwd", "secret", "token")
_FROZEN_VARS = (
    "_MEIPASS2",
    "_PYI_ARCHIVE_FILE",
    "_PYI_APPLICATION_HOME_DIR",
    "_PYI_PARENT_PROCESS_LEVEL",
    "_PYI_LINUX_PROCESS_NAME",
)


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Runner(Protocol):
    """What plugins and steps are given, so tests can script commands."""

    def __call__(
        self,
        argv: Sequence[str],
        *,
        timeout: float = ...,
        check: bool = ...,
        input: str | None = ...,
        env: Mapping[str, str] | None = ...,
    ) -> Result: ...


def clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for children: ours minus what the frozen bootloader injected."""
    env = dict(os.environ)
    original = env.pop("LD_LIBRARY_PATH_ORIG", None)
    env.pop("LD_LIBRARY_PATH", None)
    if original:
        env["LD_LIBRARY_PATH"] = original
    for name in _FROZEN_VARS:
        env.pop(name, None)
    env.setdefault("PATH", DEFAULT_PATH)
    if extra:
        env.update(extra)
    return env


def redact(argv: Sequence[str]) -> str:
    """`shlex.join(argv)` with the value after anything secret-looking hidden."""
    shown: list[str] = []
    hide_next = False
    for word in argv:
        lower = word.lower()
        if hide_next:
            shown.append("***")
            hide_next = False
        elif any(s in lower for s in _SECRET_WORDS):
            if "=" in word:
                shown.append(word.split("=", 1)[0] + "=***")
            else:
                shown.append(word)
                hide_next = True
        else:
            shown.append(word)
    return shlex.join(shown)


def run(
    argv: Sequence[str],
    *,
    timeout: float = 60.0,
    check: bool = True,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Result:
    """Run argv and capture its output; raise CommandError on failure when `check`."""
    args = tuple(str(a) for a in argv)
    shown = redact(args)
    log.debug("run: %s", shown)
    try:
        proc = subprocess.run(
            args,
            input=input,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            env=clean_environ(env),
            check=False,
        )
    except FileNotFoundError as exc:
        raise CommandError(
            f"command not found: {args[0]}", hint="install the package that provides it"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise CommandError(f"timed out after {timeout:g}s: {shown}") from exc
    result = Result(args, proc.returncode, proc.stdout, proc.stderr)
    if check and proc.returncode != 0:
        raise _failed(result, shown)
    return result


def _failed(result: Result, shown: str) -> CommandError:
    tail = "\n".join(result.stderr.strip().splitlines()[-5:])
    if result.returncode < 0:
        what = f"killed by signal {-result.returncode}"
    else:
        what = f"exit status {result.returncode}"
    return CommandError(f"{shown}: {what}" + (f": {tail}" if tail else ""))


def run_attached(argv: Sequence[str], *, terminal: bool, timeout: float | None = None) -> Result:
    """Run a long command whose stdout may go to our terminal (a progress bar), stderr captured.

    Ctrl+C, SIGTERM turned into an exception, or the timeout stop the child
    before the exception propagates, so the caller can clean its partial output.
    """
    args = tuple(str(a) for a in argv)
    shown = redact(args)
    log.debug("run: %s (attached)", shown)
    try:
        proc = subprocess.Popen(
            args,
            stdout=None if terminal else subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            env=clean_environ(),
        )
    except FileNotFoundError as exc:
        raise CommandError(
            f"command not found: {args[0]}", hint="install the package that provides it"
        ) from exc
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException as exc:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if isinstance(exc, subprocess.TimeoutExpired):
            raise CommandError(f"timed out after {timeout:g}s: {shown}") from exc
        raise
    result = Result(args, proc.returncode, out or "", err or "")
    if proc.returncode != 0:
        tail = "\n".join(err.strip().splitlines()[-5:])
        raise CommandError(
            f"{shown}: exit status {proc.returncode}" + (f": {tail}" if tail else "")
        )
    return result


def exec_clean(argv: Sequence[str], env: Mapping[str, str] | None = None) -> None:
    """Replace this process (used by pid 1 to hand over to the real init)."""
    os.execve(argv[0], list(argv), clean_environ(env))
