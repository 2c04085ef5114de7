"""What the initramfs DHCP said (klibc ipconfig's /run/net-DEVICE.conf): DNS and domain.

Upstream's import_ipconfig (spec §3.3.1): every KEY of the file is exported as
IPCONFIG_KEY (for hooks, as upstream's shell had them); DNS_SERVER defaults to
IPV4DNS0 and IPV4DNS1 (ipconfig writes 0.0.0.0 for a missing one),
SEARCH_DOMAIN to DNSDOMAIN; ltsp.conf still wins. (HOSTNAME from DHCP is
already in the facts.)
"""

from __future__ import annotations

from collections.abc import Mapping

from ltsp_client.pluginkit import Plugin, PluginContext
from ltsp_client.system.facts import read_ipconfig

NO_ADDRESS = "0.0.0.0"


def dhcp_values(ipconfig: Mapping[str, str], config: Mapping[str, str]) -> dict[str, str]:
    """DNS_SERVER and SEARCH_DOMAIN from DHCP, for those ltsp.conf leaves empty."""
    found: dict[str, str] = {}
    if not config.get("DNS_SERVER", "").strip():
        servers = [
            word
            for key in ("IPV4DNS0", "IPV4DNS1")
            for word in ipconfig.get(key, "").split()
            if word != NO_ADDRESS
        ]
        if servers:
            found["DNS_SERVER"] = " ".join(servers)
    if not config.get("SEARCH_DOMAIN", "").strip() and ipconfig.get("DNSDOMAIN", "").strip():
        found["SEARCH_DOMAIN"] = ipconfig["DNSDOMAIN"].strip()
    return found


def ipconfig_of(ctx: PluginContext) -> dict[str, str]:
    """The boot NIC's /run/net-DEVICE.conf under the root ({} if there is none)."""
    return read_ipconfig(ctx.facts.device, ctx.path("/run")) if ctx.facts.device else {}


class NetworkDhcp(Plugin, name="network-dhcp", order=5):
    """Take DNS_SERVER and SEARCH_DOMAIN from the initramfs DHCP when ltsp.conf has none.

    Hooks also see every value as IPCONFIG_NAME (IPCONFIG_ROOTSERVER, ...).

    Needed only when klibc ipconfig left /run/net-DEVICE.conf (initramfs-tools
    boots). Later plugins (dns, hosts, hostname) and hooks see the values.

    Example::

        [clients]
        # DNS_SERVER and SEARCH_DOMAIN unset: the DHCP server's are used
        HOSTNAME=pc%{IP}
    """

    aliases = ("networking_main", "import_ipconfig")

    def applies(self, ctx: PluginContext) -> bool:
        return bool(ipconfig_of(ctx))

    def apply(self, ctx: PluginContext) -> None:
        ipconfig = ipconfig_of(ctx)
        for key, value in ipconfig.items():
            ctx.export(f"IPCONFIG_{key}", value)
        for key, value in dhcp_values(ipconfig, ctx.config.assigned).items():
            ctx.export(key, value)
