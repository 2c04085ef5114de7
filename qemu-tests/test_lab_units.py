"""Quick tests of the lab's pure parts: config generators, QEMU argv, report parser, run logs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from lab import LabError, image, report, runlog, services, vm
from lab.netns import LabNetwork
from lab.report import parse_report, parse_systemd_time

SAMPLE = Path(__file__).with_name("test_lab_sample.serial.log")


def test_dnsmasq_full_dhcp_conf_has_leases_boot_script_and_speedups(tmp_path: Path) -> None:
    text = services.dnsmasq_conf(
        mode="dhcp",
        run_dir=tmp_path,
        tftp_root=tmp_path / "tftp",
        hosts={"52:54:00:00:00:01": "192.168.67.11"},
    )
    lines = text.splitlines()
    assert "dhcp-range=192.168.67.100,192.168.67.199,255.255.255.0,1h" in lines
    assert "dhcp-boot=tag:ipxe,boot.ipxe" in lines
    assert 'pxe-service=tag:ipxe,X86PC,"boot.ipxe",boot.ipxe' in lines
    assert "no-ping" in lines and "enable-ra" in lines and "port=0" in lines
    assert "dhcp-host=52:54:00:00:00:01,192.168.67.11" in lines
    assert f"pid-file={tmp_path}/dnsmasq.pid" in lines
    assert not any("proxy" in line for line in lines)


def test_dnsmasq_proxy_conf_gives_no_leases(tmp_path: Path) -> None:
    lines = services.dnsmasq_conf(mode="proxy", run_dir=tmp_path, tftp_root=tmp_path).splitlines()
    assert "dhcp-range=192.168.67.0,proxy,255.255.255.0" in lines
    assert "dhcp-authoritative" not in lines
    assert not any(line.startswith("dhcp-boot=") for line in lines)
    assert any(line.startswith("pxe-service=tag:!ipxe") for line in lines)


def test_dnsmasq_rejects_unknown_mode(tmp_path: Path) -> None:
    with pytest.raises(LabError):
        services.dnsmasq_conf(mode="relay", run_dir=tmp_path, tftp_root=tmp_path)


def test_dnsmasq_wrap_keeps_the_given_file_and_adds_namespace_lines(tmp_path: Path) -> None:
    lines = services.dnsmasq_wrap_conf(generated=tmp_path / "g.conf", run_dir=tmp_path).splitlines()
    assert lines[1] == f"conf-file={tmp_path}/g.conf"
    assert "interface=br0" in lines and "bind-interfaces" in lines


def test_nbd_conf_lists_read_only_exports() -> None:
    text = services.nbd_conf({"lab": Path("/x/lab.squashfs"), "b": Path("/y")})
    assert "[lab]\n    exportname = /x/lab.squashfs\n    readonly = true" in text
    assert "listenaddr = 192.168.67.1" in text and "[b]" in text


def test_ganesha_conf_exports_each_path_v3_read_only(tmp_path: Path) -> None:
    text = services.ganesha_conf([Path("/srv/a"), Path("/srv/b")], run_dir=tmp_path)
    assert text.count("EXPORT {") == 2
    assert "Path = /srv/a;" in text and "Export_Id = 2;" in text
    assert "Protocols = 3;" in text and "Access_Type = RO;" in text
    assert f"RecoveryRoot = {tmp_path}/recovery;" in text


def test_nfs_wrapper_keeps_rpcbind_files_in_a_private_run(tmp_path: Path) -> None:
    text = services.nfs_wrapper_script(conf=tmp_path / "g.conf", run_dir=tmp_path)
    assert text.index("mount -t tmpfs") < text.index("rpcbind -f")
    assert text.splitlines()[-1].startswith("exec ganesha.nfsd -F")


def test_sshd_conf_listens_on_the_server_only(tmp_path: Path) -> None:
    text = services.sshd_conf(run_dir=tmp_path)
    assert "ListenAddress 192.168.67.1:22" in text
    assert f"HostKey {tmp_path}/ssh_host_ed25519_key" in text
    assert "Subsystem sftp internal-sftp" in text


def test_ipxe_script_and_per_mac_name() -> None:
    text = services.ipxe_script(
        kernel_url="http://192.168.67.1:8080/vmlinuz",
        initrd_urls=["http://192.168.67.1:8080/ltsp.img", "http://192.168.67.1:8080/initrd.img"],
        append="root=/dev/nbd0",
    )
    assert text.splitlines() == [
        "#!ipxe",
        "kernel http://192.168.67.1:8080/vmlinuz initrd=ltsp.img initrd=initrd.img root=/dev/nbd0",
        "initrd http://192.168.67.1:8080/ltsp.img",
        "initrd http://192.168.67.1:8080/initrd.img",
        "boot",
    ]
    assert services.mac_script_name("52:54:00:AB:00:01") == "mac-52-54-00-ab-00-01.ipxe"
    assert "mac-${net0/mac:hexhyp}.ipxe" in services.BOOT_IPXE


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


def test_runlog_round_trip_and_escape_cleaning(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    runlog.write_log(path, [(0.5, "a"), (12.25, runlog.clean_console("\x1b[0;32m OK \x1b[0m\r"))])
    assert runlog.read_log(path) == [(0.5, "a"), (12.25, " OK ")]
    first = runlog.new_run_dir("x", root=tmp_path)
    second = runlog.new_run_dir("x", root=tmp_path)
    assert first != second and first.is_dir() and second.is_dir()


def test_apt_mirror_reads_deb822_and_one_line_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d/debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n"
    )
    assert image.apt_mirror(tmp_path) == "http://mirror.example/debian"
    (tmp_path / "sources.list.d/debian.sources").unlink()
    one_line = "deb [arch=amd64] http://m2.example/debian bookworm main\n"
    (tmp_path / "sources.list").write_text(one_line)
    assert image.apt_mirror(tmp_path) == "http://m2.example/debian"


def test_recipe_hash_changes_with_packages_only() -> None:
    a = image.recipe_hash(image.recipe("base", (), "http://m/debian"))
    assert a == image.recipe_hash(image.recipe("base", (), "http://m/debian"))
    assert a != image.recipe_hash(image.recipe("base", ("vim-tiny",), "http://m/debian"))
    assert a != image.recipe_hash(image.recipe("other", (), "http://m/debian"))


def test_append_helpers_point_at_the_server() -> None:
    assert "nbdroot=192.168.67.1,lab,nbd0" in image.nbd_append("lab")
    assert "nfsroot=192.168.67.1:/var/x,vers=3,tcp" in image.nfs_append(Path("/var/x"))


@pytest.mark.parametrize("script", [report.REPORT_SCRIPT, image.OVERLAY_SCRIPT, image.NETUP_SCRIPT])
def test_guest_scripts_are_valid_posix_sh(script: str, tmp_path: Path) -> None:
    path = tmp_path / "s.sh"
    path.write_text(script)
    assert subprocess.run(["sh", "-n", str(path)], check=False).returncode == 0
    if shutil.which("shellcheck"):
        result = subprocess.run(
            ["shellcheck", "-s", "sh", str(path)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout


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
