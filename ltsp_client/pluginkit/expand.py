"""`%{VAR}` in ltsp.conf values, filled in for the client at plugin time (spec §2.5).

%{IP} is the host part of the boot address (192.168.67.20/24 -> 20), %{MAC}
the boot MAC without colons (lowercase), %{HOSTNAME} the client's name (as the
hostname plugin computed it, once it ran); other variables come from the
evaluated config. Shell-style forms work: `%{HOSTNAME#pc}`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Protocol

from ltsp_client.config.percent import expand_percent
from ltsp_client.errors import LtspError

USES_IP = re.compile(r"%\{?#?IP\b")


class Facts(Protocol):
    """Network facts of the boot NIC (the boot helper's NetworkFacts has these fields)."""

    @property
    def device(self) -> str: ...
    @property
    def ip_address(self) -> str: ...
    @property
    def prefixlen(self) -> int: ...
    @property
    def mac_address(self) -> str: ...
    @property
    def gateway(self) -> str: ...
    @property
    def hostname(self) -> str: ...


def host_part(ip_address: str, prefixlen: int) -> str:
    """The host number of an IPv4 address in its subnet: 192.168.67.20/24 -> "20"."""
    number = int(ipaddress.IPv4Address(ip_address))
    return str(number % (1 << (32 - prefixlen)))


def expand(text: str, values: Mapping[str, str], facts: Facts) -> str:
    """`text` with %{VAR} filled in from `values` and the facts (unknown names give "")."""
    if "%" not in text:
        return text
    if USES_IP.search(text) and not facts.ip_address:
        raise LtspError(
            f"{text!r} uses %{{IP}}, and the boot NIC has no IPv4 address",
            hint="set the value in a [MAC] section of ltsp.conf, or use %{MAC}",
        )
    known = dict(values)
    if not known.get("HOSTNAME") and facts.hostname:
        known["HOSTNAME"] = facts.hostname
    if facts.ip_address:
        known["IP"] = host_part(facts.ip_address, facts.prefixlen)
    if facts.mac_address:
        known["MAC"] = facts.mac_address.replace(":", "").lower()
    return expand_percent(text, known)
