"""Keep ifupdown off the boot NIC (spec §3.3.6): `manual` in /etc/network/interfaces, no ifdown.

ifupdown reconfiguring or taking down the NIC that carries the root would hang
the client. As upstream, /etc/network/interfaces (if the image has one) is
replaced by loopback plus `iface DEVICE inet manual`, and /sbin/ifdown becomes
a link to /bin/true, so nothing (a shutdown script, an admin) takes it down.
"""

from __future__ import annotations

import os

from ltsp_client.errors import LtspError
from ltsp_client.pluginkit import Plugin, PluginContext
from ltsp_client.pluginkit.interfaces import INTERFACES
from ltsp_client.plugins.hosts import GENERATED

IFDOWN = "/sbin/ifdown"


def interfaces_text(device: str) -> str:
    return (
        GENERATED
        + "# interfaces(5) file used by ifup(8) and ifdown(8)\n"
        + "auto lo\niface lo inet loopback\n\n"
        + f"auto {device}\niface {device} inet manual\n"
    )


def has_ifdown(ctx: PluginContext) -> bool:
    path = ctx.path(IFDOWN)
    return os.access(path, os.X_OK) and not path.is_dir()


class Ifupdown(Plugin, name="ifupdown", order=13):
    """Tell ifupdown the boot NIC is configured already (`inet manual`); disable ifdown.

    Needed when the image has ifupdown (/etc/network/interfaces or /sbin/ifdown).
    Other interfaces can be configured in /etc/network/interfaces.d/ of the image.

    Example::

        [clients]
        # nothing to set: the boot NIC is found at boot
        OMIT_FUNCTIONS=config_ifupdown  # to keep the image's interfaces file
    """

    aliases = ("networking_main", "config_ifupdown")

    def applies(self, ctx: PluginContext) -> bool:
        return ctx.path(INTERFACES).is_file() or has_ifdown(ctx)

    def apply(self, ctx: PluginContext) -> None:
        if ctx.path(INTERFACES).is_file():
            if not ctx.facts.device:
                raise LtspError(
                    "the boot network interface is unknown, so ifupdown cannot be told to leave it",
                    hint="check the network facts at the top of /run/ltsp/ltsp.log",
                )
            ctx.write_file(INTERFACES, interfaces_text(ctx.facts.device))
        if has_ifdown(ctx):
            ctx.remove_file(IFDOWN)
            ctx.symlink(IFDOWN, "../bin/true")
