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
MII_TOOL = ("/usr/sbin/mii-tool", "/sbin/mii-tool")
RX_ON = re.compile(r"^RX:\s*on\b", re.M)
ATTEMPTS = (("autoneg", "off", "rx", "off"), ("autoneg", "on", "rx", "off"))


def physical_nics(ctx: PluginContext) -> list[str]:
    """Interfaces backed by a device (not lo, bridges, veth...)."""
    net = ctx.path("/sys/class/net")
    names = sorted(p.name for p in net.iterdir()) if net.is_dir() else []
    return [name for name in names if ctx.path(f"/sys/class/net/{name}/device").exists()]


class FlowControl(Plugin, name="flow-control", order=20):
    """Turn off RX flow control (pause frames) on every physical NIC, with ethtool
    (or mii-tool for old NICs when the image has no ethtool).

    Example::

        # leave flow control alone
        [clients]
        OMIT_PLUGINS=flow-control
    """

    stages = ("service",)
    aliases = ("service_main", "disable_flow_control")

    def applies(self, ctx: PluginContext) -> bool:
        return bool(physical_nics(ctx))

    def apply(self, ctx: PluginContext) -> None:
        ethtool = next((e for e in ETHTOOL if ctx.path(e).is_file()), "")
        mii_tool = next((m for m in MII_TOOL if ctx.path(m).is_file()), "")
        if not ethtool and not mii_tool:
            log.warning(
                "flow control left as it is on %s: neither ethtool nor mii-tool is in the image",
                " ".join(physical_nics(ctx)),
            )
            return
        for nic in physical_nics(ctx):
            outcome = self._one(ctx, ethtool, nic) if ethtool else self._mii(ctx, mii_tool, nic)
            done = outcome.startswith(("turned", "already"))
            log.log(
                logging.INFO if done else logging.WARNING, "flow control on %s: %s", nic, outcome
            )

    def _mii(self, ctx: PluginContext, mii_tool: str, nic: str) -> str:
        """Old NICs without ethtool support: advertise the capabilities without flow-control."""
        shown = ctx.runner([mii_tool, "-v", nic], check=False, timeout=10)
        fields = dict(
            line.strip().split(":", 1) for line in shown.stdout.splitlines() if ":" in line
        )
        advertised = fields.get("advertising", "").split()
        capabilities = [c for c in fields.get("capabilities", "").split() if c != "flow-control"]
        if not shown.ok or not capabilities:
            return f"mii-tool cannot tell: {shown.stderr.strip() or 'no capabilities listed'}"
        if "flow-control" not in advertised:
            return "already off (mii-tool)"
        done = ctx.runner([mii_tool, "-A", ",".join(capabilities), nic], check=False, timeout=10)
        return "turned off (mii-tool)" if done.ok else f"mii-tool failed: {done.stderr.strip()}"

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
