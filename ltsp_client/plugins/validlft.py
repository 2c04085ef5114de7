"""The boot address made permanent (spec §3.3.8): valid_lft forever.

A DHCP client in the initramfs (dracut, NetworkManager's) may leave the boot
NIC's address with the lease's lifetime; when it runs out the kernel removes
the address and the client loses its root. Re-adding each such IPv4 address
(`ip address change` with the same address, prefix and broadcast) resets its
lifetimes to forever. The lifetimes are read over rtnetlink (system/ifaddr.py),
so a boot whose address never expires runs no command. Fedora-style ifcfg
files with BOOTPROTO=dhcp are left alone, as upstream: NetworkManager renews
only leases that can expire.

Only on a live boot (the root is `/`): elsewhere (`ltsp init --root`, tests)
nothing is read or run, since the addresses are this machine's.
"""

from __future__ import annotations

import logging
import shlex

from ltsp_client.pluginkit import Plugin, PluginContext
from ltsp_client.system.ifaddr import Ipv4Address, ipv4_addresses

log = logging.getLogger(__name__)

IP_CHANGE = ("ip", "-4", "address", "change")
FOREVER = ("valid_lft", "forever", "preferred_lft", "forever")


def changes(addresses: list[Ipv4Address], device: str) -> list[list[str]]:
    """The `ip address change` commands that make expiring addresses permanent."""
    return [
        [
            *IP_CHANGE,
            f"{a.address}/{a.prefixlen}",
            *(("broadcast", a.broadcast) if a.broadcast else ()),
            "dev",
            device,
            *FOREVER,
        ]
        for a in addresses
        if a.expires and a.address
    ]


def renewed_by_networkmanager(ctx: PluginContext) -> bool:
    ifcfg = ctx.read_text(f"/etc/sysconfig/network-scripts/ifcfg-{ctx.facts.device}") or ""
    return any(line.startswith("BOOTPROTO=dhcp") for line in ifcfg.splitlines())


class ValidLifetime(Plugin, name="validlft", order=15):
    """Keep the boot NIC's DHCP address forever, so the kernel never drops the root's network.

    Example::

        [clients]
        # nothing to set; a client whose own DHCP client renews the lease can skip it:
        OMIT_FUNCTIONS=config_validlft
    """

    aliases = ("networking_main", "config_validlft")

    def applies(self, ctx: PluginContext) -> bool:
        return bool(ctx.facts.device) and not renewed_by_networkmanager(ctx)

    def apply(self, ctx: PluginContext) -> None:
        device = ctx.facts.device
        if not ctx.is_live:
            log.info("validlft: not a live boot; %s's addresses are left as they are", device)
            return
        for change in changes(ipv4_addresses(device), device):
            log.info("validlft: %s", shlex.join(change))
            ctx.runner(change, timeout=10)
