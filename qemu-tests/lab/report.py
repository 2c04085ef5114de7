"""The guest-side boot report: the script and unit baked into lab images, and its parser.

Once systemd has finished booting (polled with `systemd-analyze`, since
`systemctl is-system-running --wait` hangs without dbus), the guest writes a
delimited block to /dev/kmsg; the kernel console carries it to the serial log
even after serial-getty has hung up ttyS0. Every line is tagged ``labreport:``;
sections start with ``@@ NAME``:

    labreport: LAB-REPORT-BEGIN 1
    labreport: @@ hostname
    labreport: labclient
    ...
    labreport: LAB-REPORT-END

Extra files to show can be asked for on the kernel command line:
``lab.report.files=/etc/fstab,/etc/ltsp/ltsp.conf``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

TAG = "labreport: "
BEGIN = "LAB-REPORT-BEGIN"
END = "LAB-REPORT-END"
SECTION = "@@ "
DEFAULT_FILES = ("/etc/hostname", "/etc/fstab", "/etc/ltsp/ltsp.conf")

REPORT_SCRIPT = r"""#!/bin/sh
# ltsp QEMU lab: once boot has finished, print a report to the kernel log
# (/dev/kmsg still reaches the serial console after serial-getty hangs up ttyS0).
i=0
until systemd-analyze >/dev/null 2>&1 || [ "$i" -ge 600 ]; do sleep 0.5; i=$((i+1)); done
echo on > /proc/sys/kernel/printk_devkmsg 2>/dev/null
echo 7 > /proc/sys/kernel/printk 2>/dev/null
files="/etc/hostname /etc/fstab /etc/ltsp/ltsp.conf"
read -r cmdline < /proc/cmdline
for word in $cmdline; do
    case $word in lab.report.files=*) files="$files $(echo "${word#*=}" | tr ',' ' ')" ;; esac
done
section() { echo "@@ $*"; }
{
    echo "LAB-REPORT-BEGIN 1"
    section hostname; cat /proc/sys/kernel/hostname
    section uptime; cat /proc/uptime
    section meminfo; grep -E '^(MemTotal|MemAvailable):' /proc/meminfo
    section analyze; systemd-analyze 2>&1
    section failed; systemctl --failed --no-legend --plain 2>&1
    section mounts
    while read -r _ _ _ _ target opts rest; do
        tail=${rest#*- }
        echo "$target ${tail%% *} $(echo "$tail" | cut -d' ' -f2) $opts"
    done < /proc/self/mountinfo
    section cmdline; cat /proc/cmdline
    section init; readlink -f /sbin/init
    section run-ltsp; ls -1A /run/ltsp 2>&1
    for f in $files; do
        [ -e "$f" ] || continue
        section "file $f"; head -c 8000 "$f"; echo
    done
    section events; cat /run/ltsp/events.jsonl 2>/dev/null
    echo "LAB-REPORT-END"
} 2>&1 | while IFS= read -r line; do printf '<5>labreport: %s\n' "$line" > /dev/kmsg; done
"""

REPORT_UNIT = """[Unit]
Description=ltsp QEMU lab: boot report on the console
After=multi-user.target

[Service]
Type=simple
StandardOutput=journal
ExecStart=/usr/local/sbin/lab-report

[Install]
WantedBy=multi-user.target
"""


@dataclass(frozen=True)
class Mount:
    target: str
    fstype: str
    source: str
    options: str


@dataclass(frozen=True)
class Report:
    """What the guest said about itself once boot had finished."""

    hostname: str
    uptime: float | None
    mem_total_kb: int | None
    mem_available_kb: int | None
    analyze: str
    startup_seconds: float | None
    failed_units: tuple[str, ...]
    mounts: tuple[Mount, ...]
    cmdline: str
    init: str
    run_ltsp: tuple[str, ...]
    files: dict[str, str]
    events: tuple[dict[str, Any], ...]
    sections: dict[str, tuple[str, ...]] = field(repr=False)
    t_end: float | None = None

    def mount(self, target: str) -> Mount | None:
        """The last (topmost) mount at target."""
        found = None
        for m in self.mounts:
            if m.target == target:
                found = m
        return found

    @property
    def root(self) -> Mount | None:
        return self.mount("/")

    def summary(self) -> str:
        root = self.root
        return (
            f"hostname={self.hostname} root={root.fstype if root else '?'}:"
            f"{root.source if root else '?'} startup={self.startup_seconds}s "
            f"uptime={self.uptime}s MemAvailable={self.mem_available_kb}kB "
            f"failed={list(self.failed_units)}"
        )


_TIME_PART = re.compile(r"(\d+(?:\.\d+)?)(min|ms|us|h|s)\b")
_UNITS = {"h": 3600.0, "min": 60.0, "s": 1.0, "ms": 0.001, "us": 0.000001}


def parse_systemd_time(text: str) -> float | None:
    """'1min 2.345s' -> 62.345; None when there is no time in it."""
    parts = _TIME_PART.findall(text)
    if not parts:
        return None
    return round(sum(float(n) * _UNITS[u] for n, u in parts), 6)


def _text(line: str | tuple[float, str]) -> tuple[float | None, str]:
    if isinstance(line, tuple):
        return line
    return None, line


def _split_blocks(lines: Iterable[str | tuple[float, str]]) -> list[tuple[list[str], float | None]]:
    blocks: list[tuple[list[str], float | None]] = []
    current: list[str] | None = None
    for item in lines:
        t, text = _text(item)
        pos = text.find(TAG)
        if pos < 0:
            continue
        body = text[pos + len(TAG) :].rstrip("\r\n")
        if body.startswith(BEGIN):
            current = []
        elif body.startswith(END):
            if current is not None:
                blocks.append((current, t))
            current = None
        elif current is not None:
            current.append(body)
    return blocks


def parse_report(lines: Iterable[str | tuple[float, str]]) -> Report | None:
    """Parse the last complete report in console lines (str or (t, str)); None if there is none."""
    blocks = _split_blocks(lines)
    if not blocks:
        return None
    body, t_end = blocks[-1]
    sections: dict[str, list[str]] = {}
    name = ""
    for line in body:
        if line.startswith(SECTION):
            name = line[len(SECTION) :].strip()
            sections.setdefault(name, [])
        else:
            sections.setdefault(name, []).append(line)

    def first(key: str) -> str:
        got = sections.get(key, [])
        return got[0].strip() if got else ""

    meminfo: dict[str, int] = {}
    for line in sections.get("meminfo", []):
        key, _, value = line.partition(":")
        if value.split():
            meminfo[key.strip()] = int(value.split()[0])
    analyze = "\n".join(sections.get("analyze", []))
    startup = None
    m = re.search(r"=\s*([^\n]+?)\s*$", analyze.splitlines()[0]) if analyze else None
    if m and "Startup finished" in analyze:
        startup = parse_systemd_time(m.group(1))
    mounts = []
    for line in sections.get("mounts", []):
        parts = line.split(" ", 3)
        if len(parts) == 4:
            mounts.append(Mount(*parts))
    uptime_words = first("uptime").split()
    events = []
    for line in sections.get("events", []):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            events.append(value)
    files = {
        key[len("file ") :]: "\n".join(value).rstrip("\n")
        for key, value in sections.items()
        if key.startswith("file ")
    }
    failed = tuple(
        line.split()[0].lstrip("●*").strip() or line.split()[1]
        for line in sections.get("failed", [])
        if line.split()
    )
    return Report(
        hostname=first("hostname"),
        uptime=float(uptime_words[0]) if uptime_words else None,
        mem_total_kb=meminfo.get("MemTotal"),
        mem_available_kb=meminfo.get("MemAvailable"),
        analyze=analyze,
        startup_seconds=startup,
        failed_units=failed,
        mounts=tuple(mounts),
        cmdline=first("cmdline"),
        init=first("init"),
        run_ltsp=tuple(x for x in sections.get("run-ltsp", []) if "No such file" not in x),
        files=files,
        events=tuple(events),
        sections={k: tuple(v) for k, v in sections.items()},
        t_end=t_end,
    )
