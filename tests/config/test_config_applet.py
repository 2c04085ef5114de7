"""`ltsp config show` and `ltsp config check` through the real CLI entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ltsp_client.cli import main

from .helpers import FIXTURES


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["config", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def show(
    capsys: pytest.CaptureFixture[str], conf: Path, *extra: str, mac: str = "m", ip: str = "i"
) -> tuple[int, str, str]:
    """`ltsp config show --config CONF --mac MAC --ip IP EXTRA...`."""
    return run(capsys, "show", "--config", str(conf), "--mac", mac, "--ip", ip, *extra)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ltsp.conf"
    path.write_text(text)
    return path


def test_show_prints_sorted_single_quoted_assignments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = write(tmp_path, "[clients]\nZ=last\nA=\"it's\"\nEMPTY=\nM='a\nb'\n")
    code, out, _ = show(capsys, conf, mac="52:54:00:00:00:01", ip="192.168.67.20")
    assert code == 0
    assert out == "A='it'\\''s'\nEMPTY=''\nM='a\nb'\nZ='last'\n"


def test_show_as_server_with_applet_and_hostname(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = write(tmp_path, "[server]\nA=s\n[clients]\nA=c\n[dnsmasq/pc9]\nB=1\n")
    code, out, _ = show(
        capsys,
        conf,
        "--hostname",
        "pc9",
        "--applet",
        "dnsmasq",
        "--server",
        mac="52:54:00:00:00:01",
        ip="10.0.0.1",
    )
    assert (code, out) == (0, "A='s'\nB='1'\n")


def test_show_reads_the_applet_file_next_to_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = write(tmp_path, "A=1\n")
    (tmp_path / "ltsp-init.conf").write_text("[init/]\nB=2\n")
    _, out, _ = show(capsys, conf, "--applet", "init")
    assert out == "A='1'\nB='2'\n"


def test_show_applies_kernel_parameters_last(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = write(tmp_path, "IMAGE=a\n")
    _, out, _ = show(capsys, conf, "--kernel-cmdline", "quiet ltsp.image=b")
    assert out == "IMAGE='b'\n"


def test_show_of_a_broken_file_is_an_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = write(tmp_path, "A=1\nB='open\n")
    code, out, err = show(capsys, conf)
    assert code == 1 and out == ""
    assert f"{conf}:2: B: unterminated single quote" in err and "Traceback" not in err


def test_show_needs_mac_and_ip(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "show", "--ip", "1.2.3.4")
    assert code == 1 and "--mac" in err


def test_help_returns_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "show" in out and "check" in out


def test_help_has_its_description_without_docstrings() -> None:
    """The frozen binary runs with optimize=2: no docstring may feed the help text."""
    proc = subprocess.run(
        [sys.executable, "-OO", "-m", "ltsp_client", "config", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "what ltsp.conf gives one client" in proc.stdout


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("A='open\n", 1, "unterminated single quote"),
        ("[pc01\n", 1, "without a closing ]"),
        ("x\n\t[pc01]\n", 2, "a tab before ["),
        ("A=1\nB=caf\xe9\n", 2, "invalid UTF-8"),
        ("[clients]\nLIGHTDM_CONF=a b\n", 2, "would run 'b' as a command"),
        ("A=1 | cat\n", 1, "shell operators"),
        ("1ABC=2\n", 1, "not a shell variable name"),
        ("my-var = 2\n", 1, "not a shell variable name"),
        ("DEBUG_SHELL=maybe\n", 1, "boolean"),
        ("READ_AHEAD_KB=fast\n", 1, "number"),
        ("PAM_AUTH_TYPE=Secondary\n", 1, "must be one of"),
        ("echo x\n  SERVER=1.2.3.4\n", 2, "indented assignment in a section with shell"),
        ("[pc01]\n  INCLUDE=x\n", 2, "an indented INCLUDE is a variable"),
        ("[]\n", 1, "empty section name"),
        ("[call]\n", 1, "calls itself"),
        ("want=1\n", 1, "aborts"),
    ],
)
def test_check_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: int, needle: str
) -> None:
    path = tmp_path / "ltsp.conf"
    path.write_bytes(text.encode("latin-1") if "\xe9" in text else text.encode())
    code, out, err = run(capsys, "check", "--config", str(path))
    assert code == 1, out
    assert f"{path}:{line}:" in out and needle in out and "error" in out
    assert "Traceback" not in out + err


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("HOSTNAM=pc1\n", "did you mean HOSTNAME?"),
        ("hostname=pc1\n", "did you mean HOSTNAME? names are case-sensitive"),
        ("MY_OWN=1\n", "fine if it is your own variable"),
        ("IMAGE_TO_RAM=yes\n", "expects 0 or 1"),
        ("A=$(hostname)\n", "kept as written, not run"),
        ("[pc01]\necho hi\n", "shell code is not run"),
        ("[b8:*]\n[b8:27]\n", "never matched"),
        ("[pc01]\n[pc01]\n", "defined again"),
        ("[a-b]\n[a_b]\n", "shares its function name"),
        ("A=1\r\n", "carriage return"),
        ("[list]\n", "never runs"),
        ("[pc01]\n    SERVER=1.2.3.4\n", "indented assignment: read like"),
    ],
)
def test_check_warnings_do_not_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, needle: str
) -> None:
    code, out, _ = run(capsys, "check", "--config", str(write(tmp_path, text)))
    assert code == 0 and needle in out and "warning" in out


def test_check_knows_list_parameters_and_hook_sections(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = '[clients]\nCRONTAB_01="x"\nPOST_INIT_FIX="section_fix"\n[fix]\nsed -i s/a/b/ /x\n'
    code, out, _ = run(capsys, "check", "--config", str(write(tmp_path, text)))
    assert (code, out) == (0, "")


def test_fixture_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--config", str(FIXTURES / "school.conf"))
    assert code == 0
    assert "error" not in out
    # the one warning: its own helper variable
    assert out.count("warning") == 1 and "TIMEZONE_NOTE" in out


def test_annotate_marks_the_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = write(tmp_path, "[clients]\nA=b c\nHOSTNAM=x\nOK=1\n")
    code, out, _ = run(capsys, "check", "--config", str(conf), "--annotate")
    assert code == 1
    assert out.splitlines()[:4] == [
        "[clients]",
        "A=b c\t\t# E1",
        "HOSTNAM=x\t\t# W1",
        "OK=1\t\t# W2",
    ]
    assert "# Errors: -------------" in out and "# E1: line 2: A: unquoted space" in out
    assert "# W1: line 3: HOSTNAM: unknown parameter HOSTNAM (hint: did you mean" in out


def test_annotate_of_an_unparsable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = write(tmp_path, "A=1\nB='x\n")
    code, out, _ = run(capsys, "check", "--config", str(conf), "--annotate")
    assert code == 1 and out.startswith("A=1\nB='x\t\t# E1\n")


def test_check_of_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", "--config", str(tmp_path / "nope.conf"))
    assert code == 1 and "cannot read" in err


def test_show_with_a_missing_config_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = show(capsys, tmp_path / "nope")
    assert code == 1 and "no such file" in err


def test_check_of_an_applet_file_warns_about_the_shared_guard(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "A=1\n[clients]\nB=1\n")
    applet = tmp_path / "ltsp-init.conf"
    applet.write_text("# comment\n\nA=2\n[clients]\nB=2\n[init/]\nC=3\n")
    code, out, _ = run(capsys, "check", "--config", str(applet))
    assert code == 0
    assert f"{applet}:3: warning: lines above the first section never run here" in out
    assert f"{applet}:4: warning: [clients] is skipped whenever [clients]" in out
    assert ":6:" not in out


def test_check_without_config_reads_every_file_of_the_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ltsp_client.applets import config as command

    monkeypatch.setattr(command, "DEFAULT_CONFIG", tmp_path / "ltsp.conf")
    assert run(capsys, "check")[0] == 0  # no file at all: nothing to check
    write(tmp_path, "[clients]\nSERVER=1.2.3.4\n")
    (tmp_path / "ltsp-init.conf").write_text("[init/]\nRELOGIN=maybe\n")
    code, out, err = run(capsys, "check")
    assert code == 1 and f"{tmp_path}/ltsp-init.conf:2: RELOGIN: error" in out
    assert "ltsp.conf, " in err


def test_check_knows_every_plugins_parameters_in_a_fresh_process(tmp_path: Path) -> None:
    """`check` imports the built-in plugins itself: HOSTNAME is the hostname plugin's."""
    conf = write(tmp_path, "[clients]\nHOSTNAME=pc%{IP}\nSEARCH_DOMAIN=lan\nRELOGIN=maybe\n")
    proc = subprocess.run(
        [sys.executable, "-m", "ltsp_client", "config", "check", "--config", str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert "unknown parameter" not in proc.stdout, proc.stdout
    assert "RELOGIN is a boolean, not 'maybe'" in proc.stdout
    assert proc.returncode == 1
