"""The boot address made permanent (spec §3.3.8): valid_lft forever.

A DHCP client in the initramfs (dracut, NetworkManager's) may leave the boot
NIC's address with the lease's lifetime; when it runs out the kernel removes
the address and the client loses its root. Re-adding each such IPv4 address
(`ip address change` with the same address, prefix and broadcast) resets its
lifetimes to forever. Fedora-style ifcfg files with BOOTPROTO=dhcp are left
alone, as upstream: NetworkManager renews only leases that can expire.

Only on a live boot (the root is `/`): elsewhere (`ltsp init --root`, tests)
nothing is read or run, since the addresses are this machine's.
"""

from __future__ import annotations

import logging
import re
import shlex

from ltsp_client.pluginkit import Plugin, PluginContext

log = logging.getLogger(__name__)

# `ip -4 -oneline address show` lines with a broadcast and a finite valid_lft
FINITE = re.compile(
    r"\sinet (?P<address>[0-9.]+)/(?P<prefix>\d+) brd (?P<brd>[0-9.]+) .*valid_lft \d+sec"
)
IP_CHANGE = ("ip", "-4", "address", "change")
FOREVER = ("valid_lft", "forever", "preferred_lft", "forever")


def changes(ip_output: str, device: str) -> list[list[str]]:
    """The `ip address change` commands that make expiring addresses permanent."""
    found = [m for m in (FINITE.search(line) for line in ip_output.splitlines()) if m]
    return [
        [
            *IP_CHANGE,
            f"{m['address']}/{m['prefix']}",
            "broadcast",
            m["brd"],
            "dev",
            device,
            *FOREVER,
        ]
        for m in found
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
        shown = ctx.runner(["ip", "-4", "-oneline", "address", "show", "dev", device], timeout=10)
        for change in changes(shown.stdout, device):
            log.info("validlft: %s", shlex.join(change))
            ctx.runner(change, timeout=10)
