"""Printing through the LTSP server's CUPS (upstream's 55-various, cups part)."""

from __future__ import annotations

from ltsp_client.errors import LtspError
from ltsp_client.pluginkit import Param, Plugin, PluginContext

LOCAL_UNITS = ("cups.service", "cups.path", "cups.socket", "cups-browsed.service")


class Cups(Plugin, name="cups", order=40):
    """Point the CUPS client at CUPS_SERVER (default: the LTSP server) and mask the
    local cups daemon, so printers are managed once, on the server.
    `CUPS_SERVER=localhost` keeps the local daemon; `ignore` leaves cups alone.

    Example::

        [clients]
        CUPS_SERVER=printserver.school.lan
    """

    params = (
        Param(
            "CUPS_SERVER",
            help="printing server (default: SERVER); localhost keeps local CUPS, ignore skips",
        ),
    )
    aliases = ("various_main", "config_cups_server")

    def applies(self, ctx: PluginContext) -> bool:
        return ctx.text("CUPS_SERVER") != "ignore" and ctx.path("/etc/cups").is_dir()

    def apply(self, ctx: PluginContext) -> None:
        # SERVER is declared (and detected) by the network-server plugin: read it as text
        server = ctx.expand(ctx.text("CUPS_SERVER")) or ctx.config.get_str("SERVER")
        if not server:
            raise LtspError(
                "no printing server: CUPS_SERVER is unset and the LTSP server is unknown",
                hint="set CUPS_SERVER (a host, localhost, or ignore) or SERVER in ltsp.conf",
            )
        ctx.write_file("/etc/cups/client.conf", f"ServerName {server}\n")
        if server != "localhost":
            for unit in LOCAL_UNITS:
                if ctx.unit_installed(unit):
                    ctx.mask_unit(unit)
