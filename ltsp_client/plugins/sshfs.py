"""sshfs shipped in ltsp.img for live images without it (upstream's 55-various, sshfs part).

Admins can put `sshfs-<machine>` binaries in the server's /etc/ltsp/bin; they
reach every client in ltsp.img, so homes over SSHFS work on live CDs too.
"""

from __future__ import annotations

import os

from ltsp_client.pluginkit import Plugin, PluginContext

SSHFS = "/usr/bin/sshfs"


class Sshfs(Plugin, name="sshfs", order=45):
    """Link /usr/bin/sshfs to /etc/ltsp/bin/sshfs-<machine> when the image has no sshfs.

    Example::

        # use the image's own sshfs only
        [clients]
        OMIT_PLUGINS=sshfs
    """

    aliases = ("various_main",)

    def _shipped(self, ctx: PluginContext) -> str:
        return f"/etc/ltsp/bin/sshfs-{os.uname().machine}"

    def applies(self, ctx: PluginContext) -> bool:
        shipped = ctx.path(self._shipped(ctx))
        return not ctx.path(SSHFS).exists() and os.access(shipped, os.X_OK) and shipped.is_file()

    def apply(self, ctx: PluginContext) -> None:
        ctx.symlink(SSHFS, "../.." + self._shipped(ctx))
