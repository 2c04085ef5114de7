#!/usr/bin/env python3
"""Which systemd units a lab boot spent its time in, from the serial log alone.

    python3 benchmarks/unit_times.py RUN_DIR/ours-nbd-1.serial.log [...] [--top 20]

systemd's own log lines stop reaching the console once journald runs, but its
status lines (`Starting X...`, `[  OK  ] Finished X.`) keep coming, each with
the host's clock in front (the lab's serial logger). A unit's time is from its
"Starting" to its "Started"/"Finished"/"Mounted" line; names are cut by the
console width, so they are matched by their common beginning. Units run side
by side on one emulated CPU, so a long unit is often one that waited for the
CPU: read the list as "what ran", with the latest finish as the boot's tail.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

STATUS = re.compile(
    r"^\[\s*([\d.]+)\] (?:\[  OK  \] |\[FAILED\] |\s+)"
    r"(Starting|Started|Finished|Mounting|Mounted|Reached target|Failed to start) (\S+)"
)
BEGINS = ("Starting", "Mounting")


def unit_times(text: str) -> tuple[list[tuple[str, float, float]], float | None]:
    """(unit, start, end) host seconds, longest first; and when multi-user.target was reached."""
    started: dict[str, float] = {}
    ended: dict[str, float] = {}
    multi_user = None
    for line in text.splitlines():
        match = STATUS.match(line)
        if not match:
            continue
        at, what, name = float(match.group(1)), match.group(2), match.group(3).split("…")[0]
        if what in BEGINS:
            started.setdefault(name, at)
            continue
        ended.setdefault(name, at)
        if what == "Reached target" and name.startswith("multi-user"):
            multi_user = at
    rows = []
    for name, start in started.items():
        end = next((t for n, t in ended.items() if n.startswith(name) or name.startswith(n)), None)
        if end is not None:
            rows.append((name, start, end))
    rows.sort(key=lambda row: row[1] - row[2])
    return rows, multi_user


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("logs", nargs="+", type=Path)
    ap.add_argument("--top", type=int, default=20)
    args = ap.parse_args(argv)
    for log in args.logs:
        rows, multi_user = unit_times(log.read_text(errors="replace"))
        print(f"{log}: multi-user.target at {multi_user} s (host clock)")
        for name, start, end in rows[: args.top]:
            print(f"  {end - start:6.2f} s  {start:7.2f} -> {end:7.2f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
