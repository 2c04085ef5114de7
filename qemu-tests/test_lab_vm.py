"""lab/vm.py without a VM: QEMU argv, initrd concatenation, phase marks, and
boot_client/boot_clients against a replayed console (success, hard timeout, failure pattern)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from lab import runlog, vm
from lab.netns import LabNetwork


def test_qemu_argv_direct_kernel_and_pxe(tmp_path: Path) -> None:
    direct = vm.qemu_argv(
        tap="tap0", mac="52:54:00:00:00:01", kernel=Path("/k"), initrd=Path("/i"), append="quiet"
    )
    assert direct[:3] == ["qemu-system-x86_64", "-accel", "tcg"]
    assert direct[direct.index("-append") + 1] == f"{vm.DEFAULT_APPEND} quiet"
    assert "-boot" not in direct and direct[direct.index("-initrd") + 1] == "/i"
    assert "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01" in direct
    sock = tmp_path / "s"
    pxe = vm.qemu_argv(tap="tap1", mac="52:54:00:00:00:02", ram_mb=256, serial_socket=sock)
    assert pxe[pxe.index("-boot") + 1] == "n" and "-kernel" not in pxe
    assert pxe[pxe.index("-m") + 1] == "256"
    assert f"unix:{tmp_path}/s,server=on,wait=off" in pxe


def test_qemu_argv_aarch64_virt_board() -> None:
    argv = vm.qemu_argv(
        tap="tap0", mac="52:54:00:00:00:01", kernel=Path("/k"), append="x", arch="aarch64"
    )
    assert argv[:6] == ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a57", "-accel"]
    assert argv[argv.index("-append") + 1] == "console=ttyAMA0 panic=-1 x"


def test_concat_initrds(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"first")
    b.write_bytes(b"second")
    assert vm.concat_initrds([a], tmp_path / "out") == a
    out = vm.concat_initrds([a, b], tmp_path / "out")
    assert out.read_bytes() == b"firstsecond"


def test_boot_plan_kwargs_feed_boot_client() -> None:
    plan = vm.BootPlan(kernel=Path("/k"), initrds=(Path("/i"),), append="x", markers={"m": "r"})
    kwargs = plan.kwargs()
    assert kwargs["kernel"] == Path("/k") and kwargs["markers"] == {"m": "r"}
    assert not kwargs["pxe"]


def test_marks_ignore_the_echoed_kernel_command_line(tmp_path: Path) -> None:
    watcher = vm._Watcher(
        tmp_path / "log",
        marks=vm.DEFAULT_MARKS,
        stop=vm.DEFAULT_STOP,
        success=vm.SUCCESS_REGEX,
        sends=[("login: $", "root")],
        on_line=None,
    )
    watcher.line(1.0, "[    0.000000] Linux version 6.1.0-50-amd64")
    watcher.line(1.1, "[    0.000000] Command line: root=/dev/nfs nfsroot=/x/ltsp ip=dhcp")
    assert set(watcher.marks) == {"kernel"}
    watcher.line(5.0, "IP-Config: ens3 complete (dhcp from 192.168.67.1):")
    watcher.partial("labclient login: ")
    assert watcher.marks["network"] == 5.0 and watcher.to_send == ["root"]
    before = watcher.stopped_by
    watcher.line(6.0, "(initramfs) ")
    assert (before, watcher.stopped_by, watcher.stop_line) == ("", "stop", "(initramfs) ")
    watcher.close()
    assert runlog.read_log(tmp_path / "log")[1] == (1.1, watcher.lines[1][1])


class _FakeConsoleNet(LabNetwork):
    """A network whose "QEMU" is a script replaying a console: boot_client without root."""

    def __init__(self, script: str) -> None:
        super().__init__(prefix="ltl", clients=2)
        self.script = script

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        return [sys.executable, "-c", self.script]


SAMPLE = Path(__file__).with_name("test_lab_sample.serial.log")
REPLAY = f"""
import sys, time
for line in open({str(SAMPLE)!r}):
    print(line.split('] ', 1)[1], end='', flush=True)
    time.sleep(0.001)
time.sleep(60)
"""


def test_boot_client_watches_a_console_until_the_report(tmp_path: Path) -> None:
    net = _FakeConsoleNet(REPLAY)
    result = vm.boot_client(
        net, run_dir=tmp_path, name="c", mac="52:54:00:00:00:01", kernel=Path("/k"), timeout=30
    )
    assert result.ok and result.stopped_by == "success", result.why()
    assert result.report is not None and result.report.hostname == "labclient"
    assert "report" in result.marks and result.elapsed < 30
    assert result.log_path == tmp_path / "c.serial.log"
    assert len(runlog.read_log(result.log_path)) == len(result.lines)
    assert (tmp_path / "c.cmd").read_text().startswith(sys.executable)


def test_boot_client_hard_timeout_kills_the_guest(tmp_path: Path) -> None:
    net = _FakeConsoleNet("import time; print('Linux version 6', flush=True); time.sleep(60)")
    result = vm.boot_client(
        net, run_dir=tmp_path, name="t", mac="52:54:00:00:00:02", pxe=True, timeout=1.5
    )
    assert (result.ok, result.stopped_by) == (False, "timeout")
    assert result.marks == {"kernel": result.marks["kernel"]} and result.elapsed < 10
    assert "serial log: " in result.why() and "Linux version" in result.why()


PANIC = """
import time
print('Kernel panic - not syncing: VFS', flush=True)
time.sleep(0.3)
print('---[ end Kernel panic - not syncing: VFS ]---', flush=True)
time.sleep(60)
"""


def test_boot_clients_runs_several_and_stops_on_failure_patterns(tmp_path: Path) -> None:
    net = _FakeConsoleNet(PANIC)
    results = vm.boot_clients(
        net,
        [
            {
                "run_dir": tmp_path,
                "name": f"p{i}",
                "mac": f"52:54:00:00:00:1{i}",
                "pxe": True,
                "client": i,
                "timeout": 20,
            }
            for i in range(2)
        ],
    )
    assert [r.stopped_by for r in results] == ["stop", "stop"]
    assert all(r.stop_line.startswith("Kernel panic") for r in results)
    # the lines after the failure (the panic trace) are kept too
    assert all(r.grep(r"end Kernel panic") for r in results), results[0].tail()
    assert all(r.elapsed < 10 for r in results)
