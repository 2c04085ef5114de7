"""Progress of a long lab job (building the image): each phase, its elapsed and expected time.

On a terminal one line is redrawn every half second with a bar; otherwise
(CI, a pipe, a log file) each phase prints a plain start line and an end
line. Expected durations are what the last build on this machine took
(a small JSON file next to the build logs), else the defaults measured when
this was written. Output goes to stderr, so stdout stays the program's own.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TextIO

BAR_WIDTH = 24


def fmt_seconds(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


def load_times(path: Path) -> dict[str, float]:
    """Phase durations of the last complete build ({} if none or unreadable)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, int | float)}


class Progress:
    """`with progress.phase("squashfs"): ...` prints what runs, for how long, of how long."""

    def __init__(
        self,
        title: str,
        expected: Mapping[str, float],
        *,
        stream: TextIO | None = None,
        tty: bool | None = None,
        interval: float = 0.5,
    ) -> None:
        self.title = title
        self.expected = dict(expected)
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval = interval
        self.measured: dict[str, float] = {}
        self.start = time.monotonic()
        self._current: str | None = None
        self._phase_start = self.start
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    @property
    def current(self) -> str | None:
        return self._current

    @property
    def total_expected(self) -> float:
        return sum(self.expected.values())

    def drop(self, *names: str) -> None:
        """These phases will not run (their result is cached): expect nothing from them."""
        for name in names:
            self.expected.pop(name, None)

    def _remaining_expected(self) -> float:
        done = set(self.measured)
        return sum(v for k, v in self.expected.items() if k not in done)

    def _write(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.stream.write(text)
            self.stream.flush()

    def status_line(self, now: float | None = None) -> str:
        """The live line: bar over the whole job, phase elapsed / expected, total."""
        now = time.monotonic() if now is None else now
        total = now - self.start
        expected_total = sum(self.measured.values()) + self._remaining_expected()
        fraction = min(total / expected_total, 0.99) if expected_total else 0.0
        filled = int(fraction * BAR_WIDTH)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        name = self._current or ""
        took = now - self._phase_start
        want = self.expected.get(name)
        phase = f"{name} {fmt_seconds(took)}" + (f" of ~{fmt_seconds(want)}" if want else "")
        return (
            f"{self.title}: [{bar}] {phase}, "
            f"total {fmt_seconds(total)} of ~{fmt_seconds(expected_total)}"
        )

    @staticmethod
    def _fit(line: str) -> str:
        """One terminal row: a wrapped line could not be redrawn in place."""
        return line[: max(20, shutil.get_terminal_size().columns - 1)]

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                if self._current is not None:
                    self._write("\r\x1b[K" + self._fit(self.status_line()))

    def begin(self, name: str) -> None:
        """Start phase `name` (ending the current one, if any)."""
        with self._lock:
            self._end_locked()
            self._current = name
            self._phase_start = time.monotonic()
            want = self.expected.get(name)
            if not self.tty:
                hint = f" (expected ~{fmt_seconds(want)})" if want else ""
                self._write(f"{self.title}: {name} ...{hint}\n")
            else:
                self._write("\r\x1b[K" + self._fit(self.status_line()))
                if self._ticker is None:
                    self._ticker = threading.Thread(target=self._tick, daemon=True)
                    self._ticker.start()

    def _end_locked(self) -> None:
        if self._current is None:
            return
        took = time.monotonic() - self._phase_start
        self.measured[self._current] = self.measured.get(self._current, 0.0) + took
        line = f"{self.title}: {self._current} done in {fmt_seconds(took)}"
        want = self.expected.get(self._current)
        if want:
            line += f" (expected ~{fmt_seconds(want)})"
        self._write(("\r\x1b[K" if self.tty else "") + line + "\n")
        self._current = None

    def end(self) -> None:
        with self._lock:
            self._end_locked()

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.begin(name)
        try:
            yield
        finally:
            self.end()

    def close(self) -> None:
        """End the last phase, stop the ticker and print the total."""
        self.end()
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        total = time.monotonic() - self.start
        self._write(
            f"{self.title}: finished in {fmt_seconds(total)} "
            f"(expected ~{fmt_seconds(self.total_expected)})\n"
        )
