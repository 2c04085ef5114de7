"""lab/timeline.py: boot timelines from console lines and guest events, and their renderings."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from lab import timeline
from lab.vm import BootResult

# An upstream NFS boot as the probe recorded it (host time, then the console text).
UPSTREAM_LINES = [
    (4.49, "net0: 192.168.67.59/255.255.255.0 gw 192.168.67.254"),
    (12.13, "[    0.000000] Linux version 6.1.0-50-amd64 (debian-kernel@lists.debian.org)"),
    (12.60, "[    0.480000] Command line: initrd=ltsp.img initrd=initrd.img root=/dev/nfs"),
    (16.35, "Loading, please wait..."),
    (20.26, "IP-Config: ens3 hardware address 52:54:00:00:00:10 mtu 1500 DHCP RARP"),
    (30.72, "IP-Config: ens3 complete (dhcp from 192.168.67.254):"),
    (33.10, "Begin: Running /scripts/init-bottom ... Running /sbin/ltsp initrd-bottom"),
    (35.97, "[   23.100000] Not activating Mandatory Access Control as /sbin/tomoyo-init ..."),
    (51.54, "[   38.700000] Not activating Mandatory Access Control as /sbin/tomoyo-init ..."),
    (52.24, "Welcome to Debian GNU/Linux 12 (bookworm)!"),
    (70.25, "[  OK  ] Reached target multi-user.target - Multi-User System."),
]


def test_upstream_console_boundaries() -> None:
    tl = timeline.from_console(UPSTREAM_LINES, stack="upstream", method="nfs")
    assert tl.dhcp_wait == pytest.approx(10.46)
    assert tl.marks == {
        "dhcp_start": 20.26,
        "dhcp_done": 30.72,
        "kernel": 12.13,
        "initramfs": 16.35,
        "ltsp_initramfs": 33.10,
        "switch_root": 35.97,
        "pid1": 35.97,
        "systemd": 51.54,
        "multi_user": 70.25,
    }
    stages = {name: (a, b) for name, a, b in tl.stages()}
    assert stages["firmware"] == (0.0, 12.13)
    assert stages["ltsp pid-1 stage"] == (35.97, 51.54)


def test_multi_user_from_systemd_analyze() -> None:
    # "Startup finished ... = 60.0s" is guest time since the kernel started: +12.12 s offset
    lines = [x for x in UPSTREAM_LINES if "Multi-User" not in x[1]]
    tl = timeline.from_console(lines, stack="upstream", method="nfs", startup_seconds=60.0)
    assert tl.marks["multi_user"] == pytest.approx(72.12)
    assert timeline.from_console(lines, stack="upstream", method="nfs").total() is None


def test_events_placed_on_host_clock() -> None:
    # our stack: the LTSP steps come from events.jsonl (CLOCK_BOOTTIME), shifted by the
    # smallest host-minus-printk difference (12.60 - 0.48 here)
    lines = [*UPSTREAM_LINES[:4], (40.0, "Welcome to Debian GNU/Linux 12 (bookworm)!")]
    events = timeline.parse_events(
        [
            'lab: {"t": 5.0, "stage": "initrd-bottom", "step": "mount-root", "event": "start"}',
            'lab: {"t": 7.5, "stage": "initrd-bottom", "step": "mount-root", "event": "end"}',
            "lab: not json",
            '{"t": 8.0, "stage": "init", "step": "plugins", "event": "start"}',
        ]
    )
    assert len(events) == 3
    tl = timeline.from_console(lines, stack="ours", method="nbd", events=events)
    assert tl.marks["ltsp_initramfs"] == pytest.approx(17.12)
    assert tl.marks["switch_root"] == pytest.approx(19.62)
    assert tl.marks["pid1"] == pytest.approx(20.12)
    assert tl.marks["systemd"] == 40.0


def test_init_stage_from_the_initramfs() -> None:
    # init/early.py: the init stage's events come inside initrd-bottom's init-stage step,
    # and the one exec after run-init is the real init's
    lines = [
        *UPSTREAM_LINES[:4],
        (25.0, "[   12.4] Not activating Mandatory Access Control as /sbin/tomoyo-init ..."),
        (26.0, "Welcome to Debian GNU/Linux 12 (bookworm)!"),
    ]
    events = timeline.parse_events(
        [
            '{"t": 5.0, "stage": "initrd-bottom", "step": "facts", "event": "start"}',
            '{"t": 7.0, "stage": "initrd-bottom", "step": "init-stage", "event": "start"}',
            '{"t": 7.1, "stage": "init", "step": "plugins", "event": "start"}',
            '{"t": 7.9, "stage": "init", "step": "restore-init", "event": "end"}',
            '{"t": 8.0, "stage": "initrd-bottom", "step": "init-stage", "event": "end",'
            ' "duration": 1.0}',
        ]
    )
    tl = timeline.from_console(lines, stack="ours", method="nbd", events=events)
    assert tl.marks["switch_root"] == pytest.approx(20.12)
    assert tl.marks["pid1"] == tl.marks["switch_root"], "no pid-1 stage"
    assert tl.marks["systemd"] == 25.0
    assert tl.initramfs_plugins == 1.0


def test_renderings() -> None:
    a = timeline.from_console(UPSTREAM_LINES, stack="upstream", method="nfs")
    a.served = {"tftp": 48_000_000, "nfs": 90_500_000}
    b = timeline.from_console(UPSTREAM_LINES[:4], stack="upstream", method="nbd")
    text = timeline.table([a, b])
    assert "upstream/nfs" in text and "48.0" in text and "70.2" in text and "10.5" in text
    md = timeline.table([a, b], markdown=True)
    assert md.splitlines()[1].startswith("|---|")
    assert md.count("\n") == 4
    root = ET.fromstring(timeline.svg([a, b]))
    rects = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.find("*") is not None]
    # 6 stages (switch_root lasts 0 s upstream) + the DHCP wait line + 2 of the cut-off boot
    assert len(rects) == 9
    assert len([r for r in rects if r.get("y") == "40"]) == 6


def test_pid1_steps_from_upstream_debug_lines(tmp_path: Path) -> None:
    lines = [
        (33.50, "Running main of script: initrd_bottom"),  # initramfs, not pid 1
        (35.97, "[   23.1] Not activating Mandatory Access Control as /sbin/tomoyo-init ..."),
        (40.25, "Running main of script: ro_root"),
        (40.30, "Running main of script: networking"),
        (42.21, "Running main of script: pam"),
        (47.50, "Running main of script: cron"),
        (51.37, "[   38.7] Not activating Mandatory Access Control as /sbin/tomoyo-init ..."),
    ]
    result = BootResult(
        name="u", lines=lines, marks={}, report=None, log_path=tmp_path, ok=True,
        elapsed=60.0, stopped_by="success",
    )  # fmt: skip
    steps = timeline.pid1_steps(result, stack="upstream")
    assert [name for name, _ in steps] == ["ro_root", "networking", "pam", "cron"]
    assert dict(steps)["pam"] == pytest.approx(5.29)
    assert dict(steps)["cron"] == pytest.approx(3.87)
    assert timeline.pid1_steps(result, stack="ours") == []
