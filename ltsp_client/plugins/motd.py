"""A faster login: no dynamic motd parts that query the network (upstream's config_motd)."""

from __future__ import annotations

import re

from ltsp_client.pluginkit import Plugin, PluginContext

# Upstream's glob [1-9][0-8]*: update checks, news, landscape...; 0x (00-header) and x9
# (99-footer) parts stay.
SLOW_PART = re.compile(r"^[1-9][0-8]")
MOTD_DIR = "/etc/update-motd.d"


class Motd(Plugin, name="motd", order=45):
    """Remove /etc/update-motd.d/[1-9][0-8]* (keeps 00-header and 99-footer).

    Example::

        # keep the full motd
        [clients]
        OMIT_FUNCTIONS=config_motd
    """

    aliases = ("various_main", "config_motd")

    def _parts(self, ctx: PluginContext) -> list[str]:
        folder = ctx.path(MOTD_DIR)
        names = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
        return [name for name in names if SLOW_PART.match(name)]

    def applies(self, ctx: PluginContext) -> bool:
        return bool(self._parts(ctx))

    def apply(self, ctx: PluginContext) -> None:
        for name in self._parts(ctx):
            ctx.remove_file(f"{MOTD_DIR}/{name}")
