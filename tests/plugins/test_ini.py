"""pluginkit.ini: INI edits that keep the file's comments and order (through configobj)."""

from __future__ import annotations

import pytest
from goldentree import FakeRoot

from ltsp_client.errors import LtspError
from ltsp_client.pluginkit.ini import edit_ini

# The start of Debian's /etc/gdm3/daemon.conf (gdm3 43).
GDM3 = """\
# GDM configuration storage
#
# See /usr/share/gdm/gdm.schemas for a list of available options.

[daemon]
# Uncomment the line below to force the login screen to use Xorg
#WaylandEnable=false

# Enabling automatic login
#  AutomaticLoginEnable = true
#  AutomaticLogin = user1

[security]

[xdmcp]

[chooser]

[debug]
# Uncomment the line below to turn on debugging
# More verbose logs
# Additionally lets the X server dump core if it crashes
#Enable=true
"""


def test_set_keys_keeping_comments(fake_root: FakeRoot) -> None:
    fake_root.write("/etc/gdm3/daemon.conf", GDM3)
    before = fake_root.tree()
    edit_ini(
        fake_root.path,
        "/etc/gdm3/daemon.conf",
        {"daemon": {"AutomaticLoginEnable": "true", "AutomaticLogin": "guest"}},
        0o644,
    )
    expected = GDM3.replace(
        "#  AutomaticLogin = user1\n",
        "#  AutomaticLogin = user1\nAutomaticLoginEnable = true\nAutomaticLogin = guest\n",
    )
    assert fake_root.changes_since(before) == {"etc/gdm3/daemon.conf": expected}


def test_change_and_remove_keep_the_comments_above(fake_root: FakeRoot) -> None:
    text = "[Seat:*]\n# who logs in\nautologin-user=pc01\n# how long\nautologin-user-timeout=0\n"
    fake_root.write("/etc/lightdm/lightdm.conf", text, mode=0o600)
    edit_ini(
        fake_root.path,
        "/etc/lightdm/lightdm.conf",
        {"Seat:*": {"autologin-user": None, "autologin-user-timeout": "5"}},
        0o600,
    )
    assert fake_root.tree() == {
        "etc/lightdm/lightdm.conf": "[0600] [Seat:*]\n# who logs in\n# how long\n"
        "autologin-user-timeout = 5\n"
    }


def test_new_file_and_new_sections(fake_root: FakeRoot) -> None:
    path = "/etc/sddm.conf.d/ltsp.conf"
    edit_ini(fake_root.path, path, {"Autologin": {"User": "guest", "Session": "plasma"}}, 0o644)
    edit_ini(fake_root.path, path, {"Users": {"MaximumUid": "60000"}}, 0o644)
    assert fake_root.tree() == {
        "etc/sddm.conf.d/ltsp.conf": "[Autologin]\nUser = guest\nSession = plasma\n\n"
        "[Users]\nMaximumUid = 60000\n"
    }


def test_values_are_not_interpreted(fake_root: FakeRoot) -> None:
    edit_ini(
        fake_root.path,
        "/etc/x.conf",
        {"": {"greeting": "Hello, %(USER)s; it's $HOME"}, "s": {"empty": ""}},
        0o644,
    )
    text = fake_root.tree()["etc/x.conf"]
    assert 'greeting = "Hello, %(USER)s; it\'s $HOME"' in text or (
        "greeting = Hello, %(USER)s; it's $HOME" in text
    )
    assert text.endswith("[s]\nempty = \n")


def test_unreadable_file_is_a_located_error(fake_root: FakeRoot) -> None:
    fake_root.write("/etc/bad.conf", "[a]\nx=1\nx=2\n")
    with pytest.raises(LtspError, match=r"/etc/bad\.conf: cannot read it as an INI file"):
        edit_ini(fake_root.path, "/etc/bad.conf", {"a": {"y": "1"}}, 0o644)
    assert fake_root.tree() == {"etc/bad.conf": "[a]\nx=1\nx=2\n"}
