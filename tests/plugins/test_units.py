"""pluginkit.units: masks, drop-ins and enable/disable links, on real systemd unit files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from goldentree import FakeRoot

from ltsp_client.errors import LtspError
from ltsp_client.pluginkit import units


@pytest.fixture
def image(debroot: Callable[..., Path]) -> FakeRoot:
    """A merged-/usr root with Debian's systemd and apt packages (their postinst links made)."""
    return FakeRoot(debroot("systemd", "apt"))


def test_enable_follows_install_also_and_alias(image: FakeRoot) -> None:
    before = image.tree()
    made = units.enable_unit(image.path, "systemd-networkd.service")
    target = "-> /usr/lib/systemd/system/"
    system = "etc/systemd/system/"
    assert image.changes_since(before) == {
        system + "multi-user.target.wants/systemd-networkd.service": target
        + "systemd-networkd.service",
        system + "dbus-org.freedesktop.network1.service": target + "systemd-networkd.service",
        system + "sockets.target.wants/systemd-networkd.socket": target + "systemd-networkd.socket",
        system + "sysinit.target.wants/systemd-network-generator.service": target
        + "systemd-network-generator.service",
        system + "network-online.target.wants/systemd-networkd-wait-online.service": target
        + "systemd-networkd-wait-online.service",
    }
    assert len(made) == 5
    assert units.enable_unit(image.path, "systemd-networkd.service") == made, "idempotent"


def test_disable_removes_what_enable_made(image: FakeRoot) -> None:
    before = image.tree()
    units.enable_unit(image.path, "systemd-networkd.service")
    units.enable_unit(image.path, "apt-daily.timer")
    removed = units.disable_unit(image.path, "systemd-networkd.service")
    assert len(removed) == 5
    assert image.changes_since(before) == {
        "etc/systemd/system/timers.target.wants/apt-daily.timer": "-> "
        + "/usr/lib/systemd/system/apt-daily.timer"
    }


def test_template_uses_default_instance_or_the_given_one(image: FakeRoot) -> None:
    units.enable_unit(image.path, "getty@.service")
    units.enable_unit(image.path, "getty@tty2.service")
    wants = image.path / "etc/systemd/system/getty.target.wants"
    assert {p.name: str(p.readlink()) for p in wants.iterdir()} == {
        "getty@tty1.service": "/usr/lib/systemd/system/getty@.service",
        "getty@tty2.service": "/usr/lib/systemd/system/getty@.service",
    }


def test_explicit_wanted_by_and_units_without_install(image: FakeRoot) -> None:
    with pytest.raises(LtspError, match="no \\[Install\\] section"):
        units.enable_unit(image.path, "systemd-journald.service")
    units.enable_unit(image.path, "systemd-journald.service", wanted_by=("graphical.target",))
    link = image.path / "etc/systemd/system/graphical.target.wants/systemd-journald.service"
    assert str(link.readlink()) == "/usr/lib/systemd/system/systemd-journald.service"


def test_missing_unit_and_bad_names(image: FakeRoot) -> None:
    with pytest.raises(LtspError, match="not installed") as caught:
        units.enable_unit(image.path, "lightdm.service")
    assert "/usr/lib/systemd/system" in caught.value.hint
    with pytest.raises(LtspError, match="not a systemd unit name"):
        units.mask_unit(image.path, "lightdm")


def test_mask_and_unmask(image: FakeRoot) -> None:
    before = image.tree()
    units.mask_unit(image.path, "apt-daily.timer")
    units.mask_unit(image.path, "pulseaudio.service", user=True)
    assert image.changes_since(before) == {
        "etc/systemd/system/apt-daily.timer": "-> /dev/null",
        "etc/systemd/user/pulseaudio.service": "-> /dev/null",
    }
    assert units.find_unit(image.path, "apt-daily.timer") is None, "a masked unit is not found"
    assert units.unmask_unit(image.path, "apt-daily.timer") is True
    assert units.unmask_unit(image.path, "apt-daily.timer") is False
    assert units.unmask_unit(image.path, "pulseaudio.service", user=True) is True
    assert image.changes_since(before) == {}


def test_mask_refuses_to_replace_an_admins_unit_file(image: FakeRoot) -> None:
    image.write("/etc/systemd/system/local.service", "[Service]\nExecStart=/bin/true\n")
    with pytest.raises(LtspError, match="not a symlink"):
        units.mask_unit(image.path, "local.service")


def test_dropin(image: FakeRoot) -> None:
    before = image.tree()
    units.add_dropin(image.path, "getty@tty1.service", "autologin", "[Service]\nExecStart=\n")
    units.add_dropin(image.path, "pipewire.service", "50-ltsp.conf", "[Unit]\n", user=True)
    assert image.changes_since(before) == {
        "etc/systemd/system/getty@tty1.service.d/autologin.conf": "[Service]\nExecStart=\n",
        "etc/systemd/user/pipewire.service.d/50-ltsp.conf": "[Unit]\n",
    }
