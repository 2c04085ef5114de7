"""REMOTEAPPS: applications that run on the server (`ltsp remoteapps`), at boot."""

from __future__ import annotations

from ltsp_client.login.remoteapps import WRAPPER_DIR, check_app, wrapper
from ltsp_client.pluginkit import Param, Plugin, PluginContext


class RemoteApps(Plugin, name="remoteapps", order=80):
    """Make menu entries of REMOTEAPPS start on the server, shown on the client.

    Each APP gets /usr/local/bin/APP (ahead of /usr/bin in PATH) running
    `ltsp remoteapps APP "$@"`, i.e. `ssh -X server APP`.

    Example::

        [clients]
        REMOTEAPPS="firefox libreoffice"
    """

    params = (Param("REMOTEAPPS", kind="words", help="applications to run on the server (ssh -X)"),)
    aliases = ("remoteapps_main",)

    def applies(self, ctx: PluginContext) -> bool:
        return bool(ctx.words("REMOTEAPPS"))

    def apply(self, ctx: PluginContext) -> None:
        for app in ctx.words("REMOTEAPPS"):
            ctx.write_file(f"{WRAPPER_DIR}/{check_app(app)}", wrapper(app), mode=0o755)
