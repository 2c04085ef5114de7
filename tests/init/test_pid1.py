"""`ltsp init` on a tmp root (not pid 1): the decisions, and the restore of the real init."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from ltsp_client import log as ltsp_log
from ltsp_client.config.model import Config
from ltsp_client.errors import ConfigError
from ltsp_client.init.pid1 import Deps, Options, boot
from ltsp_client.pluginkit import StaticFacts
from ltsp_client.run import run

FACTS = StaticFacts(
    device="ens3", ip_address="192.168.67.20", prefixlen=24, mac_address="52:54:00:12:34:56"
)
INIT_SCRIPT = "#!/bin/sh\necho real init\n"
FAILING_DROPIN = '''
from ltsp_client.pluginkit import Plugin, PluginContext


class Fails(Plugin, name="fails", order=5):
    """Always fails."""

    def apply(self, ctx: PluginContext) -> None:
        raise RuntimeError("admin plugin bug")
'''


@pytest.fixture(autouse=True)
def isolate(tmp_path: Path) -> Iterator[None]:
    """Keep events, log handlers and SIGINT as they were."""
    saved = ltsp_log.events.path, ltsp_log.events.stage
    handlers = list(logging.getLogger().handlers)
    sigint = signal.getsignal(signal.SIGINT)
    ltsp_log.events.path = tmp_path / "stray-events.jsonl"
    yield
    ltsp_log.events.path, ltsp_log.events.stage = saved
    logging.getLogger().handlers[:] = handlers
    signal.signal(signal.SIGINT, sigint)


def make_root(tmp_path: Path, conf: str = "", cmdline: str = "quiet") -> Path:
    """What initrd-bottom leaves: init.ltsp = the image's init, /sbin/init -> our binary."""
    root = tmp_path / "root"
    (root / "sbin").mkdir(parents=True)
    (root / "etc/ltsp").mkdir(parents=True)
    (root / "proc").mkdir()
    (root / "proc/cmdline").write_text(cmdline + "\n")
    saved = root / "sbin/init.ltsp"
    saved.write_text(INIT_SCRIPT)
    saved.chmod(0o750)
    os.utime(saved, (1_000_000_000, 1_000_000_000))
    (root / "sbin/init").symlink_to("/usr/lib/ltsp/ltsp")
    (root / "etc/hosts").write_text("127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n")
    (root / "etc/hostname").write_text("debian\n")
    (root / "etc/ltsp/ltsp.conf").write_text(conf)
    return root


class Recorder:
    def __init__(self, fail: int = 0) -> None:
        self.execs: list[list[str]] = []
        self.mounts: list[tuple[str, str]] = []
        self.fail = fail

    def exec(self, argv: Sequence[str]) -> None:
        self.execs.append(list(argv))
        if len(self.execs) <= self.fail:
            raise OSError(8, "Exec format error")

    def mount(self, source: str, target: Path, fstype: str, flags: int, options: str) -> None:
        self.mounts.append((fstype, str(target)))


def deps(tmp_path: Path, rec: Recorder, **overrides: object) -> Deps:
    values: dict[str, object] = {
        "runner": run,
        "mount": rec.mount,
        "exec": rec.exec,
        "facts": lambda environ: FACTS,
        "environ": {},
        "kmsg": tmp_path / "kmsg",
        "prepare_exec": lambda: None,
        "is_pid1": False,
    }
    values.update(overrides)
    return Deps(**values)  # type: ignore[arg-type]


def options(root: Path, *, hooks: bool = False) -> Options:
    return Options(root=root, test_root=True, hooks=hooks, init_args=("splash",))


def kmsg(tmp_path: Path) -> str:
    """The kernel log, without the built-ins that had nothing to do (`, name=not needed`)."""
    path = tmp_path / "kmsg"
    text = path.read_text() if path.exists() else ""
    return re.sub(r", [a-z0-9-]+=not needed", "", text)


def events(root: Path) -> list[tuple[str, str]]:
    lines = (root / "run/ltsp/events.jsonl").read_text().splitlines()
    return [(e["step"], e["event"]) for e in map(json.loads, lines)]


def assert_restored(root: Path) -> None:
    init = root / "sbin/init"
    assert not init.is_symlink() and init.read_text() == INIT_SCRIPT
    assert stat.S_IMODE(init.stat().st_mode) == 0o750
    assert init.stat().st_mtime == 1_000_000_000
    assert not os.path.lexists(root / "sbin/init.ltsp")


def test_refuses_when_not_pid1_without_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rec = Recorder()
    assert boot(Options(), deps(tmp_path, rec)) == 1
    assert rec.execs == []
    assert "not pid 1" in capsys.readouterr().err


def test_configures_restores_and_execs(tmp_path: Path) -> None:
    root = make_root(tmp_path, "[clients]\nHOSTNAME=pc%{IP}\n")
    rec = Recorder()
    assert boot(options(root), deps(tmp_path, rec)) == 0
    assert_restored(root)
    assert (root / "etc/hostname").read_text() == "pc20\n"
    assert (root / "run/ltsp/client").is_dir()
    assert rec.execs == [[str(root / "sbin/init"), "splash"]]
    assert rec.mounts == [], "nothing is mounted when not pid 1"
    # the other built-ins' steps come and go with the plugins; hostname's is always there
    steps = [e for e in events(root) if not e[0].startswith("plugin:") or e[0] == "plugin:hostname"]
    assert steps == [
        ("facts", "start"),
        ("facts", "end"),
        ("config", "start"),
        ("config", "end"),
        ("plugins", "start"),
        ("plugin:hostname", "start"),
        ("plugin:hostname", "end"),
        ("plugins", "end"),
        ("restore-init", "start"),
        ("restore-init", "end"),
        ("exec-init", "exec"),
    ]
    assert "ltsp init on" in (root / "run/ltsp/ltsp.log").read_text()
    line = kmsg(tmp_path)
    assert line.startswith("<5>ltsp: ltsp init: ") and "hostname=ok" in line
    assert line.endswith(f"; exec {root}/sbin/init\n") and "=failed" not in line


def test_symlinked_init_stays_a_symlink(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    (root / "sbin/init.ltsp").unlink()
    (root / "sbin/init.ltsp").symlink_to("/lib/systemd/systemd")
    systemd = root / "lib/systemd/systemd"
    systemd.parent.mkdir(parents=True)
    systemd.write_text(INIT_SCRIPT)
    systemd.chmod(0o755)
    rec = Recorder()
    boot(options(root), deps(tmp_path, rec))
    assert os.readlink(root / "sbin/init") == "/lib/systemd/systemd"
    assert rec.execs == [[str(systemd), "splash"]], "the link is resolved inside the root"


@pytest.mark.parametrize(
    "conf",
    [
        '[clients]\nOMIT_FUNCTIONS="various_main hostname_main"\n',
        "[clients]\nOMIT_PLUGINS=hostname\nLTSP_SKIP_SCRIPTS=various,networking\n",
    ],
)
def test_restore_is_never_omitted(tmp_path: Path, conf: str) -> None:
    root = make_root(tmp_path, conf)
    rec = Recorder()
    boot(options(root), deps(tmp_path, rec))
    assert_restored(root)
    assert (root / "etc/hostname").read_text() == "debian\n", "hostname was omitted"
    assert len(rec.execs) == 1


def test_failing_plugin_does_not_stop_the_boot(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    (root / "etc/ltsp/plugins").mkdir()
    (root / "etc/ltsp/plugins/fails.py").write_text(FAILING_DROPIN)
    rec = Recorder()
    boot(options(root), deps(tmp_path, rec))
    assert_restored(root)
    assert (root / "etc/hostname").read_text() == "ltsp20\n"
    assert ("plugin:fails", "fail") in events(root)
    assert (
        "plugin fails failed: RuntimeError: admin plugin bug"
        in (root / "run/ltsp/ltsp.log").read_text()
    )
    assert "FATAL" not in kmsg(tmp_path) and len(rec.execs) == 1
    assert "ltsp init: fails=failed, " in kmsg(tmp_path) and "hostname=ok" in kmsg(tmp_path)


@pytest.mark.parametrize(
    ("cmdline", "conf"), [("quiet ltsp.strict", ""), ("quiet", "[clients]\nLTSP_STRICT=1\n")]
)
def test_strict_failure_is_fatal_but_init_still_runs(
    tmp_path: Path, cmdline: str, conf: str
) -> None:
    root = make_root(tmp_path, conf, cmdline=cmdline)
    (root / "etc/ltsp/plugins").mkdir()
    (root / "etc/ltsp/plugins/fails.py").write_text(FAILING_DROPIN)
    rec = Recorder()
    boot(options(root), deps(tmp_path, rec))
    assert "<2>ltsp: FATAL: ltsp init: plugins: plugin fails failed (strict mode)" in kmsg(tmp_path)
    assert (root / "etc/hostname").read_text() == "debian\n", "later plugins did not run"
    assert_restored(root)
    assert len(rec.execs) == 1


def test_config_error_is_fatal_with_location(tmp_path: Path) -> None:
    root = make_root(tmp_path)

    def broken(**kwargs: object) -> Config:
        raise ConfigError("unterminated quote", file="/etc/ltsp/ltsp.conf", line=3, hint="close it")

    rec = Recorder()
    boot(options(root), deps(tmp_path, rec, evaluate=broken))
    text = kmsg(tmp_path)
    assert (
        "FATAL: ltsp init: config: /etc/ltsp/ltsp.conf:3: unterminated quote" in text
        and "hint: close it" in text
    )
    assert_restored(root)
    assert len(rec.execs) == 1


def test_unexpected_exception_is_fatal_not_a_traceback(tmp_path: Path) -> None:
    root = make_root(tmp_path)

    def facts(environ: object) -> StaticFacts:
        raise ZeroDivisionError("boom")

    rec = Recorder()
    boot(options(root), deps(tmp_path, rec, facts=facts))
    assert "FATAL: ltsp init: facts: internal error: ZeroDivisionError: boom" in kmsg(tmp_path)
    assert_restored(root)


def test_missing_saved_init_falls_back_to_systemd(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    (root / "sbin/init.ltsp").unlink()
    systemd = root / "lib/systemd/systemd"
    systemd.parent.mkdir(parents=True)
    systemd.write_text(INIT_SCRIPT)
    systemd.chmod(0o755)
    rec = Recorder()
    assert boot(options(root), deps(tmp_path, rec)) == 0
    assert rec.execs == [[str(systemd), "splash"]], "never exec our own wrapper"


def test_failed_exec_tries_the_next_init(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    systemd = root / "usr/lib/systemd/systemd"
    systemd.parent.mkdir(parents=True)
    systemd.write_text(INIT_SCRIPT)
    systemd.chmod(0o755)
    rec = Recorder(fail=1)
    assert boot(options(root), deps(tmp_path, rec)) == 0
    assert [argv[0] for argv in rec.execs] == [str(root / "sbin/init"), str(systemd)]
    assert "Exec format error" in kmsg(tmp_path)


def test_nothing_to_exec(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    (root / "sbin/init.ltsp").unlink()
    rec = Recorder()
    assert boot(options(root), deps(tmp_path, rec)) == 1
    assert rec.execs == []
    assert "no init to exec" in kmsg(tmp_path)


def test_rename_failure_execs_the_saved_init(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    (root / "sbin/init").unlink()
    (root / "sbin/init").mkdir()
    (root / "sbin/init/busy").write_text("")
    rec = Recorder()
    boot(options(root), deps(tmp_path, rec))
    assert rec.execs == [[str(root / "sbin/init.ltsp"), "splash"]]


def test_hooks_around_plugins(tmp_path: Path) -> None:
    conf = (
        "[clients]\n"
        'PRE_INIT_A=\'cat "$LTSP_ROOT/etc/hostname" > "$LTSP_ROOT/pre"\'\n'
        'POST_INIT_A=\'echo "$HOSTNAME $LTSP_TARGET" > "$LTSP_ROOT/post"\'\n'
    )
    root = make_root(tmp_path, conf)
    rec = Recorder()
    boot(options(root, hooks=True), deps(tmp_path, rec))
    assert (root / "pre").read_text() == "debian\n"
    assert (root / "post").read_text() == "ltsp20 POST_INIT\n"
    steps = [step for step, event in events(root) if event == "start"]
    assert steps.index("hooks:PRE_INIT") < steps.index("plugin:hostname")
    assert steps.index("plugin:hostname") < steps.index("hooks:POST_INIT")


def test_root_without_hooks_flag_skips_hooks(tmp_path: Path) -> None:
    conf = "[clients]\nPOST_INIT_A='touch \"$LTSP_ROOT/post\"'\n"
    root = make_root(tmp_path, conf)
    boot(options(root), deps(tmp_path, Recorder()))
    assert not (root / "post").exists()
    assert "POST_INIT hooks not run" in (root / "run/ltsp/ltsp.log").read_text()


def test_pid1_mounts_missing_kernel_filesystems(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    rec = Recorder()
    boot(options(root), deps(tmp_path, rec, is_pid1=True))
    assert rec.mounts == [
        ("proc", str(root / "proc")),
        ("sysfs", str(root / "sys")),
        ("devtmpfs", str(root / "dev")),
        ("tmpfs", str(root / "run")),
    ]
    assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    assert_restored(root)


@pytest.mark.parametrize(
    ("where", "hostname_then"),
    [
        ("plugin:hostname", "debian\n"),
        ("hooks:POST_INIT", "ltsp20\n"),
        ("restore-init", "ltsp20\n"),
    ],
)
def test_break_opens_a_shell_before_the_step(
    tmp_path: Path, where: str, hostname_then: str
) -> None:
    root = make_root(tmp_path, cmdline=f"quiet ltsp.break={where}")
    seen: list[tuple[str, str, bool]] = []

    def shell(prompt: str) -> int:
        init_is_ours = (root / "sbin/init").is_symlink()
        seen.append((prompt, (root / "etc/hostname").read_text(), init_is_ours))
        return 0

    rec = Recorder()
    boot(options(root), deps(tmp_path, rec, shell=shell))
    assert seen == [(f"(ltsp break {where}) # ", hostname_then, True)]
    assert (where, "break") in events(root)
    assert_restored(root)
    assert len(rec.execs) == 1


def test_round_trip_with_initrd_bottoms_override_on_a_usrmerged_root(tmp_path: Path) -> None:
    """Debian 12 layout (/sbin -> usr/sbin, /sbin/init -> /lib/systemd/systemd), overridden
    by the initramfs stage's real code, then restored by ltsp init: back to the original."""
    from ltsp_client.init.install import override_init

    root = tmp_path / "root"
    (root / "usr/sbin").mkdir(parents=True)
    (root / "usr/lib/systemd").mkdir(parents=True)
    (root / "etc/ltsp").mkdir(parents=True)
    (root / "sbin").symlink_to("usr/sbin")
    (root / "lib").symlink_to("usr/lib")
    (root / "usr/sbin/init").symlink_to("/lib/systemd/systemd")
    systemd = root / "usr/lib/systemd/systemd"
    systemd.write_text(INIT_SCRIPT)
    systemd.chmod(0o755)
    before = {p: os.readlink(root / p) for p in ("sbin", "lib", "usr/sbin/init")}

    override_init(root)
    assert os.readlink(root / "usr/sbin/init") == "/usr/lib/ltsp/ltsp"

    rec = Recorder()
    assert boot(options(root), deps(tmp_path, rec)) == 0
    assert {p: os.readlink(root / p) for p in before} == before
    assert not os.path.lexists(root / "usr/sbin/init.ltsp")
    assert rec.execs == [[str(systemd), "splash"]]


def test_break_list_and_stage_prefix(tmp_path: Path) -> None:
    """`ltsp.break=mount,init/restore-init`: initrd-bottom's step is not ours; init/ is."""
    root = make_root(
        tmp_path, cmdline="quiet ltsp.break=mount,initrd-bottom/facts,init/restore-init"
    )
    prompts: list[str] = []

    def shell(prompt: str) -> int:
        prompts.append(prompt)
        return 0

    boot(options(root), deps(tmp_path, Recorder(), shell=shell))
    assert prompts == ["(ltsp break restore-init) # "]
    assert_restored(root)


@pytest.mark.parametrize(
    ("conf", "verbose", "to_file"),
    [("LTSP_DEBUG=init\nDEBUG_LOG=0\n", True, False), ("LTSP_DEBUG=initrd-bottom\n", False, True)],
)
def test_ltsp_debug_and_debug_log_from_ltsp_conf(
    tmp_path: Path, conf: str, verbose: bool, to_file: bool
) -> None:
    root = make_root(tmp_path, "[clients]\n" + conf)
    boot(options(root), deps(tmp_path, Recorder()))
    handlers = logging.getLogger().handlers
    files = [h for h in handlers if isinstance(h, logging.FileHandler)]
    (console,) = [h for h in handlers if h not in files]
    assert (console.level == logging.DEBUG) is verbose
    log_text = (root / "run/ltsp/ltsp.log").read_text()
    assert ("plugins: " in log_text) is to_file  # logged after ltsp.conf was read
