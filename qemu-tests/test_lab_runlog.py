"""lab/runlog.py: run directories, their log format and pruning."""

from __future__ import annotations

from pathlib import Path

from lab import runlog


def test_runlog_round_trip_and_escape_cleaning(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    runlog.write_log(path, [(0.5, "a"), (12.25, runlog.clean_console("\x1b[0;32m OK \x1b[0m\r"))])
    assert runlog.read_log(path) == [(0.5, "a"), (12.25, " OK ")]
    first = runlog.new_run_dir("x", root=tmp_path)
    second = runlog.new_run_dir("x", root=tmp_path)
    assert first != second and first.is_dir() and second.is_dir()


def test_old_run_directories_are_pruned_but_not_recent_ones(tmp_path: Path) -> None:
    import os

    names = [f"20261101-0000{i:02d}-x" for i in range(6)]
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / "client0.serial.log").write_text("log\n")
    now = 10_000_000.0
    for name in names[:4]:
        os.utime(tmp_path / name, (now - 7200, now - 7200))  # old runs
    for name in names[4:]:
        os.utime(tmp_path / name, (now, now))
    os.utime(tmp_path / names[0], (now, now))  # oldest by name, but touched just now
    removed = runlog.prune_runs(tmp_path, keep=2, now=now)
    assert sorted(p.name for p in removed) == names[1:4]
    assert sorted(p.name for p in tmp_path.iterdir()) == [names[0], *names[4:]]
