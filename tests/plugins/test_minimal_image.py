"""Every system plugin on a minimal image: most have nothing to do and say "not needed"."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from goldentree import FACTS, FakeRunner, client_config

from ltsp_client.pluginkit import PluginContext
from ltsp_client.pluginkit.loader import load
from ltsp_client.pluginkit.runner import run_plugins

# What a minimal bookworm image (debootstrap minbase + systemd-sysv) gives each plugin.
EXPECTED = {
    "machine-id": "ok",  # every client gets its own
    "systemd": "ok",
    "motd": "ok",  # base-files' 10-uname
    "services": "ok",  # apt's timers
    "fstab": "not needed",  # no /etc/fstab, no FSTAB_x
    "cron": "not needed",
    "cups": "not needed",
    "epoptes": "not needed",
    "locale": "not needed",
    "logs": "not needed",
    "multiseat": "not needed",
    "polkit": "not needed",
    "search-providers": "not needed",
    "snap": "not needed",
    "sshfs": "not needed",
    "swap": "not needed",
    "xorg": "not needed",
    "ltsp-service": "not needed",  # no ltsp binary in this image
}


def test_minimal_image(debroot: Callable[..., Path], tmp_path: Path) -> None:
    root = debroot("systemd", "systemd-sysv", "apt")
    config = client_config(tmp_path, "[clients]\nSERVER=192.168.67.1\n")
    ctx = PluginContext(root, config, FACTS, runner=FakeRunner())  # no command expected
    summary = run_plugins(load(root).registry, ctx)
    statuses = {o.name: o.status for o in summary.outcomes if o.name in EXPECTED}
    assert statuses == EXPECTED
