"""The init stage applied from the initramfs (init/early.py) on a tmp root, binds recorded."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from ltsp_client import log as ltsp_log
from ltsp_client.config.model import is_true
from ltsp_client.config.params import find_param
from ltsp_client.errors import LtspError
from ltsp_client.init import early, initramfs
from ltsp_client.init.cmdline import parse
from ltsp_client.pluginkit import context
from ltsp_client.run import Result
from tests.init.test_pid1 import Recorder, assert_restored, deps, isolate, make_root
from tests.plugins.goldentree import FakeRunner

PID1_DEFAULT = is_true(find_param("PID1_STAGE").default)  # type: ignore[union-attr]
__all__ = ["isolate"]  # the autouse fixture of test_pid1: events, log handlers, SIGINT


class Binds:
    def __init__(self, fail_on: str = "") -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail_on = fail_on

    def mount(self, source: str, target: Path, fstype: str, flags: int, options: str) -> None:
        if source == self.fail_on:
            raise OSError(19, "No such device")
        self.calls.append(("bind", f"{source} {target}"))

    def unmount(self, target: Path) -> None:
        self.calls.append(("umount", str(target)))

    def live(self) -> early.LiveBinds:
        return early.LiveBinds(mount=self.mount, unmount=self.unmount)


@pytest.fixture
def hostnames(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """sethostname(2) recorded instead of done (the stage is live, the test is not)."""
    names: list[str] = []
    monkeypatch.setattr(context.LiveKernel, "sethostname", lambda self, name: names.append(name))
    yield names


def stage_events(root: Path) -> list[tuple[str, str, str]]:
    lines = (root / "run/ltsp/events.jsonl").read_text().splitlines()
    return [(e["stage"], e["step"], e["event"]) for e in map(json.loads, lines)]


@pytest.mark.parametrize(
    ("values", "break_step", "why"),
    [
        ({"PID1_STAGE": "0"}, "", ""),
        ({"PID1_STAGE": "0", "POST_INIT_X": ""}, "", ""),
        ({"PID1_STAGE": "yes"}, "", "PID1_STAGE=1"),
        ({}, "", "PID1_STAGE=1" if PID1_DEFAULT else ""),
        ({"PID1_STAGE": "0"}, "init/plugins", "ltsp.break=init/plugins"),
        ({"PID1_STAGE": "0", "PRE_INIT_NOTE": "echo hi"}, "", "PRE_INIT_NOTE is set"),
    ],
)
def test_why_pid1(values: dict[str, str], break_step: str, why: str) -> None:
    assert early.why_pid1(values, break_step) == why


def test_commands_run_in_the_new_root_unless_already_chrooted() -> None:
    ok = Result(("ip",), 0, "", "")
    runner = FakeRunner(
        {("chroot", "/root", "ip", "-4", "address"): ok, ("chroot", "/root", "pam-auth-update"): ok}
    )
    chrooted = early.chroot_runner(Path("/root"), runner)
    chrooted(["ip", "-4", "address"], timeout=5)
    chrooted(["chroot", "/root", "pam-auth-update"])
    assert runner.calls == [
        ("chroot", "/root", "ip", "-4", "address"),
        ("chroot", "/root", "pam-auth-update"),
    ]


def test_applies_the_plugins_live_and_restores_init(tmp_path: Path, hostnames: list[str]) -> None:
    root = make_root(tmp_path, "[clients]\nHOSTNAME=pc%{IP}\n")
    binds = Binds()
    ltsp_log.events.stage = "initrd-bottom"
    before = (ltsp_log.events.stage, ltsp_log.events.path)
    runner = FakeRunner()
    summary = early.apply(root, binds=binds.live(), deps=deps(tmp_path, Recorder(), runner=runner))
    assert "hostname=ok" in summary and "validlft=ok" in summary, summary
    # validlft reads lifetimes over rtnetlink; this machine has no ens3: nothing expires
    assert runner.calls == []
    assert_restored(root)
    assert (root / "etc/hostname").read_text() == "pc20\n"
    assert hostnames == ["pc20"], "the kernel is the client's own: its hostname is set"
    targets = [f"{fs} {root}{fs}" for fs in early.LIVE_FILESYSTEMS]
    assert binds.calls == [("bind", t) for t in targets] + [
        ("umount", t.split()[1]) for t in reversed(targets)
    ]
    steps = stage_events(root)
    assert ("init", "plugin:hostname", "end") in steps
    assert steps[-2:] == [("init", "restore-init", "start"), ("init", "restore-init", "end")]
    assert (ltsp_log.events.stage, ltsp_log.events.path) == before, "back to the caller's records"


def test_a_failing_bind_leaves_the_stage_to_pid1(tmp_path: Path, hostnames: list[str]) -> None:
    root = make_root(tmp_path, "[clients]\nHOSTNAME=pc%{IP}\n")
    binds = Binds(fail_on="/dev")
    with pytest.raises(OSError):
        early.apply(root, binds=binds.live(), deps=deps(tmp_path, Recorder()))
    assert binds.calls == [
        ("bind", f"/proc {root}/proc"),
        ("bind", f"/sys {root}/sys"),
        ("umount", f"{root}/sys"),
        ("umount", f"{root}/proc"),
    ]
    assert os.readlink(root / "sbin/init") == "/usr/lib/ltsp/ltsp", "pid 1 is still ours"
    assert (root / "etc/hostname").read_text() == "debian\n" and hostnames == []


def test_no_restorable_init_is_an_error(tmp_path: Path, hostnames: list[str]) -> None:
    root = make_root(tmp_path)
    (root / "sbin/init.ltsp").unlink()
    with pytest.raises(LtspError, match="could not restore /sbin/init"):
        early.apply(root, binds=Binds().live(), deps=deps(tmp_path, Recorder()))


@pytest.mark.parametrize(
    ("cmdline", "conf", "early_run"),
    [
        ("quiet", "", not PID1_DEFAULT),
        ("quiet ltsp.pid1-stage=0", "", True),
        ("quiet", "[clients]\nPID1_STAGE=0\n", True),
        ("quiet ltsp.pid1-stage=1", "[clients]\nPID1_STAGE=0\n", False),
        ("quiet ltsp.pid1-stage=0 ltsp.break=init/plugins", "", False),
    ],
)
def test_the_initramfs_step_chooses(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cmdline: str,
    conf: str,
    early_run: bool,
) -> None:
    root = make_root(tmp_path, conf, cmdline=cmdline)
    ran: list[Path] = []
    monkeypatch.setattr(early, "apply", lambda rootmnt, **kw: ran.append(rootmnt) or "x=ok")
    kernel = parse(cmdline)
    stage = initramfs.Stage(
        rootmnt=root, cmdline=kernel, environ={}, config_dir=root / "etc/ltsp", early_init=True
    )
    stage = initramfs.step_config(stage)
    assert initramfs.step_init_stage(replace(stage, early_init=False)) is not None
    assert ran == [], "never outside a real initramfs (a test on a host)"
    assert initramfs.step_init_stage(stage) == stage
    assert ran == ([root] if early_run else [])


def test_the_initramfs_step_survives_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_root(tmp_path)
    called: list[Path] = []

    def fails(rootmnt: Path, **kw: object) -> str:
        called.append(rootmnt)
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(early, "apply", fails)
    stage = initramfs.Stage(
        rootmnt=root, cmdline=parse("quiet ltsp.pid1-stage=0"), environ={}, early_init=True
    )
    stage = initramfs.step_config(replace(stage, config_dir=root / "etc/ltsp"))
    assert initramfs.step_init_stage(stage) == stage
    assert called == [root], "tried, failed, and left to pid 1 without stopping the boot"


@pytest.mark.root
def test_live_binds_for_real(mount_dir: Path) -> None:
    root = mount_dir / "root"
    root.mkdir()
    with early.LiveBinds().on(root):
        assert (root / "proc/self/status").is_file()
        assert (root / "sys/class/net/lo").exists()
        assert (root / "dev/null").is_char_device()
        (root / "run/ltsp-test-early").mkdir()  # lands in this machine's /run
        assert Path("/run/ltsp-test-early").is_dir()
        Path("/run/ltsp-test-early").rmdir()
    assert not (root / "proc/self").exists() and not any((root / "run").iterdir())
