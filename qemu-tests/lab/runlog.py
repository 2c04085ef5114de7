"""Run directories and timestamped console logs.

A run directory holds everything one lab run produced: generated configs,
daemon logs and one serial log per client, so a failed test can be read
afterwards. Serial logs are text, one line per console line, prefixed with
the host-side time in seconds since QEMU was started: ``[  12.345] text``.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

DEFAULT_RUNS = Path("/var/tmp/ltsp-lab-runs")
DEFAULT_KEEP = 30  # run directories kept; $LTSP_LAB_KEEP_RUNS overrides
RECENT_SECONDS = 3600.0  # never prune a run touched this recently: it may still be running
_LINE = re.compile(r"^\[\s*(\d+\.\d+)\] ?(.*)$")
# ANSI colour/cursor sequences and carriage returns that systemd and iPXE write to the console
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[c78]|\r")

Line = tuple[float, str]


def runs_root() -> Path:
    """Where run directories go: $LTSP_LAB_RUNS or /var/tmp/ltsp-lab-runs."""
    return Path(os.environ.get("LTSP_LAB_RUNS") or DEFAULT_RUNS)


def new_run_dir(label: str = "", *, root: Path | None = None) -> Path:
    """Create a fresh run directory named by UTC time and label; unique even when concurrent."""
    base = root if root is not None else runs_root()
    base.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    suffix = f"-{label}" if label else ""
    for n in range(1000):
        path = base / (f"{stamp}{suffix}" if n == 0 else f"{stamp}{suffix}.{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        prune_runs(base, keep=int(os.environ.get("LTSP_LAB_KEEP_RUNS") or DEFAULT_KEEP))
        return path
    raise FileExistsError(f"cannot create a run directory under {base}")


def prune_runs(base: Path, *, keep: int, now: float | None = None) -> list[Path]:
    """Delete the oldest run directories beyond `keep` (a run holds images: ~0.1-1 GB)."""
    current = time.time() if now is None else now
    runs = sorted((p for p in base.iterdir() if p.is_dir()), key=lambda p: p.name, reverse=True)
    removed = []
    for old in runs[max(keep, 0) :]:
        try:
            if current - old.stat().st_mtime < RECENT_SECONDS:
                continue
        except OSError:
            continue
        shutil.rmtree(old, ignore_errors=True)
        removed.append(old)
    return removed


def clean_console(text: str) -> str:
    """Strip terminal escape sequences and carriage returns from a console line."""
    return _ANSI.sub("", text)


def format_line(t: float, text: str) -> str:
    return f"[{t:8.3f}] {text}"


def parse_log_line(line: str) -> Line | None:
    m = _LINE.match(line.rstrip("\n"))
    if m is None:
        return None
    return float(m.group(1)), m.group(2)


def read_log(path: Path) -> list[Line]:
    """Read a serial log written by the lab back into (t, text) pairs."""
    lines: list[Line] = []
    with path.open(encoding="utf-8", errors="replace") as f:
        for raw in f:
            parsed = parse_log_line(raw)
            if parsed is not None:
                lines.append(parsed)
    return lines


def write_log(path: Path, lines: Iterable[Line]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for t, text in lines:
            f.write(format_line(t, text) + "\n")
