"""The only pyroute2 user: routes, links and addresses over rtnetlink.

pyroute2/__init__.py imports nearly every netlink family (and ssl, sqlite3,
unittest.mock); registering the package without executing it and importing
`pyroute2.iproute.linux` directly keeps the import cheap (frozen-init.md).
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from typing import Any


def _iproute_class() -> Any:
    if "pyroute2" not in sys.modules:
        spec = importlib.util.find_spec("pyroute2")
        if spec is not None:
            sys.modules["pyroute2"] = importlib.util.module_from_spec(spec)
    from pyroute2.iproute.linux import IPRoute

    return IPRoute


@dataclass(frozen=True)
class Route:
    device: str
    source: str  # preferred source address ("" if none)
    gateway: str  # next hop ("" when the destination is on-link)
    local: bool  # the destination is one of our own addresses


@dataclass(frozen=True)
class Address:
    address: str
    prefixlen: int


class Netlink:
    """One rtnetlink socket; use as a context manager."""

    def __init__(self) -> None:
        self._ipr: Any = _iproute_class()()

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self._ipr.close()

    def link_name(self, index: int) -> str:
        links = self._ipr.get_links(index)
        return str(links[0].get("IFLA_IFNAME")) if links else ""

    def _index(self, device: str) -> int | None:
        found = self._ipr.link_lookup(ifname=device)
        return int(found[0]) if found else None

    def route_get(self, destination: str) -> Route | None:
        """The kernel's answer to `ip route get DESTINATION`, or None (no route)."""
        try:
            answer = self._ipr.route("get", dst=destination)
        except Exception:  # pyroute2 raises NetlinkError (an OSError) or its own errors
            return None
        if not answer:
            return None
        msg = answer[0]
        oif = msg.get("RTA_OIF")
        return Route(
            device=self.link_name(int(oif)) if oif is not None else "",
            source=str(msg.get("RTA_PREFSRC") or ""),
            gateway=str(msg.get("RTA_GATEWAY") or ""),
            local=int(msg.get("type", 0)) == 2,  # RTN_LOCAL
        )

    def mac_address(self, device: str) -> str:
        index = self._index(device)
        if index is None:
            return ""
        links = self._ipr.get_links(index)
        return str(links[0].get("IFLA_ADDRESS") or "") if links else ""

    def ipv4_addresses(self, device: str) -> list[Address]:
        index = self._index(device)
        if index is None:
            return []
        return [
            Address(str(msg.get("IFA_ADDRESS")), int(msg["prefixlen"]))
            for msg in self._ipr.get_addr(index=index, family=2)  # AF_INET
        ]
