"""Unit names with aliases: our files against the real `systemctl --root`, on real units."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ltsp_client.pluginkit import units
from ltsp_client.pluginkit.unitaliases import as_unit, disable_sysv, installed, real_unit

PACKAGES = ("systemd", "rpcbind", "rsyslog", "cups-daemon", "apt", "cron", "openssh-server")


def links(root: Path) -> dict[str, str]:
    """Every symlink under /etc/systemd and /etc/rc?.d, as path -> target."""
    found = {}
    for top in ("etc/systemd", "etc/rc2.d", "etc/rc3.d", "etc/rc4.d", "etc/rc5.d"):
        for path in (root / top).rglob("*"):
            if path.is_symlink():
                found[str(path.relative_to(root))] = os.readlink(path)
    return found


def systemctl(root: Path, *args: str) -> None:
    if shutil.which("systemctl") is None:
        pytest.fail("systemctl is missing: apt-get install systemd (scripts/deps/apt-base.txt)")
    subprocess.run(["systemctl", f"--root={root}", *args], check=True, capture_output=True)


@pytest.fixture
def two_copies(debroot: Callable[..., Path], tmp_path: Path) -> tuple[Path, Path]:
    ours = debroot(*PACKAGES, name="ours")
    theirs = tmp_path / "theirs"
    shutil.copytree(ours, theirs, symlinks=True, copy_function=os.link)
    return ours, theirs


# Names without an /etc/init.d script (systemctl would run the image's update-rc.d for those).
@pytest.mark.parametrize(
    "name", ["portmap", "rsyslog", "syslog", "sshd", "apt-daily.timer", "cups.socket"]
)
def test_disable_by_any_name_removes_what_systemctl_removes(
    two_copies: tuple[Path, Path], name: str
) -> None:
    ours, theirs = two_copies
    before = links(ours)
    units.disable_unit(ours, real_unit(ours, name))
    systemctl(theirs, "disable", name)
    assert links(ours) == links(theirs) != before


@pytest.mark.parametrize("name", ["rsyslog", "apt-daily", "cups.path"])
def test_mask_makes_what_systemctl_makes(two_copies: tuple[Path, Path], name: str) -> None:
    ours, theirs = two_copies
    units.mask_unit(ours, real_unit(ours, name))
    systemctl(theirs, "mask", name)
    assert links(ours) == links(theirs)


def test_aliases_and_existence(two_copies: tuple[Path, Path]) -> None:
    root, _ = two_copies
    assert real_unit(root, "portmap") == "rpcbind.service"  # a link in /lib/systemd/system
    assert real_unit(root, "syslog") == "rsyslog.service"  # the Alias= link made by enabling
    assert real_unit(root, "apt-daily.timer") == "apt-daily.timer"
    assert real_unit(root, "not-there") == "not-there.service"
    assert as_unit("ssh") == "ssh.service" and as_unit("x.socket") == "x.socket"
    assert installed(root, "portmap") and installed(root, "cups.path")
    assert not installed(root, "not-there")
    units.mask_unit(root, "cron.service")
    assert not installed(root, "cron")  # masked


def test_sysv_script_start_links_become_stop_links(tmp_path: Path) -> None:
    (tmp_path / "etc/init.d").mkdir(parents=True)
    (tmp_path / "etc/init.d/oldd").write_text("#!/bin/sh\n")
    for level in "S2345":
        (tmp_path / f"etc/rc{level}.d").mkdir()
        (tmp_path / f"etc/rc{level}.d/S01oldd").symlink_to("../init.d/oldd")
    assert len(disable_sysv(tmp_path, "oldd")) == 5
    assert sorted(p.name for p in tmp_path.glob("etc/rc?.d/*")) == ["K01oldd"] * 5
    assert disable_sysv(tmp_path, "gone") == []
