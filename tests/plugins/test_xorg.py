"""The xorg plugin: X_* into /etc/X11/xorg.conf, only with Xorg installed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from goldentree import FakeRoot, apply_plugin, client_config

from ltsp_client.plugins.xorg import Xorg

ALL = """\
# Written by LTSP at boot from the X_* settings of ltsp.conf; see xorg.conf(5)

Section "Device"
    Identifier "Configured Video Device"
    Driver "vesa"
EndSection

Section "Monitor"
    Identifier "Configured Monitor"
    HorizSync 28.0-87.0
    VertRefresh 43.0-87.0
    Option "PreferredMode" "1024x768"
    Modeline "1024x768_85.00" 94.50 1024 1096 1200 1376 768 771 775 809 -hsync +vsync
EndSection

Section "Screen"
    Identifier "Default Screen"
    Monitor "Configured Monitor"
    Device "Configured Video Device"
    SubSection "Display"
        Virtual 1024 768
        Modes "1024x768" "800x600"
    EndSubSection
EndSection
"""


def test_every_setting(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot("xserver-xorg-core"))
    before = root.tree()
    text = (
        "[clients]\nX_DRIVER=vesa\nX_HORIZSYNC=28.0-87.0\nX_VERTREFRESH=43.0-87.0\n"
        "X_PREFERREDMODE=1024x768\n"
        "X_MODELINE='\"1024x768_85.00\" 94.50 1024 1096 1200 1376 768 771 775 809 -hsync +vsync'\n"
        "X_VIRTUAL='1024 768'\nX_MODES='\"1024x768\" \"800x600\"'\n"
    )
    apply_plugin(Xorg, root, client_config(tmp_path, text))
    assert root.changes_since(before) == {"etc/X11/xorg.conf": ALL}


def test_only_modes(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot("xserver-xorg-core"))
    apply_plugin(Xorg, root, client_config(tmp_path, "[pc]\n[clients]\nX_MODES='\"800x600\"'\n"))
    conf = (root.path / "etc/X11/xorg.conf").read_text()
    assert '        Modes "800x600"\n' in conf
    assert "Driver" not in conf and "Virtual" not in conf and "HorizSync" not in conf


def test_not_needed(debroot: Callable[..., Path], tmp_path: Path) -> None:
    with_x = debroot("xserver-xorg-core")
    assert apply_plugin(Xorg, with_x, client_config(tmp_path, "[clients]\n")) is None
    without_x = FakeRoot(tmp_path / "bare")
    config = client_config(tmp_path, "[clients]\nX_DRIVER=vesa\n")
    assert apply_plugin(Xorg, without_x, config) is None
