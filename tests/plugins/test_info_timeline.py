"""`ltsp info --timeline`: the boot timeline from the events file, as a table and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ltsp_client.applet import Context
from ltsp_client.errors import LtspError
from ltsp_client.log import EventLog, step
from ltsp_client.server import info

RECORDS = [
    {"t": 2.5, "stage": "initrd-bottom", "pid": 200, "step": "mount-root", "event": "start"},
    {"t": 2.6, "stage": "initrd-bottom", "pid": 200, "step": "nbd", "event": "start"},
    {
        "t": 3.1,
        "stage": "initrd-bottom",
        "pid": 200,
        "step": "nbd",
        "event": "end",
        "duration": 0.5,
    },
    {
        "t": 3.25,
        "stage": "initrd-bottom",
        "pid": 200,
        "step": "mount-root",
        "event": "end",
        "duration": 0.75,
    },
    {"t": 4.0, "stage": "init", "pid": 1, "step": "plugin:hostname", "event": "start"},
    {
        "t": 4.01,
        "stage": "init",
        "pid": 1,
        "step": "plugin:hostname",
        "event": "fail",
        "duration": 0.01,
        "error": "no IP",
    },
    {"t": 4.2, "stage": "init", "pid": 1, "step": "plugin:cups", "event": "start"},
    {
        "t": 4.3,
        "stage": "init",
        "pid": 1,
        "step": "exec-init",
        "event": "exec",
        "path": "/sbin/init",
    },
]


def write(path: Path, records: list[dict[str, object]], extra: str = "") -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + extra)
    return path


def test_rows_pair_start_and_end_with_nesting(tmp_path: Path) -> None:
    records, bad = info.read_events(write(tmp_path / "e.jsonl", RECORDS, "not json\n\n[1]\n"))
    assert bad == 2
    rows = info.timeline(records)
    assert [(r.step, r.depth, r.start, r.duration, r.status) for r in rows] == [
        ("mount-root", 0, 2.5, 0.75, "ok"),
        ("nbd", 1, 2.6, 0.5, "ok"),
        ("plugin:hostname", 0, 4.0, 0.01, "failed"),
        ("plugin:cups", 0, 4.2, None, "running"),
        ("exec-init", 1, 4.3, None, "exec"),
    ]
    assert rows[2].error == "no IP"


def test_table_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = write(tmp_path / "e.jsonl", RECORDS)
    assert (
        info.main(Context.from_environment("info", {}), ["--timeline", "--events", str(events)])
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["STAGE", "STEP", "START", "TOOK", "STATUS"]
    assert lines[1].split() == ["initrd-bottom", "mount-root", "2.500", "0.750", "ok"]
    assert lines[2].split() == ["initrd-bottom", "nbd", "2.600", "0.500", "ok"]
    assert lines[2].index("nbd") > lines[1].index("mount-root"), "nested steps are indented"
    assert lines[3].split() == ["init", "plugin:hostname", "4.000", "0.010", "failed:", "no", "IP"]
    assert lines[-1] == "first step at 2.500s after boot; last event at 4.300s"


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = write(tmp_path / "e.jsonl", RECORDS)
    info.main(
        Context.from_environment("info", {}), ["--timeline", "--json", "--events", str(events)]
    )
    rows = json.loads(capsys.readouterr().out)
    assert rows[0] == {
        "stage": "initrd-bottom",
        "step": "mount-root",
        "depth": 0,
        "pid": 200,
        "start": 2.5,
        "duration": 0.75,
        "status": "ok",
        "error": "",
    }


def test_events_written_by_the_real_log_module(tmp_path: Path) -> None:
    from ltsp_client import log as ltsp_log

    path = tmp_path / "events.jsonl"
    saved = ltsp_log.events
    ltsp_log.events = EventLog(path=path, stage="init")
    try:
        with step("outer"), step("inner"):
            pass
        with pytest.raises(ValueError), step("broken"):
            raise ValueError("bad")
    finally:
        ltsp_log.events = saved
    rows = info.timeline(info.read_events(path)[0])
    assert [(r.stage, r.step, r.depth, r.status) for r in rows] == [
        ("init", "outer", 0, "ok"),
        ("init", "inner", 1, "ok"),
        ("init", "broken", 0, "failed"),
    ]
    assert all(r.duration is not None and r.duration >= 0 for r in rows)


def test_missing_file_is_an_error_with_hint(tmp_path: Path) -> None:
    with pytest.raises(LtspError) as caught:
        info.read_events(tmp_path / "nope.jsonl")
    assert caught.value.hint


def test_versions(capsys: pytest.CaptureFixture[str]) -> None:
    assert info.main(Context.from_environment("info", {}), []) == 0
    out = capsys.readouterr().out
    assert out.startswith("ltsp ") and "\npython 3." in out and "\nkernel " in out
