"""The server's epoptes certificate for the epoptes client (upstream's config_epoptes)."""

from __future__ import annotations

from ltsp_client.pluginkit import Plugin, PluginContext

CERT = "/etc/ltsp/epoptes.crt"


class Epoptes(Plugin, name="epoptes", order=45):
    """Link /etc/epoptes/server.crt to the certificate shipped in ltsp.img, unless
    IGNORE_EPOPTES=1, so the epoptes client trusts the LTSP server.

    Example::

        [clients]
        IGNORE_EPOPTES=1
    """

    aliases = ("various_main", "config_epoptes")

    def applies(self, ctx: PluginContext) -> bool:
        return not ctx.flag("IGNORE_EPOPTES") and ctx.path(CERT).is_file()

    def apply(self, ctx: PluginContext) -> None:
        ctx.symlink("/etc/epoptes/server.crt", "../ltsp/epoptes.crt")
