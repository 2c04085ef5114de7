"""`ltsp info`: versions, what the server publishes (server/inventory.py), and the boot
timeline recorded in /run/ltsp/events.jsonl.

The timeline comes from the step events (ltsp_client.log.EventLog: t in
CLOCK_BOOTTIME seconds, stage, pid, step, event start|end|fail, duration),
never from log text. Kernel time before our first event shows as the start
time of the first step.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ltsp_client import __version__
from ltsp_client.appcontext import Context
from ltsp_client.errors import LtspError
from ltsp_client.paths import CLIENT_MARKER, EVENTS_FILE, inside
from ltsp_client.server.settings import add_etc_option

if TYPE_CHECKING:
    from ltsp_client.server.inventory import Inventory


@dataclass(frozen=True)
class Row:
    stage: str
    step: str
    depth: int
    pid: int
    start: float
    duration: float | None
    status: str  # ok, failed, running (no end recorded), or a one-off event's name
    error: str = ""


def read_events(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The events of `path` in file order, and how many lines were not valid events."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError as exc:
        raise LtspError(
            f"no boot events in {path}",
            hint="events are recorded on LTSP clients during boot; use --events FILE elsewhere",
        ) from exc
    except OSError as exc:
        raise LtspError(f"cannot read {path}: {exc.strerror}") from exc
    found: list[dict[str, Any]] = []
    bad = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(record, dict) and isinstance(record.get("t"), int | float):
            found.append(record)
        else:
            bad += 1
    return found, bad


def timeline(records: list[dict[str, Any]]) -> list[Row]:
    """Pair each step's start with its end or fail; nesting depth per process."""
    rows: list[Row] = []
    open_steps: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    for record in records:
        pid = int(record.get("pid", 0))
        name = str(record.get("step", ""))
        event = str(record.get("event", ""))
        stack = open_steps.setdefault(pid, [])
        if event == "start":
            rows.append(_row(record, len(stack), None, "running"))
            stack.append((len(rows) - 1, record))
        elif event in ("end", "fail"):
            for i in range(len(stack) - 1, -1, -1):
                index, start = stack[i]
                if start.get("step") == name:
                    del stack[i:]
                    status = "ok" if event == "end" else "failed"
                    duration = record.get("duration")
                    if not isinstance(duration, int | float):
                        duration = float(record["t"]) - float(start["t"])
                    rows[index] = _row(
                        start, rows[index].depth, float(duration), status, record.get("error", "")
                    )
                    break
            else:
                rows.append(_row(record, len(stack), record.get("duration"), event))
        else:
            rows.append(_row(record, len(stack), None, event, record.get("error", "")))
    return rows


def _row(record: dict[str, Any], depth: int, duration: Any, status: str, error: Any = "") -> Row:
    return Row(
        stage=str(record.get("stage", "")),
        step=str(record.get("step", "")),
        depth=depth,
        pid=int(record.get("pid", 0)),
        start=float(record["t"]),
        duration=float(duration) if isinstance(duration, int | float) else None,
        status=status,
        error=str(error or ""),
    )


def format_table(rows: list[Row]) -> str:
    if not rows:
        return "no steps recorded"
    width = max(len("STEP"), *(len("  " * r.depth + r.step) for r in rows))
    stage_width = max(len("STAGE"), *(len(r.stage) for r in rows))
    lines = [f"{'STAGE':<{stage_width}}  {'STEP':<{width}}  {'START':>9}  {'TOOK':>8}  STATUS"]
    for r in rows:
        took = f"{r.duration:.3f}" if r.duration is not None else "-"
        status = r.status + (f": {r.error}" if r.error else "")
        name = "  " * r.depth + r.step
        lines.append(
            f"{r.stage:<{stage_width}}  {name:<{width}}  {r.start:>9.3f}  {took:>8}  {status}"
        )
    first, last = rows[0].start, max(r.start + (r.duration or 0.0) for r in rows)
    lines.append(f"first step at {first:.3f}s after boot; last event at {last:.3f}s")
    return "\n".join(lines)


def is_client(root: Path) -> bool:
    """Whether ROOT is a booted LTSP client (the boot stages leave /run/ltsp/client)."""
    return inside(root, CLIENT_MARKER).exists()


def versions(root: Path = Path("/")) -> str:
    lines = [f"ltsp {__version__}", f"python {platform.python_version()}"]
    pretty = _os_pretty_name(Path("/etc/os-release"))
    if pretty:
        lines.append(f"os {pretty}")
    lines.append(f"kernel {os.uname().release} {os.uname().machine}")
    role = "client" if is_client(root) else "server (no client marker)"
    lines.append(f"role {role}")
    return "\n".join(lines)


def _os_pretty_name(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return ""
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key == "PRETTY_NAME":
            return value.strip().strip('"')
    return ""


def server_report(ctx: Context, etc: Path, root: Path) -> Inventory:
    """What the server publishes (images, versions, kernels, menu) and what is wrong."""
    from ltsp_client.server import inventory
    from ltsp_client.server.settings import load

    settings = load(ctx, "info", etc)
    return inventory.collect(
        base_dir=settings.ctx.base_dir, tftp_dir=settings.ctx.tftp_dir, etc=etc, root=root
    )


def main(ctx: Context, args: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ltsp info", description="Show versions, or the boot timeline of this client."
    )
    parser.add_argument("--timeline", action="store_true", help="print the boot timeline")
    parser.add_argument(
        "--events", type=Path, default=Path(EVENTS_FILE), help=f"events file ({EVENTS_FILE})"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_etc_option(parser)
    parser.add_argument(
        "--root", type=Path, default=Path("/"), metavar="DIR", help="read /etc/... under DIR"
    )
    options = parser.parse_args(args)
    if not options.timeline:
        report = None
        if not is_client(options.root):
            report = server_report(ctx, options.etc, options.root)
        if options.json:
            data: dict[str, Any] = {"ltsp": __version__, "python": platform.python_version()}
            if report is not None:
                data["server"] = report.as_dict()
            print(json.dumps(data, indent=1))
        else:
            print(versions(options.root))
            if report is not None:
                from ltsp_client.server.inventory import render

                print("\n" + render(report))
        return 0
    records, bad = read_events(options.events)
    rows = timeline(records)
    if options.json:
        print(json.dumps([asdict(r) for r in rows], indent=1))
    else:
        print(format_table(rows))
    if bad:
        print(f"ltsp info: skipped {bad} malformed line(s) in {options.events}", file=sys.stderr)
    return 0
