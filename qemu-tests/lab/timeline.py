"""Boot timelines: from a client's timestamped serial lines (and, for our stack, its
events.jsonl) to per-stage boundaries, rendered as a text table, markdown and SVG.

All times are seconds on the host clock since QEMU started. Guest-side times
(kernel printk stamps, CLOCK_BOOTTIME in events.jsonl) are moved onto the host
clock by the smallest host-minus-guest difference seen on kernel console lines
(a line reaches the host a little after it is printed, never before).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from lab.vm import BootResult

# Boundaries in boot order. A stage runs from its boundary to the next one.
BOUNDARIES = (
    "kernel",  # "Linux version": firmware/iPXE done, the kernel starts
    "initramfs",  # initramfs-tools' /init runs
    "ltsp_initramfs",  # ltsp initrd-bottom (ours or upstream's) starts
    "switch_root",  # ltsp initrd-bottom done, the real root is about to become /
    "pid1",  # the LTSP pid-1 stage (`ltsp init`) runs as /sbin/init
    "systemd",  # systemd is exec'd
    "multi_user",  # multi-user.target reached
)
STAGES = (
    ("firmware", "start", "kernel"),
    ("kernel", "kernel", "initramfs"),
    ("initramfs-tools", "initramfs", "ltsp_initramfs"),
    ("ltsp initramfs step", "ltsp_initramfs", "switch_root"),
    ("switch_root", "switch_root", "pid1"),
    ("ltsp pid-1 stage", "pid1", "systemd"),
    ("systemd to multi-user", "systemd", "multi_user"),
)
COLOURS = ("#9e9e9e", "#5c6bc0", "#26a69a", "#ef6c00", "#8d6e63", "#d81b60", "#7cb342")

# Console markers (first match wins). The same regexes serve both stacks: the
# kernel, initramfs-tools and systemd lines are common; the LTSP lines differ.
CONSOLE_MARKERS: Mapping[str, str] = {
    "kernel": r"Linux version \d",
    "initramfs": r"Loading, please wait|Begin: Loading essential drivers",
    "ltsp_initramfs": r"Running /sbin/ltsp initrd-bottom|ltsp[: ]+initrd-bottom",
    "pid1_exec": r"Not activating Mandatory Access Control",
    "systemd": r"systemd \d+(\.\d+)?[^ ]* running in system mode|Welcome to .*Debian",
    "multi_user": r"Reached target.*Multi-User",
}
# `vm.boot_client(markers=...)` wants name -> regex too.
VM_MARKERS: dict[str, str] = {
    **CONSOLE_MARKERS,
    "ipconfig": r"IP-Config: .* complete",
    "report_end": r"LAB-REPORT-END",
}
# initrd-bottom's step that applies the init stage to the new root (no `ltsp init` as pid 1)
INITRAMFS_INIT_STEP = "init-stage"
PRINTK = re.compile(r"^\[\s*(\d+\.\d+)\]\s")


@dataclass
class Timeline:
    """One boot: boundary times (None when not seen) and bytes served per protocol."""

    stack: str
    method: str
    marks: dict[str, float | None]
    served: dict[str, int] = field(default_factory=dict)
    ok: bool = True
    notes: list[str] = field(default_factory=list)
    # seconds klibc's ipconfig spent before its DHCP succeeded (inside "initramfs-tools";
    # its first round is always lost, costing 1-10 s: a cost both stacks share)
    dhcp_wait: float | None = None
    run: int = 0  # round number in a benchmark, 0 = not numbered
    # seconds of the init stage run from the initramfs (our `init-stage` step of
    # initrd-bottom, when the plugins are applied there and no `ltsp init` runs as pid 1)
    initramfs_plugins: float = 0.0

    def stages(self) -> list[tuple[str, float | None, float | None]]:
        """(stage, start, end); a stage whose boundaries were not both seen has None ends."""
        marks = {"start": 0.0, **self.marks}
        out = []
        for name, a, b in STAGES:
            start = marks.get(a)
            end = marks.get(b)
            if start is not None and end is not None and end < start:
                end = None
            out.append((name, start, end))
        return out

    def total(self) -> float | None:
        return self.marks.get("multi_user")


def _first(lines: Iterable[tuple[float, str]], pattern: str, *, nth: int = 1) -> float | None:
    rx = re.compile(pattern)
    seen = 0
    for t, text in lines:
        if rx.search(text):
            seen += 1
            if seen == nth:
                return t
    return None


def clock_offset(lines: Sequence[tuple[float, str]]) -> float | None:
    """Host time minus guest kernel time, from the kernel's printk-stamped console lines."""
    best: float | None = None
    for t, text in lines:
        m = PRINTK.match(text)
        if m:
            diff = t - float(m.group(1))
            if best is None or diff < best:
                best = diff
    return best


def parse_events(text_lines: Iterable[str]) -> list[dict[str, object]]:
    """events.jsonl lines (as found in the guest report) -> records; junk lines skipped."""
    records = []
    for raw in text_lines:
        line = raw.strip()
        start = line.find("{")
        if start < 0:
            continue
        try:
            record = json.loads(line[start:])
        except ValueError:
            continue
        if isinstance(record, dict) and "t" in record:
            records.append(record)
    return records


def _event_span(events: Sequence[Mapping[str, object]], stage_match: str) -> tuple[float, float]:
    times = [
        float(str(e["t"]))
        for e in events
        if re.search(stage_match, str(e.get("stage", ""))) and "t" in e
    ]
    return (min(times), max(times)) if times else (-1.0, -1.0)


def from_console(
    lines: Sequence[tuple[float, str]],
    *,
    stack: str,
    method: str,
    events: Sequence[Mapping[str, object]] = (),
    startup_seconds: float | None = None,
) -> Timeline:
    """Boundaries from serial lines; for our stack the LTSP steps come from events.jsonl.

    Upstream has no marker at the end of its initrd-bottom: its `ltsp init` is
    exec'd as /sbin/init right after run-init, so switch_root and pid1 coincide
    there (the kernel's first "Not activating Mandatory Access Control" line).
    Its second such line is the exec of systemd.

    multi-user: serial-getty takes ttyS0 over near the end of boot and systemd's own
    "Reached target" line is often lost, so when the guest report carries systemd-analyze's
    "Startup finished ... = TOTAL" (`startup_seconds`, guest clock since the kernel started)
    that placed on the host clock is used, for both stacks alike.
    """
    marks: dict[str, float | None] = {
        name: _first(lines, CONSOLE_MARKERS[name])
        for name in ("kernel", "initramfs", "ltsp_initramfs", "systemd", "multi_user")
    }
    first_exec = _first(lines, CONSOLE_MARKERS["pid1_exec"])
    second_exec = _first(lines, CONSOLE_MARKERS["pid1_exec"], nth=2)
    marks["switch_root"] = first_exec
    marks["pid1"] = first_exec
    notes = []
    if second_exec is not None:
        # `ltsp init` execs /sbin/init again: that exec (not systemd's banner) is the boundary
        marks["systemd"] = second_exec
    dhcp_start = _first(lines, r"IP-Config: \S+ hardware address")
    dhcp_done = _first(lines, r"IP-Config: \S+ complete")
    dhcp_wait = None
    if dhcp_start is not None and dhcp_done is not None and dhcp_done >= dhcp_start:
        dhcp_wait = round(dhcp_done - dhcp_start, 3)
        marks["dhcp_start"], marks["dhcp_done"] = dhcp_start, dhcp_done
    offset = clock_offset(lines)
    if startup_seconds is not None and offset is not None:
        marks["multi_user"] = round(startup_seconds + offset, 3)
    if events:
        if offset is None:
            notes.append("no printk timestamps on the console: events.jsonl not placed")
        else:
            i_start, i_end = _event_span(events, r"initrd|initramfs")
            p_start, _ = _event_span(events, r"^init$|pid1")
            if i_start >= 0:
                marks["ltsp_initramfs"] = round(i_start + offset, 3)
                marks["switch_root"] = round(i_end + offset, 3)
            if p_start >= 0:
                marks["pid1"] = round(p_start + offset, 3)
            if 0 <= p_start < i_end:
                # the init stage ran inside initrd-bottom (init/early.py): no pid-1 stage,
                # and the one exec after run-init is the real init's
                marks["pid1"] = marks["switch_root"]
                if second_exec is None and first_exec is not None and first_exec >= i_end + offset:
                    marks["systemd"] = first_exec
    early = sum(
        float(str(e["duration"]))
        for e in events
        if e.get("stage") == "initrd-bottom"
        and e.get("step") == INITRAMFS_INIT_STEP
        and e.get("event") == "end"
        and "duration" in e
    )
    return Timeline(
        stack=stack,
        method=method,
        marks=marks,
        notes=notes,
        dhcp_wait=dhcp_wait,
        initramfs_plugins=round(early, 3),
    )


MISSING = "-"


def from_boot(
    result: BootResult, *, stack: str, method: str, served: Mapping[str, int] | None = None
) -> Timeline:
    """A boot's timeline: console marks, plus for our stack its events.jsonl from the report."""
    report = result.report
    tl = from_console(
        result.lines,
        stack=stack,
        method=method,
        events=report.events if report is not None and stack == "ours" else (),
        startup_seconds=report.startup_seconds if report is not None else None,
    )
    tl.served = dict(served or {})
    tl.ok = result.ok
    return tl


def write_text(tl: Timeline, path: Path) -> None:
    """One boot's boundaries and stage durations as text (kept beside its serial log)."""
    path.write_text(boundaries_table([tl]) + "\n" + table([tl]))


UPSTREAM_SCRIPT = re.compile(r"Running main of script: (\S+)")


def pid1_steps(result: BootResult, *, stack: str) -> list[tuple[str, float]]:
    """Where the LTSP pid-1 stage spends its time: (step, seconds), in order.

    Ours: the `init` stage's step durations from events.jsonl. Upstream: the gaps
    between its "Running main of script: NAME" console lines (printed only with
    LTSP_DEBUG=1 in [clients]), the last one ending at the exec of /sbin/init.
    """
    if stack == "ours":
        report = result.report
        return [
            (str(e.get("step")), float(str(e["duration"])))
            for e in (report.events if report is not None else ())
            if e.get("stage") == "init" and e.get("event") == "end" and "duration" in e
        ]
    begin = _first(result.lines, CONSOLE_MARKERS["pid1_exec"])
    if begin is None:
        return []
    starts = [
        (t, m.group(1))
        for t, text in result.lines
        if t >= begin and (m := UPSTREAM_SCRIPT.search(text))
    ]
    if not starts:
        return []
    end = _first(result.lines, CONSOLE_MARKERS["pid1_exec"], nth=2)
    ends = [t for t, _ in starts[1:]] + [end if end is not None else starts[-1][0]]
    return [(name, round(b - a, 3)) for (a, name), b in zip(starts, ends, strict=True)]


def _fmt(x: float | None) -> str:
    return MISSING if x is None else f"{x:.1f}"


def _dur(start: float | None, end: float | None) -> str:
    return MISSING if start is None or end is None else f"{end - start:.1f}"


def _label(tl: Timeline) -> str:
    return f"{tl.stack}/{tl.method}" + (f" #{tl.run}" if tl.run else "")


def table(timelines: Sequence[Timeline], *, markdown: bool = False) -> str:
    """Per boot: each stage's duration (s), the multi-user time and bytes served."""
    protos = sorted({p for tl in timelines for p, n in tl.served.items() if n})
    head = [
        "boot",
        *(s[0] for s in STAGES),
        "multi-user",
        "(klibc DHCP wait)",
        *(f"{p} MB" for p in protos),
    ]
    rows = []
    for tl in timelines:
        durations = [_dur(a, b) for _, a, b in tl.stages()]
        served = [f"{tl.served.get(p, 0) / 1e6:.1f}" for p in protos]
        rows.append([_label(tl), *durations, _fmt(tl.total()), _fmt(tl.dhcp_wait), *served])
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out) + "\n"
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return (
        "\n".join(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
            for r in [head, *rows]
        )
        + "\n"
    )


def boundaries_table(timelines: Sequence[Timeline], *, markdown: bool = False) -> str:
    """The raw boundary times (s since QEMU start), one column per boundary."""
    head = ["boot", *BOUNDARIES]
    rows = [[_label(tl), *(_fmt(tl.marks.get(b)) for b in BOUNDARIES)] for tl in timelines]
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out) + "\n"
    return "\n".join("  ".join(f"{c:>14}" for c in r) for r in [head, *rows]) + "\n"


def svg(timelines: Sequence[Timeline], *, title: str = "Boot timeline (s since QEMU start)") -> str:
    """A horizontal bar per boot, one coloured segment per stage, with a legend."""
    scale_max = max([tl.total() or 0.0 for tl in timelines] + [10.0])
    scale_max = float(int(scale_max / 10 + 1) * 10)
    left, width, bar_h, gap, top = 150, 720, 22, 10, 40
    px = width / scale_max
    height = top + len(timelines) * (bar_h + gap) + 80
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 30}" height="{height}"'
        ' font-family="sans-serif" font-size="12">',
        f'<text x="10" y="20" font-size="14">{escape(title)}</text>',
    ]
    for i, tl in enumerate(timelines):
        y = top + i * (bar_h + gap)
        out.append(f'<text x="10" y="{y + 15}">{escape(_label(tl))}</text>')
        for (name, a, b), colour in zip(tl.stages(), COLOURS, strict=True):
            if a is None or b is None or b <= a:
                continue
            out.append(
                f'<rect x="{left + a * px:.1f}" y="{y}" width="{(b - a) * px:.1f}" '
                f'height="{bar_h}" fill="{colour}"><title>{escape(name)}: '
                f"{a:.1f} → {b:.1f} s ({b - a:.1f} s)</title></rect>"
            )
        d0, d1 = tl.marks.get("dhcp_start"), tl.marks.get("dhcp_done")
        if d0 is not None and d1 is not None and d1 > d0:
            out.append(
                f'<rect x="{left + d0 * px:.1f}" y="{y + bar_h - 4}" width="{(d1 - d0) * px:.1f}" '
                f'height="4" fill="#000"><title>klibc DHCP wait {d1 - d0:.1f} s</title></rect>'
            )
        total = tl.total()
        if total is not None:
            out.append(f'<text x="{left + total * px + 4:.1f}" y="{y + 15}">{total:.1f} s</text>')
    axis_y = top + len(timelines) * (bar_h + gap)
    out.append(f'<line x1="{left}" y1="{axis_y}" x2="{left + width}" y2="{axis_y}" stroke="#000"/>')
    for s in range(0, int(scale_max) + 1, 10):
        x = left + s * px
        out.append(
            f'<line x1="{x:.1f}" y1="{axis_y}" x2="{x:.1f}" y2="{axis_y + 4}" stroke="#000"/>'
        )
        out.append(f'<text x="{x:.1f}" y="{axis_y + 16}" text-anchor="middle">{s}</text>')
    legend = [*((name, colour) for (name, _, _), colour in zip(STAGES, COLOURS, strict=True))]
    legend.append(("(black line: klibc DHCP wait)", "#000"))
    for j, (name, colour) in enumerate(legend):
        x = 10 + (j % 4) * 210
        y = axis_y + 34 + (j // 4) * 18
        out.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{x + 16}" y="{y}">{escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
