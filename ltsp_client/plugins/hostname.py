"""The client's hostname: /etc/hostname and the 127.0.1.1 line of /etc/hosts."""

from __future__ import annotations

import logging
import re

from ltsp_client.errors import LtspError
from ltsp_client.pluginkit import Param, Plugin, PluginContext

VALID_HOSTNAME = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
DEFAULT_HOSTS = "127.0.0.1\tlocalhost\n"

log = logging.getLogger(__name__)


class Hostname(Plugin, name="hostname", order=10):
    """Name the client, from HOSTNAME (default `ltsp%{IP}`).

    Writes /etc/hostname and the 127.0.1.1 line of /etc/hosts (keeping the
    other lines); on the client itself (root `/`) also sets the kernel
    hostname at once, so the old name is not seen until systemd starts.

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
            default="ltsp%{IP}",
            help="client hostname; %{IP} = host part of its address, %{MAC} = MAC without colons",
        ),
        Param(
            "SEARCH_DOMAIN",
            kind="words",
            help="DNS search domain; also makes the 127.0.1.1 line carry the FQDN",
        ),
    )
    aliases = ("networking_main", "config_hostname")

    def apply(self, ctx: PluginContext) -> None:
        # An unset HOSTNAME keeps the name DHCP gave, as upstream; else the default.
        template = ctx.config.get_str("HOSTNAME") or ctx.facts.hostname or ctx.text("HOSTNAME")
        words = template.split()  # upstream cuts at the first space
        template = words[0] if words else ctx.text("HOSTNAME")
        name = ctx.expand(template)
        if not VALID_HOSTNAME.match(name):
            raise LtspError(
                f"HOSTNAME {name!r} (from {template!r}) is not a valid host name",
                hint="use letters, digits and '-', at most 63 characters",
            )
        domain = ctx.words("SEARCH_DOMAIN")
        names = f"{name}.{domain[0]} {name}" if domain else name
        hosts = ctx.read_text("/etc/hosts") or DEFAULT_HOSTS
        ctx.write_file("/etc/hostname", name + "\n")
        ctx.write_file("/etc/hosts", with_loopback_name(hosts, names))
        ctx.export("HOSTNAME", name)
        if ctx.is_live:
            set_kernel_hostname(ctx, name)


def set_kernel_hostname(ctx: PluginContext, name: str) -> None:
    """sethostname(2); a refusal is only logged: systemd sets it from /etc/hostname too."""
    try:
        ctx.kernel.sethostname(name)
    except OSError as exc:
        log.warning("cannot set the kernel hostname to %s: %s", name, exc.strerror or exc)


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
