"""The dispatcher: upstream's global options, every applet in --help, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ltsp_client import cli
from ltsp_client.applet import Context

UPSTREAM_APPLETS = [
    "initrd-bottom", "init", "login", "image", "kernel", "initrd", "ipxe",
    "nfs", "dnsmasq", "info", "remoteapps", "service", "config",
]  # fmt: skip


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


@pytest.mark.parametrize("applet", ["image", "kernel", "login"])
def test_later_applets_say_so_and_fail(applet: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([applet]) == 1
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
