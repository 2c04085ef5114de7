"""ltsp.service on the client: runs `ltsp service` once systemd is up (spec §1.9).

The unit is written at boot, like every other change of `ltsp init`, so it
always names the binary that ltsp.img brought, and needs no image package.
"""

from __future__ import annotations

from ltsp_client.pluginkit import Plugin, PluginContext

BINARY = "/usr/lib/ltsp/ltsp"
UNIT = "/etc/systemd/system/ltsp.service"
UNIT_TEXT = f"""\
# Written by LTSP at boot: the tasks of `ltsp service` (NIC flow control, NFS read-ahead)
[Unit]
Description=LTSP startup tasks
# NFS mounts first, for their read-ahead; network-online.target is not pulled in:
# the boot NIC is up since the initramfs, and wait-online services only delay the boot.
# After the boot's targets: neither logins nor the display manager wait for these
# tasks, and the binary's start does not compete with dbus and NetworkManager for
# the CPU and the network root while they start.
After=network-online.target remote-fs.target home.mount multi-user.target graphical.target

[Service]
# exec, not oneshot: multi-user.target does not wait for these tasks; and they
# leave the CPU to the units the boot waits for (dbus, NetworkManager, logind)
Type=exec
Nice=19
ExecStart={BINARY} service
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
"""


class LtspService(Plugin, name="ltsp-service", order=90):
    """Install and enable ltsp.service, which runs the plugins of the `service` stage.

    Example::

        # no `ltsp service` at boot
        [clients]
        OMIT_PLUGINS=ltsp-service
    """

    def applies(self, ctx: PluginContext) -> bool:
        return ctx.path(BINARY).is_file() and ctx.path("/lib/systemd/systemd").is_file()

    def apply(self, ctx: PluginContext) -> None:
        ctx.write_file(UNIT, UNIT_TEXT)
        ctx.enable_unit("ltsp.service")
