"""*_CONF values: a file or INI text, turned into changes for the INI editor."""

from __future__ import annotations

import pytest

from ltsp_client.errors import LtspError
from ltsp_client.users.iniconf import conf_text, merged, parse_ini


def test_file_or_text() -> None:
    files = {"/etc/ltsp/lightdm.conf": "[Seat:*]\nuser-session=xfce\n"}
    assert conf_text("/etc/ltsp/lightdm.conf", files.get) == files["/etc/ltsp/lightdm.conf"]
    assert conf_text("/etc/ltsp/missing.conf", files.get) == "/etc/ltsp/missing.conf"
    assert conf_text("[Seat:*]\nx=1", files.get) == "[Seat:*]\nx=1"


def test_parse_and_merge() -> None:
    extra = parse_ini("# c\n[Seat:*]\nautologin-user-timeout = 9\n\n[X]\na=b=c\n", "LIGHTDM_CONF")
    assert extra == {"Seat:*": {"autologin-user-timeout": "9"}, "X": {"a": "b=c"}}
    base = {"Seat:*": {"autologin-user": "g", "autologin-user-timeout": "2"}}
    assert merged(base, extra) == {
        "Seat:*": {"autologin-user": "g", "autologin-user-timeout": "9"},
        "X": {"a": "b=c"},
    }


def test_bad_line_names_the_parameter() -> None:
    with pytest.raises(LtspError, match=r"SDDM_CONF, line 2: 'oops'"):
        parse_ini("[Autologin]\noops\n", "SDDM_CONF")
