"""A realistic ltsp.conf evaluated for several machines (and against upstream if present)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ltsp_client.config import Config, Identity, evaluate

from .helpers import ENV, FIXTURES
from .upstream import compare

SCHOOL = FIXTURES / "school.conf"
TEACHER = Identity("52:54:00:00:00:01", "192.168.67.10", "")
PI = Identity("dc:a6:32:01:02:03", "192.168.67.30", "")
PI_SPECIAL = Identity("b8:27:eb:aa:bb:cc", "192.168.67.31", "")
PC05 = Identity("52:54:00:00:00:05", "192.168.67.25", "pc05")
SERVER = Identity("08:00:27:00:00:01", "192.168.67.1", "server")


def school(
    tmp_path: Path, identity: Identity, *, applet: str = "init", client: bool = True
) -> Config:
    shutil.copy(SCHOOL, tmp_path / "ltsp.conf")
    return evaluate(
        applet=applet, identity=identity, is_client=client, config_dir=tmp_path, environ=ENV
    )


def test_teacher_gets_its_hostname_section_and_the_included_monitor(tmp_path: Path) -> None:
    config = school(tmp_path, TEACHER)
    assert config["HOSTNAME"] == "teacher"
    assert config["AUTOLOGIN"] == "teacher"
    assert config["X_MODES"] == '"1024x768" "800x600"'
    assert config.sections_run == (
        "unnamed",
        "clients",
        "common",
        "52:54:00:00:00:01",
        "crt_monitor",
        "teacher",
        "init/",
    )


def test_raspberry_pi_alternatives_and_percent_hostname(tmp_path: Path) -> None:
    config = school(tmp_path, PI)
    assert (config["HOSTNAME"], config["IMAGE_TO_RAM"]) == ("pi%{MAC}", "1")


def test_exact_mac_above_the_wildcard_wins(tmp_path: Path) -> None:
    config = school(tmp_path, PI_SPECIAL)
    assert config["HOSTNAME"] == "pi-special" and "IMAGE_TO_RAM" not in config


def test_pc_with_multiline_value_and_init_overrides(tmp_path: Path) -> None:
    config = school(tmp_path, PC05)
    assert config["LIGHTDM_CONF"] == "greeter-hide-users=true\nallow-guest=false"
    assert config.list_values("CRONTAB_") == []  # [init/] emptied it
    assert config.list_values("POST_INIT_") == [
        "ln -sf ../ltsp/xorg.conf /etc/X11/xorg.conf",
        "section_set_root_hash",
    ]
    assert config.words("OMIT_FUNCTIONS") == ["config_machine_id", "local_swap"]
    assert "set_root_hash" in config.section_bodies
    assert "set_root_hash" not in config.sections_run


def test_initrd_bottom_sees_its_section_only(tmp_path: Path) -> None:
    assert school(tmp_path, PC05, applet="initrd-bottom")["IMAGE"] == "images/x86_64.img"
    assert "IMAGE" not in school(tmp_path, PC05)


def test_server_view(tmp_path: Path) -> None:
    config = school(tmp_path, SERVER, applet="ipxe", client=False)
    assert config["MENU_TIMEOUT"] == "3000" and "RELOGIN" not in config


@pytest.mark.parametrize(
    ("identity", "applet", "client"),
    [
        (TEACHER, "init", True),
        (PI, "init", True),
        (PI_SPECIAL, "initrd-bottom", True),
        (PC05, "init", True),
        (SERVER, "ipxe", False),
    ],
)
def test_school_same_as_upstream(
    tmp_path: Path, identity: Identity, applet: str, client: bool
) -> None:
    # upstream runs raw shell for real: neutralise the one command of the fixture
    text = SCHOOL.read_text().replace("sed 's/", ": sed 's/")
    (tmp_path / "ltsp.conf").write_text(text)
    _ours, theirs, diffs = compare(tmp_path, applet=applet, identity=identity, is_client=client)
    assert not theirs.died, theirs.stderr
    assert diffs == []


def test_applet_file_only_adds_sections_that_did_not_run(tmp_path: Path) -> None:
    lab = FIXTURES / "thin-lab"
    row2 = Identity("52:54:00:00:01:42", "192.168.67.142", "")
    config = evaluate(applet="init", identity=row2, is_client=True, config_dir=lab, environ=ENV)
    assert config["LOCAL_SWAP"] == "0"  # [clients] of ltsp-init.conf was skipped
    assert config["KEEP_SYSTEM_SERVICES"] == "ssh"  # so was its [init/]
    assert config["POST_INIT_ROW"] == "echo row 2 is up"
    assert config["X_PREFERREDMODE"] == "1280x1024"
    assert config.origins["POST_INIT_ROW"].file == str(lab / "ltsp-init.conf")
    other = Identity("52:54:00:00:01:07", "192.168.67.7", "")
    assert "POST_INIT_ROW" not in evaluate(
        applet="init", identity=other, is_client=True, config_dir=lab, environ=ENV
    )


def test_thin_lab_same_as_upstream(tmp_path: Path) -> None:
    for name in ("ltsp.conf", "ltsp-init.conf"):
        shutil.copy(FIXTURES / "thin-lab" / name, tmp_path / name)
    row2 = Identity("52:54:00:00:01:42", "192.168.67.142", "")
    _ours, theirs, diffs = compare(tmp_path, applet="init", identity=row2, is_client=True)
    assert not theirs.died, theirs.stderr
    assert diffs == []
