"""Logging: short console lines, a full log file, and timed steps recorded as events.

Every step appends JSON lines to /run/ltsp/events.jsonl ($LTSP_RUN_DIR) with CLOCK_BOOTTIME
timestamps, so a boot timeline (kernel time included) is read from data, never
parsed back out of log text.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ltsp_client.paths import EVENTS_FILE, LOG_FILE, live_run_dir

log = logging.getLogger("ltsp")


def boottime() -> float:
    """Seconds since boot (CLOCK_BOOTTIME): comparable with the kernel's timestamps."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


@dataclass
class EventLog:
    """Appends one JSON object per line; a missing or read-only /run is not an error."""

    path: Path = field(default_factory=lambda: live_run_dir() / EVENTS_FILE.name)
    stage: str = ""

    def write(self, **record: Any) -> None:
        record = {"t": round(boottime(), 6), "stage": self.stage, "pid": os.getpid(), **record}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(record, sort_keys=True) + "\n")
        except OSError as exc:
            log.debug("cannot record event in %s: %s", self.path, exc)


events = EventLog()


def setup(
    stage: str,
    *,
    verbose: bool = False,
    log_file: Path | None = None,
    events_file: Path | None = None,
    to_file: bool = True,
) -> None:
    """Console gets short lines (warnings, or everything with `verbose`); the file gets all
    (unless `to_file` is false: DEBUG_LOG=0)."""
    events.stage = stage
    if events_file is not None:
        events.path = events_file
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(logging.DEBUG)
    # pyroute2 logs every netlink message at DEBUG: hundreds of lines per boot
    logging.getLogger("pyroute2").setLevel(logging.INFO)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.DEBUG if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("ltsp: %(message)s"))
    root.addHandler(console)
    if not to_file:
        return
    target = log_file if log_file is not None else live_run_dir() / LOG_FILE.name
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(target, encoding="utf-8")
    except OSError:
        return
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(
        logging.Formatter("%(asctime)s.%(msecs)03d %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    )
    root.addHandler(handler)


def apply_settings(*, verbose: bool, to_file: bool) -> None:
    """After ltsp.conf was read: LTSP_DEBUG (console gets debug lines) and DEBUG_LOG
    (`to_file` false: the log file is written no further)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.FileHandler):
            if not to_file:
                root.removeHandler(handler)
                handler.close()
        elif isinstance(handler, logging.StreamHandler):
            handler.setLevel(logging.DEBUG if verbose else logging.WARNING)


@contextmanager
def step(name: str, **details: Any) -> Iterator[None]:
    """Log a step's start and duration and record both as events; failures are recorded too."""
    start = boottime()
    log.info("%s ...", name)
    events.write(step=name, event="start", **details)
    try:
        yield
    except BaseException as exc:
        took = boottime() - start
        events.write(step=name, event="fail", duration=round(took, 6), error=str(exc))
        log.info("%s failed after %.3fs: %s", name, took, exc)
        raise
    took = boottime() - start
    events.write(step=name, event="end", duration=round(took, 6))
    log.info("%s done in %.3fs", name, took)
