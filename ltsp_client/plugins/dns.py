"""The client's DNS servers and search domain (spec §3.3.5).

DNS_SERVER (ltsp.conf, else DHCP through the network-dhcp plugin, else SERVER
with DNS=1, else a probe with dig as upstream) goes where the image's resolver
reads it: systemd-resolved (a drop-in: DNS= is global, since per-link DNS
needs networkd), resolvconf (its `base` file), else a plain /etc/resolv.conf.
Without any DNS server the resolver configuration is left alone.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from ltsp_client.pluginkit import Param, Plugin, PluginContext
from ltsp_client.plugins import hostname as _declares_search_domain  # noqa: F401
from ltsp_client.plugins.hosts import GENERATED

log = logging.getLogger(__name__)

PUBLIC_DNS = "8.8.8.8"
RESOLVED_DIR = "/run/systemd/resolve/"
RESOLVED_DROPIN = "/etc/systemd/resolved.conf.d/ltsp.conf"
RESOLVCONF_BASE = "/etc/resolvconf/resolv.conf.d/base"


def resolved_text(servers: Sequence[str], domain: str) -> str:
    text = GENERATED + "[Resolve]\n" + f"DNS={' '.join(servers)}\n"
    return text + (f"Domains={domain}\n" if domain else "")


def resolv_conf_text(servers: Sequence[str], domain: str) -> str:
    lines = [f"search {domain}"] if domain else []
    lines += [f"nameserver {server}" for server in servers]
    return GENERATED + "".join(f"{line}\n" for line in lines)


def servers(ctx: PluginContext) -> list[str]:
    """DNS_SERVER, or SERVER when DNS=1 (upstream: DNS=1 wins over DNS_SERVER)."""
    server = ctx.text("SERVER")
    if ctx.flag("DNS") and server:
        return [server]
    return ctx.words("DNS_SERVER")


def probe(ctx: PluginContext) -> list[str]:
    """Upstream's last resort: the first of SERVER, GATEWAY, 8.8.8.8 answering a dig query.

    Only on a live boot (a --root run or a test would query this machine's network)."""
    candidates = [c for c in (ctx.text("SERVER"), ctx.facts.gateway, PUBLIC_DNS) if c]
    if not ctx.path("/usr/bin/dig").exists():
        return []
    if not ctx.is_live:
        log.info("dns: no DNS_SERVER; a booting client would probe %s with dig", candidates)
        return []
    log.warning("dns: no DNS_SERVER in ltsp.conf or DHCP; probing %s", " ".join(candidates))
    for candidate in candidates:
        argv = ["dig", "+time=1", "+tries=1", "+short", f"@{candidate}", "localhost"]
        if ctx.runner(argv, timeout=5, check=False).ok:
            return [candidate]
    return []


def resolv_link(ctx: PluginContext) -> str:
    """Where /etc/resolv.conf points to ("" if it is not a symlink)."""
    link = ctx.path("/etc") / "resolv.conf"
    return os.readlink(link) if link.is_symlink() else ""


class Dns(Plugin, name="dns", order=12):
    """Point the client's resolver at DNS_SERVER (with SEARCH_DOMAIN).

    Example::

        [common]
        # the LTSP server answers DNS (`ltsp dnsmasq`) and clients use it
        DNS=1

        [clients]
        DNS_SERVER=192.168.67.1 8.8.8.8
        SEARCH_DOMAIN=school.lan
    """

    params = (
        Param("DNS_SERVER", kind="words", help="DNS servers, space separated (default: DHCP's)"),
        Param("DNS", kind="bool", default="0", help="1: clients use SERVER as their DNS server"),
    )
    aliases = ("networking_main", "config_dns")

    def applies(self, ctx: PluginContext) -> bool:
        return bool(servers(ctx)) or (ctx.is_live and ctx.path("/usr/bin/dig").exists())

    def apply(self, ctx: PluginContext) -> None:
        found = servers(ctx) or probe(ctx)
        if not found:
            return
        domain = " ".join(ctx.words("SEARCH_DOMAIN"))
        link = resolv_link(ctx)
        if RESOLVED_DIR in link:
            ctx.write_file(RESOLVED_DROPIN, resolved_text(found, domain))
            return
        resolvconf = ctx.path("/sbin/resolvconf")
        convert = ctx.path("/var/lib/resolvconf/convert").exists()
        if os.access(resolvconf, os.X_OK) and resolvconf.is_file() and (link or convert):
            ctx.write_file(RESOLVCONF_BASE, resolv_conf_text(found, domain))
            return
        ctx.remove_file("/etc/resolv.conf")  # a dangling link would send the write elsewhere
        ctx.write_file("/etc/resolv.conf", resolv_conf_text(found, domain))
