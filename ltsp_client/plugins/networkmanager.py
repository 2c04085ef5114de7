"""Keep NetworkManager off the boot NIC (spec §3.3.7): the device is unmanaged.

A NetworkManager that takes over the NIC carrying the root (DHCP again, a new
address, a reconnect) cuts the client off its root filesystem. As upstream,
`/etc/NetworkManager/conf.d/ltsp.conf` makes the boot NIC unmanaged; other
NICs (Wi-Fi, a second card) stay NetworkManager's.
"""

from __future__ import annotations

from ltsp_client.errors import LtspError
from ltsp_client.pluginkit import Plugin, PluginContext

CONF_D = "/etc/NetworkManager/conf.d"


def unmanaged_text(device: str) -> str:
    return f"[keyfile]\nunmanaged-devices=interface-name:{device}\n"


class NetworkManager(Plugin, name="networkmanager", order=14):
    """Make the boot NIC unmanaged by NetworkManager, when the image has it.

    Example::

        [clients]
        # nothing to set; to let NetworkManager manage every NIC (not for network roots):
        OMIT_FUNCTIONS=config_network_manager
    """

    aliases = ("networking_main", "config_network_manager")

    def applies(self, ctx: PluginContext) -> bool:
        return ctx.path(CONF_D).is_dir()

    def apply(self, ctx: PluginContext) -> None:
        if not ctx.facts.device:
            raise LtspError(
                "the boot network interface is unknown, so NetworkManager cannot be told to "
                "leave it alone",
                hint="check the network facts at the top of /run/ltsp/ltsp.log",
            )
        ctx.write_file(f"{CONF_D}/ltsp.conf", unmanaged_text(ctx.facts.device))
