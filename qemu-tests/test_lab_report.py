"""lab/report.py: the guest report parser, on a recorded serial log."""

from __future__ import annotations

from pathlib import Path

from lab import report, runlog
from lab.report import parse_report, parse_systemd_time

SAMPLE = Path(__file__).with_name("test_lab_sample.serial.log")


def test_parse_systemd_time() -> None:
    assert parse_systemd_time("17.012s") == 17.012
    assert parse_systemd_time("1min 2.345s") == 62.345
    assert parse_systemd_time("850ms") == 0.85
    assert parse_systemd_time("soon") is None


def test_report_parser_on_a_recorded_serial_log() -> None:
    lines = runlog.read_log(SAMPLE)
    rep = parse_report(lines)
    assert rep is not None, "the sample holds a complete report"
    assert rep.hostname == "labclient"
    assert rep.root is not None and rep.root.fstype == "overlay"
    assert rep.mount("/run/lab-root/lower") is not None
    assert rep.startup_seconds is not None and 5 < rep.startup_seconds < 120
    assert rep.uptime is not None and rep.uptime > rep.startup_seconds / 2
    assert rep.mem_available_kb is not None and rep.mem_available_kb > 50_000
    assert rep.failed_units == ()
    assert "lab.overlay" in rep.cmdline
    assert rep.init.endswith("systemd")
    assert rep.files["/etc/hostname"] == "labclient"
    assert rep.t_end is not None and rep.t_end > 5


def test_report_parser_takes_the_last_complete_block_and_events() -> None:
    tag = report.TAG
    lines = [
        f"[ 1.0] {tag}LAB-REPORT-BEGIN 1",
        f"[ 1.0] {tag}@@ hostname",
        f"[ 1.0] {tag}first",
        f"[ 1.0] {tag}LAB-REPORT-END",
        "noise without the tag",
        f"[ 2.0] {tag}LAB-REPORT-BEGIN 1",
        f"[ 2.0] {tag}@@ hostname",
        f"[ 2.0] {tag}second",
        f"[ 2.0] {tag}@@ failed",
        f"[ 2.0] {tag}\u25cf ltsp.service loaded failed failed LTSP",
        f"[ 2.0] {tag}@@ events",
        f'[ 2.0] {tag}{{"t": 1.5, "step": "mount-root", "event": "end"}}',
        f"[ 2.0] {tag}not json",
        f"[ 2.0] {tag}@@ file /etc/x",
        f"[ 2.0] {tag}a",
        f"[ 2.0] {tag}b",
        f"[ 2.0] {tag}LAB-REPORT-END",
        f"[ 3.0] {tag}LAB-REPORT-BEGIN 1",
        f"[ 3.0] {tag}@@ hostname",
        f"[ 3.0] {tag}incomplete",
    ]
    rep = parse_report(lines)
    assert rep is not None
    assert rep.hostname == "second"
    assert rep.failed_units == ("ltsp.service",)
    assert rep.events == ({"t": 1.5, "step": "mount-root", "event": "end"},)
    assert rep.files == {"/etc/x": "a\nb"}
    assert parse_report(["nothing here"]) is None
