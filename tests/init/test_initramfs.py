"""The initrd-bottom stage: steps, the fatal-error policy and a whole run as root."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from system import images

from ltsp_client import log as ltsp_log
from ltsp_client.config.model import Config
from ltsp_client.errors import LtspError
from ltsp_client.init import emergency, initramfs
from ltsp_client.init.cmdline import parse
from ltsp_client.init.initramfs import Stage, run_stage
from ltsp_client.log import events
from ltsp_client.paths import LOG_FILE


@dataclass
class Recorder:
    """Injected shell/reboot/sleep actions that only record what happened."""

    shell_status: int = 0
    shells: list[str] = field(default_factory=list)
    reboots: int = 0
    slept: list[float] = field(default_factory=list)
    waited: int = 0

    def policy(
        self, tmp_path: Path, *, debug_shell: bool = False, timeout: int = 25
    ) -> emergency.Policy:
        return emergency.Policy(
            debug_shell=debug_shell,
            reboot_timeout=timeout,
            console=emergency.Console(out=io.StringIO(), kmsg=tmp_path / "kmsg"),
            shell=self.shell,
            reboot=self.reboot,
            sleep=self.slept.append,
            wait_enter=self.wait,
        )

    def shell(self, prompt: str) -> int:
        self.shells.append(prompt)
        return self.shell_status

    def reboot(self) -> None:
        self.reboots += 1

    def wait(self) -> None:
        self.waited += 1


def console_text(policy: emergency.Policy) -> str:
    out = policy.console.out
    assert isinstance(out, io.StringIO)
    return out.getvalue()


def read_events(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_fatal_prints_step_hint_log_and_reboots_after_countdown(tmp_path: Path) -> None:
    rec = Recorder()
    policy = rec.policy(tmp_path)
    status = emergency.fatal(
        policy, applet="initrd-bottom", step="mount", message="boom", hint="try this"
    )
    text = console_text(policy)
    assert "FATAL: ltsp initrd-bottom: mount: boom" in text
    assert "hint: try this" in text and f"log: {LOG_FILE}" in text
    assert "Rebooting in 25 seconds" in text and "Rebooting in 5 seconds..." in text
    assert rec.slept == [10, 10, 5] and rec.reboots == 1 and rec.shells == []
    assert status == 1
    kmsg = (tmp_path / "kmsg").read_text()
    assert kmsg.startswith("<2>ltsp: FATAL: ltsp initrd-bottom: mount: boom\n")


def test_fatal_opens_the_debug_shell_only_when_enabled(tmp_path: Path) -> None:
    rec = Recorder()
    policy = rec.policy(tmp_path, debug_shell=True)
    assert emergency.fatal(policy, applet="initrd-bottom", step="install", message="x") == 1
    assert rec.shells == ["(ltsp install) # "] and rec.reboots == 0


def test_break_point_without_a_shell_waits_for_enter(tmp_path: Path) -> None:
    rec = Recorder(shell_status=127)
    emergency.break_point(rec.policy(tmp_path), "mount")
    assert rec.waited == 1 and rec.shells == ["(ltsp break mount) # "]


def stage_for(tmp_path: Path, cmdline: str, rootmnt: Path | None = None) -> Stage:
    config_dir = tmp_path / "etc-ltsp"
    config_dir.mkdir(exist_ok=True)
    return Stage(
        rootmnt=rootmnt or tmp_path / "root",
        cmdline=parse(cmdline),
        environ={"DEVICE": "eth9", "IP_ADDRESS": "10.0.0.5", "MAC_ADDRESS": "52:54:00:00:00:05"},
        config_dir=config_dir,
        tmpfs=str(tmp_path / "tmpfs"),
    )


def test_missing_proc_and_no_image_is_fatal(tmp_path: Path, event_file: Path) -> None:
    (tmp_path / "root").mkdir()
    rec = Recorder()
    policy = rec.policy(tmp_path)
    steps = initramfs.steps(initramfs.rootfs.Executor())
    no_facts = tuple((n, f) for n, f in steps if n != "facts")
    assert run_stage(stage_for(tmp_path, "quiet"), policy, step_list=no_facts) == 1
    assert "FATAL: ltsp initrd-bottom: image-source: " in console_text(policy)
    assert "ltsp.image=" in console_text(policy)  # the hint
    assert rec.reboots == 1
    records = read_events(event_file)
    assert [(r["step"], r["event"]) for r in records][-2:] == [
        ("image-source", "fail"),
        ("image-source", "fatal"),
    ]


def test_internal_errors_are_reported_not_raised(tmp_path: Path) -> None:
    def broken(stage: Stage) -> Stage:
        raise ValueError("a bug")

    rec = Recorder()
    policy = rec.policy(tmp_path)
    assert run_stage(stage_for(tmp_path, ""), policy, step_list=(("facts", broken),)) == 1
    assert "FATAL: ltsp initrd-bottom: facts: internal error: ValueError: a bug" in console_text(
        policy
    )


def test_break_before_a_step_and_policy_from_ltsp_conf(tmp_path: Path) -> None:
    seen: list[str] = []

    def record(stage: Stage) -> Stage:
        seen.append(f"ran with {len(rec.shells)} shells")
        return stage

    def fail(stage: Stage) -> Stage:
        raise LtspError("nope")

    rec = Recorder()
    policy = rec.policy(tmp_path)
    stage = stage_for(tmp_path, "ltsp.break=initrd-bottom/config,other ltsp.debug_shell=1")
    # DEBUG_SHELL from the kernel line (or ltsp.conf, via the config step) gives a shell
    status = run_stage(stage, policy, step_list=(("config", record), ("mount", fail)))
    assert seen == ["ran with 1 shells"]
    assert status == 1 and rec.reboots == 0 and len(rec.shells) == 2


@pytest.mark.root
def test_whole_stage_mounts_the_image_and_installs(tmp_path: Path, mount_dir: Path) -> None:
    rootmnt = mount_dir / "root"
    (rootmnt / "images").mkdir(parents=True)
    tree = images.tree(tmp_path / "t")
    images.squashfs(tree, rootmnt / "images/x86_64.img")
    stage = stage_for(tmp_path, "root=/dev/nfs ltsp.image=images/x86_64.img", rootmnt)
    stage = Stage(**{**stage.__dict__, "tmpfs": str(mount_dir / "tmpfs")})
    (stage.config_dir / "ltsp.conf").write_text("[clients]\nREAD_AHEAD_KB=64\n")
    rec = Recorder()
    assert run_stage(stage, rec.policy(tmp_path)) == 0, console_text(rec.policy(tmp_path))
    assert (rootmnt / "etc/os-release").read_text() == 'PRETTY_NAME="test image"\n'
    assert os.readlink(rootmnt / "sbin/init") == "/usr/lib/ltsp/ltsp"
    assert (rootmnt / "sbin/init.ltsp").read_text() == "#!/bin/sh\n"
    assert (rootmnt / "etc/ltsp/ltsp.conf").exists()
    assert (mount_dir / "tmpfs/0/up/sbin/init").is_symlink()  # changes live in the tmpfs
    done = [(r["step"], r["event"]) for r in read_events(events.path) if r["event"] == "end"]
    steps = ["facts", "config", "image-source", "mount", "install", "init-stage"]
    assert [s for s, _ in done] == steps, "init-stage does nothing outside a real initramfs"


@pytest.mark.root
def test_image_to_ram_drops_the_network_root(tmp_path: Path, mount_dir: Path) -> None:
    from ltsp_client.system import mounts

    rootmnt = mount_dir / "root"
    rootmnt.mkdir()
    mounts.mount("fake-nfs", rootmnt, "tmpfs")  # stands in for the NFS root
    (rootmnt / "images").mkdir()
    images.squashfs(images.tree(tmp_path / "t"), rootmnt / "images/x86_64.img")
    stage = stage_for(tmp_path, "ltsp.image=images/x86_64.img ltsp.image-to-ram=1", rootmnt)
    stage = Stage(**{**stage.__dict__, "tmpfs": str(mount_dir / "tmpfs")})
    rec = Recorder()
    assert run_stage(stage, rec.policy(tmp_path)) == 0
    assert (mount_dir / "tmpfs/x86_64.img").is_file()
    sources = [e.source for e in mounts.mount_table() if e.mountpoint == str(rootmnt)]
    assert "fake-nfs" not in sources and sources[-1] == str(mount_dir / "tmpfs")
    assert (rootmnt / "etc/os-release").exists()
    assert not (rootmnt / "images").exists()  # the network root is gone


def test_policy_from_ltsp_conf_by_the_parameter_table(tmp_path: Path) -> None:
    """DEBUG_SHELL by the one boolean rule, REBOOT_TIMEOUT typed, the kernel line wins."""
    stage = stage_for(tmp_path, "ltsp.reboot-timeout=7")
    (stage.config_dir / "ltsp.conf").write_text("[clients]\nDEBUG_SHELL=yes\nREBOOT_TIMEOUT=30\n")
    done = initramfs.step_config(stage)
    assert done.debug_shell and done.reboot_timeout == 7
    policy = initramfs.policy_from(done, emergency.Policy())
    assert policy.debug_shell and policy.reboot_timeout == 7
    (stage.config_dir / "ltsp.conf").write_text("[clients]\nIMAGE_TO_RAM=true\nOVERLAY=no\n")
    done = initramfs.step_config(stage_for(tmp_path, "quiet"))
    assert not done.debug_shell and done.reboot_timeout is None
    assert done.config.flag("IMAGE_TO_RAM") and not done.config.get_bool("OVERLAY", default=True)


def test_a_bad_reboot_timeout_is_a_config_error_with_its_line(tmp_path: Path) -> None:
    stage = stage_for(tmp_path, "quiet")
    (stage.config_dir / "ltsp.conf").write_text("[clients]\nREBOOT_TIMEOUT=soon\n")
    rec = Recorder()
    policy = rec.policy(tmp_path)
    assert run_stage(stage, policy, step_list=(("config", initramfs.step_config),)) == 1
    text = console_text(policy)
    assert "FATAL: ltsp initrd-bottom: config: " in text
    assert "ltsp.conf:2: REBOOT_TIMEOUT: REBOOT_TIMEOUT='soon' is not a whole number" in text


def test_the_policys_countdown_is_the_declared_default() -> None:
    assert emergency.Policy().reboot_timeout == Config().number("REBOOT_TIMEOUT")


@pytest.fixture
def log_handlers() -> Iterator[None]:
    saved = list(logging.getLogger().handlers)
    yield
    logging.getLogger().handlers[:] = saved


@pytest.mark.usefixtures("log_handlers")
@pytest.mark.parametrize(
    ("conf", "verbose", "to_file"),
    [
        ("LTSP_DEBUG=init,initrd-bottom\n", True, True),
        ("LTSP_DEBUG=1\nDEBUG_LOG=0\n", True, False),
        ("LTSP_DEBUG=init\n", False, True),
        ("", False, True),
    ],
)
def test_ltsp_debug_and_debug_log_from_ltsp_conf(
    tmp_path: Path, event_file: Path, conf: str, verbose: bool, to_file: bool
) -> None:
    ltsp_log.setup(initramfs.APPLET, log_file=tmp_path / "ltsp.log", events_file=event_file)
    stage = stage_for(tmp_path, "quiet")
    (stage.config_dir / "ltsp.conf").write_text("[clients]\n" + conf)
    initramfs.step_config(stage)
    handlers = logging.getLogger().handlers
    files = [h for h in handlers if isinstance(h, logging.FileHandler)]
    (console,) = [h for h in handlers if h not in files]
    assert (console.level == logging.DEBUG) is verbose
    assert bool(files) is to_file


def test_pre_and_post_hooks_end_the_config_and_install_steps(
    tmp_path: Path, event_file: Path
) -> None:
    stage = stage_for(tmp_path, "quiet")
    stage.rootmnt.mkdir()
    (stage.config_dir / "ltsp.conf").write_text(
        "[clients]\n"
        'PRE_INITRD_BOTTOM_A=\'echo "$LTSP_TARGET" > "$LTSP_ROOT/pre"\'\n'
        'POST_INITRD_BOTTOM_A=\'ls "$LTSP_ROOT" > "$LTSP_ROOT/post"; echo to-the-log\'\n'
        "PRE_INIT_A='echo wrong > \"$LTSP_ROOT/wrong\"'\n"
    )

    def install(state: Stage) -> Stage:
        (state.rootmnt / "installed").touch()
        return initramfs.run_hooks(state, "POST")  # as step_install ends

    step_list = (("config", initramfs.step_config), ("install", install))
    assert run_stage(stage, Recorder().policy(tmp_path), step_list=step_list) == 0
    assert (stage.rootmnt / "pre").read_text() == "PRE_INITRD_BOTTOM\n"
    assert (stage.rootmnt / "post").read_text() == "installed\npost\npre\n"
    assert not (stage.rootmnt / "wrong").exists()
    assert "to-the-log" in (tmp_path / "ltsp.log").read_text()  # beside events.jsonl
    timed = [r["step"] for r in read_events(event_file) if r["event"] == "end"]
    assert timed == ["hooks:PRE_INITRD_BOTTOM", "config", "hooks:POST_INITRD_BOTTOM", "install"]


def test_a_failing_hook_is_a_warning_unless_strict(tmp_path: Path, event_file: Path) -> None:
    for cmdline, status in (("quiet", 0), ("ltsp.strict", 1)):
        stage = stage_for(tmp_path, cmdline)
        (stage.config_dir / "ltsp.conf").write_text("[clients]\nPRE_INITRD_BOTTOM_A='exit 4'\n")
        policy = Recorder().policy(tmp_path)
        assert run_stage(stage, policy, step_list=(("config", initramfs.step_config),)) == status
    assert "FATAL: ltsp initrd-bottom: config: PRE_INITRD_BOTTOM_* hooks failed" in console_text(
        policy
    )
