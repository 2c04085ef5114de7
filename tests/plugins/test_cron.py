"""The cron plugin on a root made of Debian's cron and the packages whose jobs it removes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from goldentree import FakeRoot, apply_plugin, client_config

from ltsp_client.plugins.cron import Cron
from ltsp_client.plugins.hostname import Hostname

PACKAGES = ("cron", "cron-daemon-common", "apt", "man-db", "logrotate", "dpkg")
JOBS_REMOVED = {
    "etc/cron.daily/apt-compat": None,
    "etc/cron.daily/dpkg": None,
    "etc/cron.daily/logrotate": None,
    "etc/cron.daily/man-db": None,
    "etc/cron.weekly/man-db": None,
}


def test_crontab_lines_and_maintenance_jobs(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot(*PACKAGES))
    before = root.tree()
    text = (
        "[clients]\n"
        'CRONTAB_01="0 22 * * * root /sbin/poweroff"\n'
        'CRONTAB_00="*/5 * * * * nobody echo %{HOSTNAME}"\n'
        "HOSTNAME=pc%{IP}\n"
    )
    config = client_config(tmp_path, text)
    named = apply_plugin(Hostname, root, config)  # runs first at boot and exports HOSTNAME
    assert named is not None
    apply_plugin(Cron, root, config.with_values(named.exports))
    changes = root.changes_since(before)
    cron_d = changes.pop("etc/cron.d/ltsp")
    assert cron_d is not None and cron_d.splitlines()[1:] == [
        "PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin",
        "*/5 * * * * nobody echo pc20",
        "0 22 * * * root /sbin/poweroff",
    ]
    assert cron_d.startswith("#")
    assert changes.pop("etc/hostname") == "pc20\n"
    changes.pop("etc/hosts")
    assert changes == JOBS_REMOVED


def test_without_crontab_lines_only_jobs_go(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot(*PACKAGES))
    before = root.tree()
    apply_plugin(Cron, root, client_config(tmp_path, "[clients]\n"))
    assert root.changes_since(before) == JOBS_REMOVED


def test_not_needed_without_cron(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = FakeRoot(debroot("apt"))
    config = client_config(tmp_path, '[clients]\nCRONTAB_1="@reboot root true"\n')
    assert apply_plugin(Cron, root, config) is None
