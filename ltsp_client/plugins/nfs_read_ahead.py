"""NFS read-ahead, at every boot from ltsp.service (upstream's `ltsp service`, §1.6.4).

NFS volumes mounted after the initramfs (homes from /etc/fstab) get the
kernel's default read-ahead; READ_AHEAD_KB (128) is what the root got.
"""

from __future__ import annotations

import logging

from ltsp_client.pluginkit import Plugin, PluginContext
from ltsp_client.system.rootfs import nfs_devices, set_read_ahead

log = logging.getLogger(__name__)
VOLUMES = "/proc/fs/nfsfs/volumes"


class NfsReadAhead(Plugin, name="nfs-read-ahead", order=30):
    """Set read_ahead_kb of every mounted NFS volume to READ_AHEAD_KB.

    Example::

        [clients]
        READ_AHEAD_KB=256
    """

    stages = ("service",)
    aliases = ("service_main",)

    def applies(self, ctx: PluginContext) -> bool:
        return bool(nfs_devices(ctx.path(VOLUMES)))

    def apply(self, ctx: PluginContext) -> None:
        kb = ctx.number("READ_AHEAD_KB")
        changed = set_read_ahead(None, kb, sys_dir=ctx.path("/sys"), volumes=ctx.path(VOLUMES))
        log.info("read-ahead %d KiB on NFS volumes %s", kb, " ".join(changed) or "(all were)")
