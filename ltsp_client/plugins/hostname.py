"""The client's hostname: /etc/hostname and the 127.0.1.1 line of /etc/hosts."""

from __future__ import annotations

import ipaddress
import re

from ltsp_client.config import expand_percent
from ltsp_client.config.model import Config
from ltsp_client.config.params import Param
from ltsp_client.errors import LtspError
from ltsp_client.plugins.base import Facts, Plugin, PluginContext

DEFAULT_TEMPLATE = "ltsp%{IP}"
VALID_HOSTNAME = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
USES_IP = re.compile(r"%\{?IP\b")


def host_part(ip_address: str, prefixlen: int) -> str:
    """The host number of an IPv4 address in its subnet: 192.168.67.20/24 -> "20"."""
    number = int(ipaddress.IPv4Address(ip_address))
    return str(number % (1 << (32 - prefixlen)))


def compute(template: str, facts: Facts, values: Config) -> str:
    """HOSTNAME after upstream's rules: cut at the first space, then %{VAR} expansion.

    %{IP} is the host part of the boot address, %{MAC} the MAC without colons;
    other variables come from the evaluated config (`%{HOSTNAME#pc}` style works).
    """
    words = template.split()
    template = words[0] if words else DEFAULT_TEMPLATE
    if USES_IP.search(template) and not facts.ip_address:
        raise LtspError(
            f"HOSTNAME={template} needs the IP address, and the boot NIC has none",
            hint="set HOSTNAME in a [MAC] section of ltsp.conf, or use %{MAC}",
        )
    known = dict(values.assigned)
    if facts.ip_address:
        known["IP"] = host_part(facts.ip_address, facts.prefixlen)
    if facts.mac_address:
        known["MAC"] = facts.mac_address.replace(":", "").lower()
    return expand_percent(template, known)


class Hostname(Plugin, name="hostname", order=10):
    """Name the client, from HOSTNAME (default `ltsp%{IP}`).

    Writes /etc/hostname (systemd sets the kernel hostname from it) and the
    127.0.1.1 line of /etc/hosts, keeping the other lines.

    Example::

        [clients]
        HOSTNAME=pc%{IP}
        SEARCH_DOMAIN=school.lan

        [52:54:00:12:34:56]
        HOSTNAME=teacher
    """

    params = (
        Param(
            "HOSTNAME",
            default=DEFAULT_TEMPLATE,
            help="client hostname; %{IP} = host part of its address, %{MAC} = MAC without colons",
        ),
        Param(
            "SEARCH_DOMAIN",
            help="DNS search domain; also makes the 127.0.1.1 line carry the FQDN",
        ),
    )
    aliases = ("networking_main", "config_hostname")

    def apply(self, ctx: PluginContext) -> None:
        template = ctx.config.get_str("HOSTNAME") or ctx.facts.hostname or DEFAULT_TEMPLATE
        name = compute(template, ctx.facts, ctx.config)
        if not VALID_HOSTNAME.match(name):
            raise LtspError(
                f"HOSTNAME {name!r} (from {template!r}) is not a valid host name",
                hint="use letters, digits and '-', at most 63 characters",
            )
        domain = ctx.config.get_str("SEARCH_DOMAIN").split()
        names = f"{name}.{domain[0]} {name}" if domain else name
        hostname_file = ctx.path("/etc/hostname")
        hostname_file.parent.mkdir(parents=True, exist_ok=True)
        hostname_file.write_text(name + "\n", encoding="utf-8")
        hosts = ctx.path("/etc/hosts")
        try:
            old = hosts.read_text(encoding="utf-8")
        except FileNotFoundError:
            old = "127.0.0.1\tlocalhost\n"
        hosts.write_text(with_loopback_name(old, names), encoding="utf-8")
        ctx.export("HOSTNAME", name)


def with_loopback_name(hosts: str, names: str) -> str:
    """`hosts` with its 127.0.1.1 line(s) replaced by one naming `names`.

    Without such a line, the new one goes after the 127.0.0.1 line (Debian's
    layout), or first.
    """
    new = f"127.0.1.1\t{names}"
    lines = hosts.splitlines()
    out: list[str] = []
    placed = False
    for line in lines:
        if line.split("#", 1)[0].split()[:1] == ["127.0.1.1"]:
            if not placed:
                out.append(new)
                placed = True
            continue
        out.append(line)
    if not placed:
        at = next((i + 1 for i, line in enumerate(out) if line.startswith("127.0.0.1")), 0)
        out.insert(at, new)
    return "\n".join(out) + "\n"
