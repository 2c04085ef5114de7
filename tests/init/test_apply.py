"""`ltsp init --root DIR`: the init stage on an unpacked image for one client; its dry run."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path

import pytest

from ltsp_client.cli import main
from ltsp_client.config.model import Config, Identity
from ltsp_client.init.apply import apply, preview_deps
from ltsp_client.init.options import parse_args
from ltsp_client.pluginkit import Facts

MAC, IP = "52:54:00:12:34:56", "192.168.67.20/24"
CONF = "[clients]\nHOSTNAME=pc%{IP}\n[52:54:00:12:34:56]\nHOSTNAME=teacher\n"
DROPINS = {
    "idle.py": """
from ltsp_client.pluginkit import Plugin


class Idle(Plugin, name="idle", order=40):
    applies_when = "A display manager is installed."

    def applies(self, *args: object) -> bool:
        return False
""",
    "fails.py": """
from ltsp_client.pluginkit import Plugin


class Fails(Plugin, name="fails", order=45):
    def apply(self, *args: object) -> None:
        raise RuntimeError("admin plugin bug")
""",
}


def image(tmp_path: Path, conf: str = CONF, dropins: dict[str, str] | None = None) -> Path:
    root = tmp_path / "image"
    for name in ("etc/ltsp/plugins", "sbin", "run", "proc"):
        (root / name).mkdir(parents=True)
    (root / "etc/hostname").write_text("debian\n")
    (root / "etc/hosts").write_text("127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n")
    (root / "etc/ltsp/ltsp.conf").write_text(conf)
    for name, text in (dropins or {}).items():
        (root / "etc/ltsp/plugins" / name).write_text(text)
    (root / "sbin/init").symlink_to("/lib/systemd/systemd")
    return root


def tree(root: Path) -> dict[str, tuple[int, float, str]]:
    found = {}
    for directory, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            path = Path(directory, name)
            info = path.lstat()
            body = (
                os.readlink(path)
                if path.is_symlink()
                else path.read_text()
                if path.is_file()
                else ""
            )
            found[str(path.relative_to(root))] = (info.st_mode, info.st_mtime, body)
    return found


def run(*args: str) -> tuple[int, str]:
    options = parse_args(list(args))
    assert options is not None
    out = io.StringIO()
    return apply(options, out=out), out.getvalue()


def test_dry_run_prints_the_diff_and_changes_nothing(tmp_path: Path) -> None:
    root = image(tmp_path)
    before = tree(root)
    status, text = run("--root", str(root), "--mac", MAC, "--ip", IP, "--dry-run")
    assert status == 0, text
    assert tree(root) == before
    assert text.startswith(f"ltsp init on {root} for {MAC} 192.168.67.20/24 (dry run: ")
    assert "  ran        hostname (" in text
    assert "What the client would get (" in text
    assert "--- a/etc/hostname\n+++ b/etc/hostname\n@@ -1 +1 @@\n-debian\n+teacher\n" in text
    assert "-127.0.1.1\tdebian\n+127.0.1.1\tteacher\n" in text
    assert "/run/ltsp" not in text, "our own log is not what the client gets"


def test_another_client_gets_another_section(tmp_path: Path) -> None:
    root = image(tmp_path)
    status, text = run("--root", str(root), "--mac", "52:54:00:00:00:09", "--ip", "10.0.0.9/8")
    assert status == 0
    assert (root / "etc/hostname").read_text() == "pc9\n", "applied for real without --dry-run"
    assert os.readlink(root / "sbin/init") == "/lib/systemd/systemd", "no init hand-over"
    assert f"log: {root}/run/ltsp/ltsp.log" in text


def test_not_needed_and_failed_plugins_are_reported(tmp_path: Path) -> None:
    root = image(tmp_path, dropins=DROPINS)
    status, text = run("--root", str(root), "--mac", MAC, "--ip", IP, "--dry-run")
    assert status == 1, "a failed plugin fails the run"
    assert "  not needed idle: not (A display manager is installed)\n" in text
    assert "  FAILED     fails: RuntimeError: admin plugin bug\n" in text
    assert "  ran        hostname (" in text


def test_config_file_instead_of_the_images(tmp_path: Path) -> None:
    root = image(tmp_path)
    conf = tmp_path / "new.conf"
    conf.write_text("[clients]\nHOSTNAME=lab%{IP}\n")
    args = ("--root", str(root), "--config", str(conf), "--mac", MAC, "--ip", IP, "--dry-run")
    status, text = run(*args)
    assert status == 0 and "+lab20\n" in text


def test_a_broken_config_is_fatal_and_nothing_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = image(tmp_path, conf="[clients]\nHOSTNAME='unterminated\n")
    status, text = run("--root", str(root), "--mac", MAC, "--ip", IP, "--dry-run")
    assert status == 1
    assert "the stage stopped before its plugins" in text and "No file would change." in text
    assert "FATAL: ltsp init: config: " in capsys.readouterr().err


def client_config(root: Path) -> tuple[Config, Mapping[str, str], Facts]:
    """What pid 1 would evaluate on `root` for the client 10.5.0.7/16."""
    options = parse_args(["--root", str(root), "--mac", MAC, "--ip", "10.5.0.7/16"])
    assert options is not None
    deps = preview_deps(options)
    facts = deps.facts({})
    config = deps.evaluate(
        applet="init",
        identity=Identity(MAC, facts.ip_address, facts.hostname),
        is_client=True,
        config_dir=root / "etc/ltsp",
        environ=deps.environ,
    )
    return config, deps.environ, facts


def test_server_and_dns_default_to_what_dhcp_on_the_subnet_gives(tmp_path: Path) -> None:
    config, environ, facts = client_config(image(tmp_path, conf="[clients]\nSEARCH_DOMAIN=lan\n"))
    assert (facts.ip_address, facts.gateway, facts.hostname) == ("10.5.0.7", "10.5.0.1", "")
    assert config["SERVER"] == "10.5.0.1" and config["DNS_SERVER"] == "10.5.0.1"
    assert environ["IP_ADDRESS"] == "10.5.0.7" and "PATH" not in environ, "not this machine's"
    config, _, _ = client_config(image(tmp_path / "b", conf="[clients]\nSERVER=10.5.9.9\n"))
    assert config["SERVER"] == "10.5.9.9", "ltsp.conf wins"


def test_through_the_command_a_misspelled_option_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It used to reach the real init as an argument, after applying plugins for real."""
    root = image(tmp_path)
    before = tree(root)
    assert main(["init", "--root", str(root), "--dry-rn"]) == 1
    err = capsys.readouterr().err
    assert "unknown option --dry-rn" in err and "did you mean --dry-run?" in err
    assert tree(root) == before
    assert main(["init", "--root", str(root), "--mac", MAC, "--ip", IP, "--dry-run"]) == 0
    assert "+teacher" in capsys.readouterr().out
    assert tree(root) == before


def test_a_dry_run_runs_no_command_on_this_machine(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    dropin = f'''
from ltsp_client.pluginkit import Plugin


class Cmd(Plugin, name="cmd", order=40):
    def apply(self, ctx) -> None:
        ctx.runner(["touch", "{marker}"], timeout=5)
'''
    root = image(tmp_path, dropins={"cmd.py": dropin})
    status, text = run("--root", str(root), "--mac", MAC, "--ip", IP, "--dry-run")
    assert status == 1 and not marker.exists()
    assert f"  FAILED     cmd: a dry run runs no command on this machine: touch {marker}\n" in text
