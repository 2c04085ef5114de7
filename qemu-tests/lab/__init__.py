"""The QEMU netboot lab: a network namespace with servers, QEMU clients and a guest-side report.

Everything runs as plain processes inside a network namespace created for the
run (traffic never leaves it) and is torn down by PID at the end. Files of a
run (generated configs, daemon logs, serial logs) live in one run directory,
by default /var/tmp/ltsp-lab-runs/<timestamp>/ (env LTSP_LAB_RUNS).
"""

from __future__ import annotations

from ltsp_client.errors import LtspError

SERVER_IP = "192.168.67.1"
ROUTER_IP = "192.168.67.254"
NETMASK = "255.255.255.0"
PREFIX_LEN = 24
SERVER_IP6 = "fd67::1"
DHCP_RANGE = ("192.168.67.100", "192.168.67.199")


class LabError(LtspError):
    """The lab could not be set up, a service failed to start, or a boot went wrong."""


__all__ = [
    "DHCP_RANGE",
    "NETMASK",
    "PREFIX_LEN",
    "ROUTER_IP",
    "SERVER_IP",
    "SERVER_IP6",
    "LabError",
]
