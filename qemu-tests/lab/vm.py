"""QEMU clients: boot one (or several) with a chosen MAC and RAM, watch the serial console.

QEMU runs inside the lab namespace under TCG (no KVM here) with a virtio NIC on
`net.tap(client)`. With `kernel=` it boots that kernel directly (the initrds are
concatenated into one file in the run dir); otherwise it PXE-boots through the
iPXE ROM that QEMU ships. Every console line is stored with the host-side time
since QEMU started (`[  12.345] text`, in `run_dir/<name>.serial.log`); marker
regexes record when a boot phase is first seen; the boot ends when the stop
regex matches, QEMU exits, or the hard timeout expires, and QEMU is always
killed by PID. A second serial port (ttyS1, a root shell in lab images) is a
unix socket: `socat -,raw,echo=0 UNIX-CONNECT:run_dir/<name>.ttyS1.sock`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import resource
import select
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab import LabError
from lab.netns import LabNetwork, kill_pid
from lab.report import Report, parse_report
from lab.runlog import Line, clean_console, format_line

log = logging.getLogger(__name__)

# Boot phases as seen on the console (first match wins); names are the demo's timeline.
DEFAULT_MARKS: dict[str, str] = {
    "ipxe": r"^net0: \d+\.\d+\.\d+\.\d+/",
    "kernel": r"Linux version \d",
    "initramfs": r"Loading, please wait|Run /init as init process|NETINIT.*start",
    "network": r"IP-Config: \S+ complete|NETINIT.*dhcp:",
    "root_mounted": (
        r"Running /scripts/init-bottom|lab-overlay: |NETINIT.*(nbd connected|nfs mounted)"
        r"|EXT4-fs \(nbd0\): mounted"
    ),
    "switch_root": r"Not activating Mandatory Access Control|SWITCH_ROOT",
    "systemd": r"systemd\[1\]: systemd \d+ running|Welcome to ",
    "ltsp_init_done": r"ltsp init: .*exec ",
    "multi_user": r"Reached target.*Multi-User",
    "login_prompt": r"\S login: ",
    "report": r"LAB-REPORT-END",
}
_CMDLINE = re.compile(r"[Cc]ommand line: ")
SUCCESS_REGEX = r"LAB-REPORT-END"
DEFAULT_STOP = (
    r"LAB-REPORT-END|Kernel panic|\(initramfs\) |FATAL|ALERT! |reboot: (Power down|Restarting)"
)
DEFAULT_APPEND = "console=ttyS0,115200 panic=-1"
# QEMU per guest architecture: binary, machine options, serial console; aarch64 is the
# `virt` board (PL011 console, one UART, so no ttyS1 socket), for the arm64 lab boot; a
# Cortex-A57 (ARMv8.0) is emulated faster by TCG than `max` (no pointer authentication)
MACHINES = {
    "x86_64": ("qemu-system-x86_64", (), DEFAULT_APPEND),
    "aarch64": (
        "qemu-system-aarch64",
        ("-M", "virt", "-cpu", "cortex-a57"),
        "console=ttyAMA0 panic=-1",
    ),
}
FAILURE_GRACE = 2.0  # seconds of console kept after a failure pattern (panic traces)


@dataclass
class BootResult:
    """What one boot produced; `ok` means the success regex was seen before any stop/timeout."""

    name: str
    lines: list[Line]
    marks: dict[str, float]
    report: Report | None
    log_path: Path
    ok: bool
    elapsed: float
    stopped_by: str  # "success", "stop" (a failure pattern), "timeout", "exit"
    argv: list[str] = field(default_factory=list)
    stop_line: str = ""

    def tail(self, n: int = 25) -> str:
        return "\n".join(format_line(t, text) for t, text in self.lines[-n:])

    def why(self) -> str:
        """A message for assertions: how the boot ended, where the serial log is, its tail."""
        end = f" at: {self.stop_line!r}" if self.stop_line else ""
        return (
            f"client {self.name}: {self.stopped_by} after {self.elapsed:.1f}s{end}\n"
            f"serial log: {self.log_path}\nmarks: {self.marks}\n--- last lines ---\n{self.tail()}"
        )

    def timeline(self) -> str:
        rows = [f"  {'qemu_start':<14} {0.0:7.2f} s"]
        prev = 0.0
        for name, t in sorted(self.marks.items(), key=lambda kv: kv[1]):
            rows.append(f"  {name:<14} {t:7.2f} s  (+{t - prev:.2f})")
            prev = t
        return "\n".join(rows)

    def grep(self, pattern: str) -> list[str]:
        rx = re.compile(pattern)
        return [text for _, text in self.lines if rx.search(text)]


@dataclass(frozen=True)
class BootPlan:
    """How to boot a client of some stack: boot_client's boot keywords, prepared by a stack."""

    kernel: Path | None = None
    initrds: tuple[Path, ...] = ()
    append: str = ""
    pxe: bool = False
    markers: Mapping[str, str] = field(default_factory=dict)
    stop_regex: str = DEFAULT_STOP
    success_regex: str = SUCCESS_REGEX

    def kwargs(self) -> dict[str, Any]:
        return {
            "kernel": self.kernel,
            "initrds": self.initrds,
            "append": self.append,
            "pxe": self.pxe,
            "markers": dict(self.markers),
            "stop_regex": self.stop_regex,
            "success_regex": self.success_regex,
        }


def concat_initrds(initrds: Sequence[Path], out: Path) -> Path:
    """The kernel accepts concatenated (compressed) cpio archives as one initrd."""
    if len(initrds) == 1:
        return Path(initrds[0])
    with out.open("wb") as dst:
        for path in initrds:
            with Path(path).open("rb") as src:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
    return out


def qemu_argv(
    *,
    tap: str,
    mac: str,
    ram_mb: int = 512,
    kernel: Path | None = None,
    initrd: Path | None = None,
    append: str = "",
    serial_socket: Path | None = None,
    extra: Sequence[str] = (),
    arch: str = "x86_64",
) -> list[str]:
    """QEMU's own argv (without the netns prefix); PXE boot when no kernel is given."""
    binary, machine, default_append = MACHINES[arch]
    argv = [
        binary,
        *machine,
        "-accel",
        "tcg",
        "-m",
        str(ram_mb),
        "-smp",
        "1",
        "-nographic",
        "-no-reboot",
        "-serial",
        "mon:stdio",
    ]
    if serial_socket is not None:
        argv += ["-serial", f"unix:{serial_socket},server=on,wait=off"]
    argv += [
        "-netdev",
        f"tap,id=n0,ifname={tap},script=no,downscript=no",
        "-device",
        f"virtio-net-pci,netdev=n0,mac={mac}",
    ]
    if kernel is not None:
        argv += ["-kernel", str(kernel)]
        if initrd is not None:
            argv += ["-initrd", str(initrd)]
        argv += ["-append", f"{default_append} {append}".strip()]
    else:
        argv += ["-boot", "n"]
    return [*argv, *extra]


class _Watcher:
    """Reads QEMU's console, timestamps lines, applies marks, sends and the stop regex."""

    def __init__(
        self,
        log_file: Path,
        *,
        marks: Mapping[str, str],
        stop: str,
        success: str,
        sends: Sequence[tuple[str, str]],
        on_line: Callable[[float, str], None] | None,
    ) -> None:
        self.out = log_file.open("w", encoding="utf-8")
        self.marks_rx = {k: re.compile(v) for k, v in marks.items()}
        self.stop_rx = re.compile(stop)
        self.success_rx = re.compile(success)
        self.sends = [(re.compile(rx), text) for rx, text in sends]
        self.sent: set[int] = set()
        self.on_line = on_line
        self.lines: list[Line] = []
        self.marks: dict[str, float] = {}
        self.stopped_by = ""
        self.stop_line = ""
        self.to_send: list[str] = []

    def line(self, t: float, raw: str) -> None:
        text = clean_console(raw)
        self.lines.append((t, text))
        self.out.write(format_line(t, text) + "\n")
        self.out.flush()
        if self.on_line is not None:
            self.on_line(t, text)
        if not _CMDLINE.search(text):  # the echoed command line would match anything
            for name, rx in self.marks_rx.items():
                if name not in self.marks and rx.search(text):
                    self.marks[name] = round(t, 3)
        self.partial(text)
        if not self.stopped_by:
            if self.success_rx.search(text):
                self.stopped_by, self.stop_line = "success", text
            elif self.stop_rx.search(text):
                self.stopped_by, self.stop_line = "stop", text

    def partial(self, text: str) -> None:
        """Prompts come without a newline: sends and failure patterns also look at partial lines."""
        for i, (rx, reply) in enumerate(self.sends):
            if i not in self.sent and rx.search(text):
                self.sent.add(i)
                self.to_send.append(reply)

    def close(self) -> None:
        self.out.close()


def guest_cpu_seconds() -> float:
    """CPU seconds of this process's reaped children: the QEMU of every boot done so far
    (under TCG, all of a guest's CPU time). Take the difference around a boot."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def boot_client(
    net: LabNetwork,
    *,
    run_dir: Path,
    name: str,
    mac: str,
    ram_mb: int = 512,
    kernel: Path | None = None,
    initrds: Sequence[Path] = (),
    append: str = "",
    pxe: bool = False,
    timeout: float = 300,
    stop_regex: str = DEFAULT_STOP,
    success_regex: str = SUCCESS_REGEX,
    markers: Mapping[str, str] | None = None,
    client: int = 0,
    sends: Sequence[tuple[str, str]] = (),
    extra_qemu_args: Sequence[str] = (),
    on_line: Callable[[float, str], None] | None = None,
    keep: bool = False,
    arch: str = "x86_64",
) -> BootResult:
    """Boot one client and watch it until success, a failure pattern, QEMU's exit or `timeout`.

    `markers` add to (or override) DEFAULT_MARKS. `sends` are (regex, text) pairs: when the
    regex first shows on the console, text + newline is typed into the serial port. With
    `keep`, a client that booted successfully keeps running (its console still logged) until
    the network is torn down, e.g. to log in on ttyS1. `arch="aarch64"` boots QEMU's `virt`
    board (direct kernel boot only).
    """
    if pxe == (kernel is not None):
        raise LabError("boot_client needs exactly one of kernel= (direct boot) or pxe=True")
    run_dir.mkdir(parents=True, exist_ok=True)
    initrd = concat_initrds(initrds, run_dir / f"{name}.initrd") if initrds else None
    sock = run_dir / f"{name}.ttyS1.sock"
    sock.unlink(missing_ok=True)
    argv = net.exec_argv(
        qemu_argv(
            tap=net.tap(client),
            mac=mac,
            ram_mb=ram_mb,
            kernel=kernel,
            initrd=initrd,
            append=append,
            serial_socket=sock if arch == "x86_64" else None,
            extra=extra_qemu_args,
            arch=arch,
        )
    )
    log_path = run_dir / f"{name}.serial.log"
    (run_dir / f"{name}.cmd").write_text(" ".join(argv) + "\n")
    watcher = _Watcher(
        log_path,
        marks={**DEFAULT_MARKS, **(markers or {})},
        stop=stop_regex,
        success=success_regex,
        sends=sends,
        on_line=on_line,
    )
    t0 = time.monotonic()
    kept = False
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        watcher.close()
        raise LabError(f"cannot start QEMU: {exc}", hint="is qemu-system-x86 installed?") from exc
    net.track(proc)
    log.info("client %s (%s) started, serial log %s", name, mac, log_path)
    assert proc.stdout is not None and proc.stdin is not None
    fd = proc.stdout.fileno()
    buf = b""
    try:
        while not watcher.stopped_by:
            if time.monotonic() - t0 > timeout:
                watcher.stopped_by = "timeout"
                break
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                if buf:  # a prompt without newline: sends and failure patterns still apply
                    text = clean_console(buf.decode(errors="replace"))
                    watcher.partial(text)
                    if re.search(stop_regex, text):
                        watcher.line(time.monotonic() - t0, text)
                        buf = b""
            else:
                chunk = os.read(fd, 65536)
                if not chunk:
                    watcher.stopped_by = "exit"
                    break
                buf = _lines(watcher, buf + chunk, time.monotonic() - t0)
                if buf:
                    watcher.partial(clean_console(buf.decode(errors="replace")))
            while watcher.to_send:
                text = watcher.to_send.pop(0)
                with contextlib.suppress(OSError):
                    proc.stdin.write(text.encode() + b"\n")
                    proc.stdin.flush()
        if watcher.stopped_by == "stop":  # keep what follows a panic or FATAL line
            buf = _read_for(fd, watcher, buf, t0, FAILURE_GRACE)
        if buf:
            watcher.line(time.monotonic() - t0, buf.decode(errors="replace"))
        kept = keep and watcher.stopped_by == "success" and proc.poll() is None
    finally:
        elapsed = time.monotonic() - t0
        if kept:
            # keep the console flowing into the log; the network's teardown stops QEMU
            threading.Thread(target=_drain, args=(fd, watcher, t0), daemon=True).start()
        else:
            if proc.poll() is None:
                kill_pid(proc.pid, wait=2.0)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
            for pipe in (proc.stdin, proc.stdout):
                with contextlib.suppress(OSError):
                    pipe.close()
            net.untrack(proc)
            watcher.close()
            sock.unlink(missing_ok=True)
    result = BootResult(
        name=name,
        lines=watcher.lines,
        marks=watcher.marks,
        report=parse_report(watcher.lines),
        log_path=log_path,
        ok=watcher.stopped_by == "success",
        elapsed=round(elapsed, 3),
        stopped_by=watcher.stopped_by,
        argv=argv,
        stop_line=watcher.stop_line,
    )
    log.info("client %s: %s after %.1fs", name, result.stopped_by, result.elapsed)
    return result


def _lines(watcher: _Watcher, buf: bytes, t: float) -> bytes:
    """Hand every complete line in buf to the watcher; return the incomplete rest."""
    *complete, rest = buf.split(b"\n")
    for raw in complete:
        watcher.line(t, raw.decode(errors="replace"))
    return rest


def _read_for(fd: int, watcher: _Watcher, buf: bytes, t0: float, seconds: float) -> bytes:
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buf = _lines(watcher, buf + chunk, time.monotonic() - t0)
    return buf


def _drain(fd: int, watcher: _Watcher, t0: float) -> None:
    buf = b""
    try:
        while chunk := os.read(fd, 65536):
            buf = _lines(watcher, buf + chunk, time.monotonic() - t0)
    except (OSError, ValueError):
        pass
    finally:
        with contextlib.suppress(ValueError):
            watcher.close()


def boot_clients(net: LabNetwork, clients: Sequence[Mapping[str, object]]) -> list[BootResult]:
    """Boot several clients at once (one thread each); each mapping holds boot_client's keywords.

    Mind the machine: every TCG guest wants a whole core.
    """
    results: list[BootResult | BaseException | None] = [None] * len(clients)

    def one(i: int) -> None:
        try:
            results[i] = boot_client(net, **clients[i])  # type: ignore[arg-type]
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(clients))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    out: list[BootResult] = []
    for r in results:
        if isinstance(r, BaseException):
            raise r
        assert r is not None
        out.append(r)
    return out
