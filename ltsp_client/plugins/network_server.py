"""SERVER: the LTSP server's address, when ltsp.conf does not give it (spec §3.3.2).

As upstream, only for a network root (root=/dev/nbd* or root=/dev/nfs on the
kernel command line): the peer of the client's TCP connection to its root.
We read /proc/net/tcp (no `ss` needed) and prefer a connection to the NBD or
NFS port over the first one listed; then the nbdroot=/nfsroot= address, then
ipconfig's ROOTSERVER, the gateway and 192.168.67.1, as upstream falls back.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

from ltsp_client.kcmdline import tokenize
from ltsp_client.pluginkit import Param, Plugin, PluginContext
from ltsp_client.system.facts import read_ipconfig

DEFAULT_SERVER = "192.168.67.1"
ROOT_PORTS = (10809, 2049)  # NBD, NFS
NOT_CONNECTED = ("0A", "07")  # LISTEN, CLOSE
NETWORK_ROOTS = ("/dev/nfs", "/dev/nbd")


def network_root(cmdline: str) -> bool:
    """Whether the kernel command line mounts the root over NBD or NFS (upstream's test)."""
    roots = [t.removeprefix("root=") for t in tokenize(cmdline) if t.startswith("root=")]
    return any(r == NETWORK_ROOTS[0] or r.startswith(NETWORK_ROOTS[1]) for r in roots)


def _address(hex_address: str) -> str:
    """An address of /proc/net/tcp{,6} (little-endian words) as text; "" unless IPv4."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(words)
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        return str(mapped) if mapped else ""
    return str(address)


def tcp_peers(tables: Iterable[str]) -> list[tuple[str, int]]:
    """(address, port) of each connected peer in /proc/net/tcp and tcp6 text, in order."""
    peers: list[tuple[str, int]] = []
    for table in tables:
        for line in table.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 4 or fields[3] in NOT_CONNECTED:
                continue
            host, _, port = fields[2].partition(":")
            try:
                address = _address(host)
            except ValueError:
                continue
            if address and not address.startswith("127.") and address != "0.0.0.0":
                peers.append((address, int(port, 16)))
    return peers


def root_peer(peers: list[tuple[str, int]]) -> str:
    """The peer serving the root: one on the NBD or NFS port, else the first."""
    for address, port in peers:
        if port in ROOT_PORTS:
            return address
    return peers[0][0] if peers else ""


def cmdline_server(cmdline: str) -> str:
    """The IPv4 address in nbdroot=IP,... or nfsroot=IP:/path, if any."""
    for token in tokenize(cmdline):
        key, _, value = token.partition("=")
        if key in ("nbdroot", "nfsroot"):
            candidate = value.split(",")[0].split(":")[0]
            try:
                return str(ipaddress.IPv4Address(candidate))
            except ValueError:
                continue
    return ""


def detect(
    cmdline: str, tcp_tables: Iterable[str], ipconfig: Mapping[str, str], gateway: str
) -> str:
    """SERVER for a network root, "" for other boots (upstream sets none then)."""
    if not network_root(cmdline):
        return ""
    rootserver = ipconfig.get("ROOTSERVER", "")
    candidates = (
        root_peer(tcp_peers(tcp_tables)),
        cmdline_server(cmdline),
        "" if rootserver == "0.0.0.0" else rootserver,
        gateway,
    )
    return next((c for c in candidates if c), DEFAULT_SERVER)


class NetworkServer(Plugin, name="server", order=6):
    """Find SERVER (the LTSP server) when ltsp.conf does not set it.

    Other plugins and hooks get it as SERVER: the `server` line of /etc/hosts,
    DNS=1, the default CUPS server. Set it in ltsp.conf when the root comes
    from another machine than the one clients should use.

    Example::

        [clients]
        SERVER=192.168.67.1
    """

    params = (
        Param(
            "SERVER",
            help="the LTSP server's IP (default: the root's NBD/NFS server); /etc/hosts `server`",
        ),
    )
    aliases = ("networking_main", "detect_server")

    def applies(self, ctx: PluginContext) -> bool:
        return not ctx.text("SERVER") and network_root(ctx.read_text("/proc/cmdline") or "")

    def apply(self, ctx: PluginContext) -> None:
        tables = [ctx.read_text(f"/proc/net/{name}") or "" for name in ("tcp", "tcp6")]
        ipconfig = read_ipconfig(ctx.facts.device, ctx.path("/run")) if ctx.facts.device else {}
        cmdline = ctx.read_text("/proc/cmdline") or ""
        ctx.export("SERVER", detect(cmdline, tables, ipconfig, ctx.facts.gateway))
