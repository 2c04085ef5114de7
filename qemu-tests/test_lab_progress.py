"""lab/progress.py and the image builder's phases: a newcomer sees what runs and for how long."""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

from lab import image
from lab.progress import Progress, fmt_seconds, load_times


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_name_each_phase_with_elapsed_and_expected_time() -> None:
    out = io.StringIO()
    progress = Progress("lab image", {"download": 40, "squashfs": 75}, stream=out)
    with progress.phase("download"):
        pass
    progress.begin("squashfs")
    progress.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == "lab image: download ... (expected ~40 s)"
    assert lines[1].startswith("lab image: download done in 0 s (expected ~40 s)")
    assert lines[2] == "lab image: squashfs ... (expected ~1:15)"
    assert lines[3].startswith("lab image: squashfs done in 0 s")
    assert lines[4] == "lab image: finished in 0 s (expected ~1:55)"
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()
    assert set(progress.measured) == {"download", "squashfs"}


def test_terminal_gets_a_redrawn_bar_while_a_phase_runs() -> None:
    out = FakeTty()
    progress = Progress("lab image", {"download": 100, "kernel": 100}, stream=out, interval=0.02)
    deadline = time.monotonic() + 20  # a loaded machine may schedule the ticker late
    with progress.phase("download"):
        while out.getvalue().count("\r\x1b[K") < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
    progress.close()
    text = out.getvalue()
    assert text.count("\r\x1b[K") >= 5, text  # the ticker redrew the line several times
    assert "lab image: [" in text and re.search(r"download \d+ s of ~1:40", text), text
    assert re.search(r"download done in \d+ s \(expected ~1:40\)\n", text), text
    assert re.search(r"lab image: finished in \d+ s \(expected ~3:20\)\n$", text), text


def test_status_line_bar_and_totals() -> None:
    progress = Progress("x", {"a": 10, "b": 30}, stream=io.StringIO())
    progress.begin("a")
    line = progress.status_line(now=progress.start + 21)
    assert line.startswith("x: [############............] a 21 s of ~10 s, total 21 s of ~40 s")
    progress.drop("b")
    assert progress.total_expected == 10


def test_fmt_seconds() -> None:
    assert [fmt_seconds(s) for s in (0.4, 59, 60, 245.6)] == ["0 s", "59 s", "1:00", "4:06"]


def test_debootstrap_lines_switch_phases(tmp_path: Path) -> None:
    fake = tmp_path / "debootstrap"
    fake.write_text(
        "#!/bin/sh\n"
        "echo 'I: Retrieving InRelease'\n"
        "echo 'I: Chosen extractor for .deb packages: dpkg-deb'\n"
        "echo 'I: Extracting adduser...'\n"
        "echo 'I: Installing core packages...' >&2\n"
        "echo 'I: Unpacking the base system...'\n"
        "echo 'I: Configuring linux-image-6.1.0-9-amd64...'\n"
        "echo 'I: Configuring linux-image-amd64...'\n"
        "echo 'I: Base system installed successfully.'\n"
        "exit 3\n"
    )
    fake.chmod(0o755)
    out = io.StringIO()
    progress = Progress("lab image", image.DEFAULT_TIMES, stream=out)
    status, output = image.debootstrap([str(fake)], progress, timeout=30)
    assert status == 3 and "Installing core packages" in output
    starts = [line for line in out.getvalue().splitlines() if line.endswith(")") and "..." in line]
    assert [s.split(": ", 1)[1].split(" ...")[0] for s in starts] == [
        "debootstrap: download",
        "debootstrap: extract",
        "debootstrap: required packages",
        "packages",
        "kernel",
    ]
    assert progress.current is None


def test_build_times_are_remembered_for_the_next_build(tmp_path: Path) -> None:
    progress = Progress("lab image", image.DEFAULT_TIMES, stream=io.StringIO())
    progress.measured.update({"squashfs": 12.34})
    image.save_times(tmp_path, progress)
    assert json.loads(image.times_file(tmp_path).read_text()) == {"squashfs": 12.3}
    assert image.new_progress(tmp_path).expected["squashfs"] == 12.3
    assert image.new_progress(tmp_path).expected["kernel"] == image.DEFAULT_TIMES["kernel"]
    image.times_file(tmp_path).write_text("not json")
    assert load_times(image.times_file(tmp_path)) == {}
