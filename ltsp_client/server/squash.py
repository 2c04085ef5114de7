"""mksquashfs for `ltsp image`: the command line, nice/ionice, the dpkg lock, progress.

mksquashfs runs as our child: a terminal sees its own progress bar; elsewhere
we print phases with elapsed time. SIGINT/SIGTERM stop it (the caller then
removes the partial output).
"""

from __future__ import annotations

import fcntl
import logging
import os
import shlex
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from ltsp_client.run import run, run_attached

log = logging.getLogger(__name__)

# picked by measurement, docs/benchmarks.md ("Squashfs compression")
DEFAULT_COMPRESSION = ("-comp", "zstd", "-Xcompression-level", "3")


def ionice_prefix(value: str | None) -> list[str]:
    """IONICE: unset -> nice + ionice -c3 (when they work); empty -> none; else its words."""
    if value is not None:
        return shlex.split(value)
    prefix = []
    if shutil.which("nice"):
        prefix.append("nice")
    ionice = shutil.which("ionice")
    if ionice and run([ionice, "-c3", "true"], check=False, timeout=10).ok:
        prefix += [ionice, "-c3"]
    return prefix


def mksquashfs_argv(
    root: Path,
    output: Path,
    excludes_file: Path,
    params: Sequence[str] = (),
    *,
    prefix: Sequence[str] = (),
    progress: bool = False,
) -> list[str]:
    """The command line; our compression default only when MKSQUASHFS_PARAMS has no -comp."""
    argv = [*prefix, "mksquashfs", str(root), str(output), "-noappend", "-wildcards"]
    argv += ["-ef", str(excludes_file)]
    if "-comp" not in params:
        argv += DEFAULT_COMPRESSION
    argv += list(params)
    if not progress:
        argv += ["-no-progress", "-quiet"]
    elif "-quiet" not in params:
        argv.append("-quiet")
    return argv


def run_mksquashfs(argv: Sequence[str], *, progress: bool) -> None:
    """Run it; on a terminal its progress bar goes straight to stdout."""
    run_attached(argv, terminal=progress)


@contextmanager
def dpkg_lock(chroot: Path, *, wait_message: bool = True) -> Iterator[None]:
    """Hold the chroot's dpkg lock (what dpkg itself takes) while squashing it."""
    lock = chroot / "var/lib/dpkg/lock"
    if not lock.exists():
        log.warning("%s does not exist; not locking package management", lock)
        yield
        return
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        log.warning("cannot open %s (%s); not locking package management", lock, exc.strerror)
        yield
        return
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            if wait_message:
                print(
                    f"A package management process is running in {chroot}, waiting...\n"
                    "Press Ctrl+C to abort",
                    file=sys.stderr,
                )
            fcntl.lockf(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class Progress:
    """Phases with elapsed time on stderr: `[   12.3s] squashing x86_64`."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.start = time.monotonic()
        self.stream = stream if stream is not None else sys.stderr

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def phase(self, text: str) -> None:
        print(f"[{self.elapsed():7.1f}s] {text}", file=self.stream, flush=True)


def is_terminal() -> bool:
    """mksquashfs may draw its own progress bar: our stdout is a terminal."""
    return sys.stdout.isatty()
