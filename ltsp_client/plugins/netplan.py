"""No netplan on a client (spec §3.3.7): its configuration and generator are removed.

netplan's generator writes NetworkManager or networkd configuration for the
image's interfaces at every boot, the boot NIC included, which could then be
reconfigured under the root. As upstream, /etc/netplan, /run/netplan and the
generator go; NetworkManager (see the networkmanager plugin) still runs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath

from ltsp_client.pluginkit import Plugin, PluginContext

GENERATOR = "/lib/systemd/system-generators/netplan"
CONFIG_DIRS = ("/etc/netplan", "/run/netplan")


class Netplan(Plugin, name="netplan", order=14):
    """Remove netplan's configuration and generator, when the image has them.

    Example::

        [clients]
        # nothing to set; to keep netplan (the boot NIC must not be in its YAML):
        OMIT_PLUGINS=netplan
    """

    aliases = ("networking_main", "config_network_manager")

    def applies(self, ctx: PluginContext) -> bool:
        return any(os.path.lexists(entry(ctx, p)) for p in (GENERATOR, *CONFIG_DIRS))

    def apply(self, ctx: PluginContext) -> None:
        for directory in CONFIG_DIRS:
            path = entry(ctx, directory)
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif os.path.lexists(path):
                ctx.remove_file(directory)
        ctx.remove_file(GENERATOR)


def entry(ctx: PluginContext, path: str) -> Path:
    """`path` under the root with its parents resolved but not itself (a link stays a link)."""
    posix = PurePosixPath(path)
    return ctx.path(posix.parent) / posix.name
