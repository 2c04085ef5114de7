"""The dispatcher: upstream's global options, every applet in --help, clear errors."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from ltsp_client import cli
from ltsp_client.applet import Context, Host
from ltsp_client.config.model import debug_enabled, log_to_file
from ltsp_client.pluginkit import StaticFacts

UPSTREAM_APPLETS = [
    "initrd-bottom", "init", "login", "image", "kernel", "initrd", "ipxe",
    "nfs", "dnsmasq", "info", "remoteapps", "service", "config",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _no_real_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """main() without host= must not read this machine's /etc/ltsp or write its /run/ltsp."""
    fake = Host(etc_dir=tmp_path / "no-etc", run_dir=tmp_path / "no-run", environ={})
    monkeypatch.setattr(cli, "Host", lambda: fake)


def test_help_lists_every_upstream_applet(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in UPSTREAM_APPLETS:
        assert f"\n  {name} " in out


def test_no_applet_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 1
    assert "Usage: ltsp" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["-V"]) == 0
    assert capsys.readouterr().out.startswith("ltsp ")


def test_every_applet_is_implemented() -> None:
    assert [name for name, info in cli.APPLETS.items() if not info.target] == []


def test_a_later_applet_says_so_and_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    planned = cli.AppletInfo("client", "", "a planned applet", "a later issue")
    monkeypatch.setitem(cli.APPLETS, "later", planned)
    assert cli.main(["later"]) == 1
    err = capsys.readouterr().err
    assert "not implemented yet" in err and "hint:" in err


def test_unknown_applet_and_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["frobnicate"]) == 1
    assert "unknown applet 'frobnicate'" in capsys.readouterr().err
    assert cli.main(["--frob", "info"]) == 1
    assert "unknown option --frob" in capsys.readouterr().err


def test_global_options_parsed_before_applet_only() -> None:
    settings, applet, rest, helped = cli.parse_global(
        ["-b", "/b", "--tftp-dir=/t", "-m", "/h", "-o", "config", "-b", "x"]
    )
    assert settings == {"BASE_DIR": "/b", "TFTP_DIR": "/t", "HOME_DIR": "/h", "OVERWRITE": "1"}
    assert (applet, rest, helped) == ("config", ["-b", "x"], False)
    assert cli.parse_global(["--help=config"])[1:] == ("config", [], True)
    with pytest.raises(cli.UsageError):
        cli.parse_global(["--overwrite=2", "image"])


def test_precedence_environment_then_config_then_command_line() -> None:
    env = {"BASE_DIR": "/env/base", "TFTP_DIR": "/env/tftp"}
    ctx = Context.from_environment("image", {"TFTP_DIR": "/cli/tftp"}, env)
    assert (ctx.base_dir, ctx.tftp_dir, ctx.home_dir) == (
        Path("/env/base"),
        Path("/cli/tftp"),
        Path("/home"),
    )
    conf = ctx.with_config({"BASE_DIR": "/conf/base", "TFTP_DIR": "/conf/tftp", "OVERWRITE": "0"})
    assert conf.base_dir == Path("/conf/base")
    assert conf.tftp_dir == Path("/cli/tftp")  # -t wins over ltsp.conf
    assert conf.overwrite == "0"


def test_internal_error_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(ctx: Context, args: list[str]) -> int:
        raise ValueError("boom")

    monkeypatch.setattr(cli, "resolve", lambda name: broken)
    assert cli.main(["info"]) == 70
    err = capsys.readouterr().err
    assert err == "ltsp info: internal error: ValueError: boom\n"


# --- ltsp.conf, hooks and debug settings reach every applet (the dispatcher) ---

SERVER_FACTS = StaticFacts(
    device="eth0", ip_address="192.168.67.1", mac_address="52:54:00:00:00:01", hostname="srv"
)


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Host:
    """This machine, seen through tmp dirs: /etc/ltsp, /run/ltsp and a fixed network."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "BASE_DIR": "/env/base"}
    made = Host(
        etc_dir=tmp_path / "etc",
        run_dir=tmp_path / "run",
        environ=env,
        facts=lambda _host: SERVER_FACTS,
    )
    made.etc_dir.mkdir()
    hooks = tmp_path / "initramfs-hooks" / "initramfs-tools"
    hooks.mkdir(parents=True)
    (hooks / "ltsp.conf").write_text("ltsp_hook=1\n")
    return made


def initrd(host: Host, *global_opts: str) -> int:
    hooks = host.etc_dir.parent / "initramfs-hooks"
    args = ["--no-binary", "--etc", str(host.etc_dir), "--hooks-dir", str(hooks)]
    return cli.main([*global_opts, "initrd", *args], host=host)


def test_initrd_writes_to_tftp_dir_from_ltsp_conf(host: Host, tmp_path: Path) -> None:
    (host.etc_dir / "ltsp.conf").write_text(
        f"[server]\nTFTP_DIR={tmp_path}/conf-tftp\n[initrd/]\nBASE_DIR=$BASE_DIR/x\n"
    )
    assert initrd(host) == 0
    assert (tmp_path / "conf-tftp/ltsp/ltsp.img").is_file()
    # the command line wins over ltsp.conf
    assert initrd(host, "-t", str(tmp_path / "cli-tftp")) == 0
    assert (tmp_path / "cli-tftp/ltsp/ltsp.img").is_file()


def test_precedence_seen_by_the_applet(host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Context] = []

    def applet(ctx: Context, args: list[str]) -> int:
        seen.append(ctx)
        return 0

    monkeypatch.setattr(cli, "resolve", lambda name: applet)
    (host.etc_dir / "ltsp.conf").write_text(
        "[common]\nHOME_DIR=/conf/home\nTFTP_DIR=$BASE_DIR/tftp\n"
        "[52:54:00:00:00:01]\nX_MAC=1\n[info/srv]\nX_APPLET_HOST=1\n[clients]\nX_CLIENT=1\n"
    )
    (host.etc_dir / "ltsp-info.conf").write_text("[info/]\nHOME_DIR=/applet-conf/home\n")
    assert cli.main(["-b", "/cli/base", "info"], host=host) == 0
    ctx = seen[-1]
    assert ctx.base_dir == Path("/cli/base")  # environment < command line
    assert ctx.tftp_dir == Path("/cli/base/tftp")  # ltsp.conf sees -b while evaluated
    assert ctx.home_dir == Path("/applet-conf/home")  # ltsp-info.conf after ltsp.conf
    assert ctx.config is not None
    assert ctx.config["X_MAC"] == "1" and ctx.config["X_APPLET_HOST"] == "1"
    assert "X_CLIENT" not in ctx.config  # a server process: no [clients]
    assert cli.main(["info"], host=host) == 0
    assert seen[-1].base_dir == Path("/env/base")  # environment < defaults


def test_broken_ltsp_conf_is_a_clear_error(host: Host, capsys: pytest.CaptureFixture[str]) -> None:
    conf = host.etc_dir / "ltsp.conf"
    conf.write_text('[server]\nTFTP_DIR="/srv/tftp\n')
    assert initrd(host) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"ltsp initrd: {conf}:2: TFTP_DIR: unterminated double quote"), err
    assert "Traceback" not in err and "hint:" in err
    conf.write_bytes(b"[server]\nA=1\n")
    (host.etc_dir / "ltsp-info.conf").write_text("[info/]\nB=$(date\n")
    assert cli.main(["info"], host=host) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"ltsp info: {host.etc_dir}/ltsp-info.conf:2: B: unterminated $("), err


def test_pre_and_post_hooks_run_around_every_applet(
    host: Host, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "hooks.txt"
    (host.etc_dir / "ltsp.conf").write_text(
        "[server]\n"
        f"PRE_INITRD_B='echo pre-b $LTSP_TARGET $IP_ADDRESS >> {out}'\n"
        f'PRE_INITRD_A="echo pre-a >> {out}; echo shown-on-stdout"\n'
        f"POST_INITRD_X='test -s $TFTP_DIR/ltsp/ltsp.img && echo post >> {out}'\n"
        f'PRE_INITRD_BOTTOM_X="echo wrong-applet >> {out}"\n'
        f"TFTP_DIR={tmp_path}/tftp\n"
        f'PRE_INFO_X="echo info-pre >> {out}"\n'
    )
    assert initrd(host) == 0
    assert out.read_text() == "pre-a\npre-b PRE_INITRD 192.168.67.1\npost\n"
    assert "shown-on-stdout" in capsys.readouterr().out
    out.unlink()
    assert cli.main(["info"], host=host) == 0
    assert out.read_text() == "info-pre\n"


def test_failing_pre_hook_stops_the_applet_and_post_needs_success(
    host: Host, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "hooks.txt"
    conf = host.etc_dir / "ltsp.conf"
    conf.write_text(f'[server]\nTFTP_DIR={tmp_path}/tftp\nPRE_INITRD_X="exit 3"\n')
    assert initrd(host) == 1
    err = capsys.readouterr().err
    assert "ltsp initrd: PRE_INITRD_* hooks failed" in err
    assert not (tmp_path / "tftp/ltsp/ltsp.img").exists()
    conf.write_text(f'[server]\nPOST_INITRD_X="echo post >> {out}"\nLOCAL_SWAP=maybe\n')
    assert initrd(host) == 1  # the applet itself fails on the bad boolean
    assert not out.exists()


def test_boot_stages_and_config_evaluate_ltsp_conf_themselves(
    host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    (host.etc_dir / "ltsp.conf").write_text('A="broken\n')
    calls: list[str] = []
    monkeypatch.setattr(cli, "resolve", lambda name: lambda ctx, args: calls.append(name) or 0)
    for applet in ("init", "initrd-bottom", "config", "login"):
        assert cli.main([applet, "x"], host=host) == 0  # the dispatcher did not evaluate
    assert calls == ["init", "initrd-bottom", "config", "login"]
    assert cli.main(["info", "--help"], host=host) == 0  # --help needs no ltsp.conf


@pytest.mark.parametrize(
    ("value", "shown"),
    [("1", True), ("info,initrd", True), ("initrd", False), ("0", False), ("", False)],
)
def test_ltsp_debug_from_ltsp_conf(
    host: Host,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    value: str,
    shown: bool,
) -> None:
    def applet(ctx: Context, args: list[str]) -> int:
        logging.getLogger("ltsp.test").debug("a debug message")
        return 0

    monkeypatch.setattr(cli, "resolve", lambda name: applet)
    (host.etc_dir / "ltsp.conf").write_text(f"[server]\nLTSP_DEBUG={value}\n")
    assert cli.main(["info"], host=host) == 0
    assert ("a debug message" in capsys.readouterr().err) is shown
    assert debug_enabled("info", value) is shown


def test_debug_log_file_per_invocation_and_debug_log_0(
    host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    def applet(ctx: Context, args: list[str]) -> int:
        logging.getLogger("ltsp.test").warning("warned by %s", args[0])
        return 0

    monkeypatch.setattr(cli, "resolve", lambda name: applet)
    log_file = host.run_dir / "ltsp.log"
    assert cli.main(["info", "first"], host=host) == 0
    assert cli.main(["info", "second"], host=host) == 0
    text = log_file.read_text()
    assert "warned by second" in text and "first" not in text  # a server keeps the last one
    assert log_file.stat().st_mode & 0o777 == 0o600
    (host.run_dir / "client").mkdir()  # on a client the log accumulates
    assert cli.main(["info", "third"], host=host) == 0
    assert "warned by second" in log_file.read_text()
    log_file.unlink()
    (host.etc_dir / "ltsp.conf").write_text("[common]\nDEBUG_LOG=0\n")
    assert cli.main(["info", "fourth"], host=host) == 0
    assert not log_file.exists()


def test_unreadable_ltsp_conf_is_skipped_as_upstream_does(
    host: Host, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An admin may keep ltsp.conf 0660 for group sudo: other users' commands still run."""
    seen: list[Context] = []
    monkeypatch.setattr(cli, "resolve", lambda name: lambda ctx, args: seen.append(ctx) or 0)
    conf = host.etc_dir / "ltsp.conf"
    conf.write_text('[server]\nHOME_DIR=/conf/home\nPRE_INFO_X="exit 1"\n')
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: p != conf and real_access(p, mode))
    assert cli.main(["info"], host=host) == 0
    assert seen[-1].home_dir == Path("/home") and seen[-1].config is None


def test_debug_log_by_the_one_boolean_rule_and_on_by_default() -> None:
    assert [log_to_file(v) for v in (None, "", " ", "1", "yes", "0", "no", "off")] == [
        True, True, True, True, True, False, False, False,
    ]  # fmt: skip
    assert debug_enabled("init", "info, init") and not debug_enabled("init", "initrd-bottom")


def test_importing_the_dispatcher_imports_no_config_or_applet_code() -> None:
    """pid 1 imports cli before any error handling: it must stay small and not fail."""
    import subprocess
    import sys

    code = (
        "import sys, ltsp_client.cli; print(sorted(m for m in sys.modules if 'ltsp_client.' in m))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = eval(out.stdout)  # a printed list of module names
    assert not [m for m in loaded if m.startswith(("ltsp_client.config", "ltsp_client.server"))]
    assert set(loaded) <= {
        "ltsp_client.appcontext", "ltsp_client.applet", "ltsp_client.cli", "ltsp_client.errors",
    }, loaded  # fmt: skip


def test_started_as_init_by_name_or_by_the_kernels_init_parameter() -> None:
    from ltsp_client.cli import is_init

    assert is_init("/sbin/init", [], 1) and is_init("/sbin/init", ["splash"], 1234)
    # init=/usr/lib/ltsp/ltsp: pid 1, the kernel's words for init (none, or no applet)
    assert is_init("/usr/lib/ltsp/ltsp", [], 1) and is_init("/usr/lib/ltsp/ltsp", ["single"], 1)
    assert not is_init("/usr/lib/ltsp/ltsp", ["init", "--root", "/x"], 1)
    assert not is_init("/usr/lib/ltsp/ltsp", [], 4321)
    assert not is_init("/usr/lib/ltsp/ltsp", ["--version"], 1)  # rdinit=... -- --version


def test_initrd_bottom_imports_nothing_it_does_not_use() -> None:
    """The initramfs stage starts once per boot on an emulated or slow CPU: the modules its
    steps import (the init stage's included) pull no heavy library it has no use for."""
    import subprocess
    import sys

    code = (
        "import sys, ltsp_client.cli\n"
        "from ltsp_client.init import initramfs, install, early, pid1\n"
        "from ltsp_client.config import Identity, evaluate\n"
        "from ltsp_client.pluginkit import hooks, loader\n"
        "from ltsp_client.system.facts import facts_from_ipconfig\n"
        "loader.builtin_registry()\n"
        "print(sorted({m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(eval(out.stdout))  # a printed list of top-level module names
    heavy = {"argparse", "asyncio", "difflib", "pyroute2", "ssl", "dbus_next", "email", "http"}
    assert not loaded & heavy, sorted(loaded & heavy)


def test_initrd_bottom_exits_with_its_error_after_the_fast_exit(tmp_path: Path) -> None:
    """`ltsp initrd-bottom` ends with os._exit (no teardown): its status and its
    message still come out. Outside a client boot it refuses to run."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "ltsp_client", "initrd-bottom", "--rootmnt", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "LTSP_RUN_DIR": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 1
    assert f"Running ltsp initrd-bottom (root {tmp_path})" in result.stderr
    assert "does not look like an LTSP client boot" in result.stderr
