"""A machine-id per client, derived from its MAC (upstream's 55-various, machine-id part).

Clients booted from one image otherwise share the image's id (dbus and
`sudo gedit` then fail with "access denied"), yet it must stay the same on
every boot of one client: the MAC without colons, then zeros, 32 hex digits.
"""

from __future__ import annotations

import re

from ltsp_client.errors import LtspError
from ltsp_client.pluginkit import Plugin, PluginContext

MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
DBUS_ID = "/var/lib/dbus/machine-id"


def machine_id(mac: str) -> str:
    """`52:54:00:12:34:56` -> `52540012345600000000000000000000`."""
    mac = mac.lower()
    if not MAC_RE.match(mac):
        raise LtspError(f"cannot derive a machine-id from MAC address {mac!r}")
    return mac.replace(":", "").ljust(32, "0")


class MachineId(Plugin, name="machine-id", order=20):
    """/etc/machine-id from the boot NIC's MAC; /var/lib/dbus/machine-id links to it.

    Example::

        # keep the image's id, as a single-client image may want
        [clients]
        OMIT_FUNCTIONS=config_machine_id
    """

    aliases = ("various_main", "config_machine_id")

    def applies(self, ctx: PluginContext) -> bool:
        return bool(ctx.facts.mac_address)

    def apply(self, ctx: PluginContext) -> None:
        ctx.write_file("/etc/machine-id", machine_id(ctx.facts.mac_address) + "\n", 0o444)
        dbus = ctx.path(DBUS_ID)
        if dbus.exists() or dbus.is_symlink():
            ctx.remove_file(DBUS_ID)
            ctx.symlink(DBUS_ID, "../../../etc/machine-id")  # relative, as upstream
