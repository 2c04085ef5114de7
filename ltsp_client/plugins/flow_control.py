"""NIC flow control off, at every boot from ltsp.service (upstream's `ltsp service`).

One busy client sending pause frames can stall a whole switch segment, and a
netbooted client reads its root over that network. Different NICs accept
different combinations, so `autoneg off` is tried first, then `autoneg on`.
"""

from __future__ import annotations

import logging
import re

from ltsp_client.errors import CommandError
from ltsp_client.pluginkit import Plugin, PluginContext

log = logging.getLogger(__name__)

ETHTOOL = ("/usr/sbin/ethtool", "/sbin/ethtool")
RX_ON = re.compile(r"^RX:\s*on\b", re.M)
ATTEMPTS = (("autoneg", "off", "rx", "off"), ("autoneg", "on", "rx", "off"))


def physical_nics(ctx: PluginContext) -> list[str]:
    """Interfaces backed by a device (not lo, bridges, veth...)."""
    net = ctx.path("/sys/class/net")
    names = sorted(p.name for p in net.iterdir()) if net.is_dir() else []
    return [name for name in names if ctx.path(f"/sys/class/net/{name}/device").exists()]


class FlowControl(Plugin, name="flow-control", order=20):
    """Turn off RX flow control (pause frames) on every physical NIC, with ethtool.

    Example::

        # leave flow control alone
        [service/]
        OMIT_PLUGINS=flow-control
    """

    stages = ("service",)
    aliases = ("service_main", "disable_flow_control")

    def applies(self, ctx: PluginContext) -> bool:
        return bool(physical_nics(ctx))

    def apply(self, ctx: PluginContext) -> None:
        ethtool = next((e for e in ETHTOOL if ctx.path(e).is_file()), "")
        if not ethtool:
            log.warning(
                "flow control left as it is on %s: ethtool is not installed in the image",
                " ".join(physical_nics(ctx)),
            )
            return
        for nic in physical_nics(ctx):
            outcome = self._one(ctx, ethtool, nic)
            level = logging.INFO if outcome.startswith(("turned", "already")) else logging.WARNING
            log.log(level, "flow control on %s: %s", nic, outcome)

    def _one(self, ctx: PluginContext, ethtool: str, nic: str) -> str:
        def rx_on() -> bool:
            shown = ctx.runner([ethtool, "--show-pause", nic], check=False, timeout=10)
            return shown.ok and bool(RX_ON.search(shown.stdout))

        try:
            if not rx_on():
                return "already off (or not supported)"
            for attempt in ATTEMPTS:
                ctx.runner([ethtool, "--pause", nic, *attempt], check=False, timeout=10)
                if not rx_on():
                    return f"turned off ({' '.join(attempt)})"
        except CommandError as exc:
            return f"ethtool failed: {exc.message}"
        return "still on: the NIC refused every setting"
