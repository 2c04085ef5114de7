"""LightDM, GDM3 and SDDM against the real configuration files of their .deb packages."""

from __future__ import annotations

from pathlib import Path

from goldentree import FACTS, apply_plugin, client_config

from ltsp_client.plugins.gdm3 import Gdm3
from ltsp_client.plugins.lightdm import LightDM
from ltsp_client.plugins.sddm import Sddm

USERS = (
    "root:x:0:0::/root:/bin/sh\n"
    "guest01:x:1101:1101::/home/guest01:/bin/sh\n"
    "kiosk:x:1200:1200::/h:/bin/sh\n"
)


def prepare(root: Path) -> Path:
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc/passwd").write_text(USERS)
    (root / "etc/hostname").write_text("pc01\n")
    return root


def test_lightdm(debroot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = prepare(debroot("lightdm"))
    original = (root / "etc/lightdm/lightdm.conf").read_text()
    conf = '[clients]\nAUTOLOGIN=pc/guest\nLIGHTDM_CONF="[Seat:*]\nuser-session=xfce"\n'
    assert apply_plugin(LightDM, root, client_config(tmp_path, conf)) is not None
    text = (root / "etc/lightdm/lightdm.conf").read_text()
    # comments and order kept: every original comment line is still there, in order
    comments = [line for line in original.splitlines() if line.startswith("#")]
    assert [line for line in text.splitlines() if line.startswith("#")] == comments
    seat = text.split("\n[Seat:*]\n", 1)[1].split("\n[", 1)[0]
    for line in (
        "greeter-show-manual-login = true",
        "greeter-hide-users = false",
        "autologin-user = guest01",
        "autologin-user-timeout = 2",
        "user-session = xfce",
    ):
        assert line in seat.splitlines(), line


def test_lightdm_relogin_and_unknown_user(debroot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = prepare(debroot("lightdm"))
    apply_plugin(
        LightDM, root, client_config(tmp_path, "[clients]\nAUTOLOGIN=nobody99\nRELOGIN=0\n")
    )
    seat = (root / "etc/lightdm/lightdm.conf").read_text().split("\n[Seat:*]\n", 1)[1]
    assert "autologin-user = " in seat.splitlines() and "autologin-user-timeout = 0" in seat


def test_gdm3(debroot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = prepare(debroot("gdm3"))
    (tmp_path / "extra.conf").write_text("")
    (root / "etc/ltsp").mkdir(exist_ok=True)
    (root / "etc/ltsp/gdm.conf").write_text("[daemon]\nWaylandEnable=false\n")
    conf = "[clients]\nAUTOLOGIN=kiosk\nGDM3_CONF=/etc/ltsp/gdm.conf\n"
    apply_plugin(Gdm3, root, client_config(tmp_path, conf))
    text = (root / "etc/gdm3/daemon.conf").read_text()
    daemon = text.split("[daemon]", 1)[1].split("\n[", 1)[0].splitlines()
    assert {
        "AutomaticLoginEnable = true",
        "AutomaticLogin = kiosk",
        "WaylandEnable = false",
    } <= set(daemon)
    assert "#  AutomaticLoginEnable = true" in text  # Debian's comments stay
    assert not (root / "etc/gdm3/custom.conf").exists()


def test_sddm_with_session(debroot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = prepare(debroot("sddm"))
    (root / "usr/share/xsessions").mkdir(parents=True, exist_ok=True)
    (root / "usr/share/xsessions/xfce.desktop").write_text("[Desktop Entry]\n")
    apply_plugin(Sddm, root, client_config(tmp_path, "[clients]\nAUTOLOGIN=kiosk\nRELOGIN=0\n"))
    text = (root / "etc/sddm.conf").read_text()
    assert text.splitlines()[:4] == [
        "[Autologin]",
        "User = kiosk",
        "Session = xfce.desktop",
        "Relogin = false",
    ]


def test_not_installed_means_not_applied(tmp_path: Path) -> None:
    root = prepare(tmp_path / "root")
    config = client_config(tmp_path, "[clients]\nAUTOLOGIN=kiosk\n")
    for plugin in (LightDM, Gdm3, Sddm):
        assert apply_plugin(plugin, root, config) is None
    assert sorted(p.name for p in (root / "etc").iterdir()) == ["hostname", "passwd"]
    assert FACTS is not None
