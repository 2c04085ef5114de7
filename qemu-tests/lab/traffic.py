"""Bytes served per protocol, counted by nftables inside the lab's network namespace.

One `inet` table with an output-hook chain classifies every packet the server
namespace sends by its source port and adds it to a named counter. Only the
lab namespace is touched; its table disappears with the namespace.

TFTP needs a rule of its own: dnsmasq answers a TFTP read from a fresh
ephemeral UDP port, not from port 69, so every UDP packet from a port >= 1024
that is not NFS or RPC is counted as TFTP (no other UDP service in the lab sends
from such ports).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from lab import LabError
from ltsp_client.errors import CommandError
from ltsp_client.run import run

TABLE = "ltsp_lab_traffic"

# (counter, nft match) in first-match order; "other" catches the rest.
RULES: tuple[tuple[str, str], ...] = (
    ("nfs", "tcp sport 2049"),
    ("nfs", "udp sport 2049"),
    ("rpc", "tcp sport { 111, 20048 }"),
    ("rpc", "udp sport { 111, 20048 }"),
    ("nbd", "tcp sport 10809"),
    ("dhcp", "udp sport { 67, 547 }"),
    ("dns", "udp sport 53"),
    ("tftp", "udp sport 69"),
    ("tftp", "udp sport >= 1024"),
    ("ssh", "tcp sport 22"),
)
PROTOCOLS = ("tftp", "http", "nbd", "nfs", "rpc", "dhcp", "dns", "ssh", "other")


class NetnsExec(Protocol):
    """What the counter needs from lab.netns.LabNetwork."""

    def exec_argv(self, argv: Sequence[str]) -> list[str]: ...


def ruleset(http_ports: Sequence[int] = (80, 8000, 8080)) -> str:
    """The nft script: named counters plus a classifying output chain."""
    rules = [*RULES, ("http", "tcp sport { " + ", ".join(str(p) for p in http_ports) + " }")]
    lines = [f"table inet {TABLE} {{"]
    lines += [f"  counter {name} {{ }}" for name in PROTOCOLS]
    lines += ["  chain served {", "    type filter hook output priority 0; policy accept;"]
    lines += [f'    {match} counter name "{name}" accept' for name, match in rules]
    lines += ['    counter name "other"', "  }", "}"]
    return "\n".join(lines) + "\n"


@dataclass
class TrafficCounter:
    """Per-protocol byte counters for everything the lab server sends to its clients.

    with TrafficCounter(net) as traffic:
        traffic.reset(); ...boot...; served = traffic.read()   # {"tftp": bytes, ...}
    """

    net: NetnsExec
    http_ports: Sequence[int] = (80, 8000, 8080)
    installed: bool = field(default=False, init=False)

    def _nft(self, *args: str, script: str | None = None) -> str:
        try:
            return run(self.net.exec_argv(["nft", *args]), input=script, timeout=20).stdout
        except CommandError as exc:
            raise LabError(
                str(exc), hint="byte counters need nftables (apt-yardstick.txt)"
            ) from exc

    def start(self) -> TrafficCounter:
        self._nft("-f", "-", script=ruleset(self.http_ports))
        self.installed = True
        return self

    def reset(self) -> None:
        self._nft("reset", "counters", "table", "inet", TABLE)

    def read(self) -> dict[str, int]:
        """Bytes per protocol since start() or the last reset()."""
        data = json.loads(self._nft("-j", "list", "counters", "table", "inet", TABLE))
        served = dict.fromkeys(PROTOCOLS, 0)
        for item in data.get("nftables", []):
            counter = item.get("counter")
            if counter and counter.get("table") == TABLE:
                served[counter["name"]] = int(counter["bytes"])
        return served

    def stop(self) -> None:
        if self.installed:
            self._nft("delete", "table", "inet", TABLE)
            self.installed = False

    def __enter__(self) -> TrafficCounter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        # the namespace may already be gone; its table went with it
        with contextlib.suppress(LabError):
            self.stop()


def human(n: int) -> str:
    """Bytes as a short human figure (MB = 10**6, as the timing tables use)."""
    if n >= 10**6:
        return f"{n / 10**6:.1f} MB"
    if n >= 10**3:
        return f"{n / 10**3:.0f} kB"
    return f"{n} B"
