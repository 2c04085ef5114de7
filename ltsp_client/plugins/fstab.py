"""The client's /etc/fstab from FSTAB_x (upstream's 55-various, fstab part).

The image's own fstab describes the disk it was built on (a VM's root UUID,
its swap): never right for a netbooted client, so it is always replaced.
"""

from __future__ import annotations

import os

from ltsp_client.pluginkit import Param, Plugin, PluginContext

HEADER = "# Written by LTSP at boot from the FSTAB_x lines of ltsp.conf\n"
MOUNT_NFS = "/usr/sbin/mount.nfs"
KLIBC_NFSMOUNT = "/usr/lib/klibc/bin/nfsmount"


def for_klibc(line: str, server: str) -> str:
    """`server:/path ... nfs ...` with the server's address: klibc's nfsmount takes no names."""
    fields = line.split()
    if server and len(fields) >= 3 and fields[0].startswith("server:") and fields[2] == "nfs":
        return line.replace("server:", f"{server}:", 1)
    return line


class Fstab(Plugin, name="fstab", order=30):
    """Replace /etc/fstab with the FSTAB_x lines (sorted by name; %{VAR} expanded).

    Runs before the services plugin, which keeps the NFS client services only
    when this fstab mounts something over NFS. On live images without
    nfs-common, klibc's nfsmount stands in for mount.nfs.

    Example::

        [clients]
        FSTAB_HOME="server:/home /home nfs defaults,nolock 0 0"
    """

    params = (Param("FSTAB_", help="FSTAB_x: lines of the client's /etc/fstab (replaces it)"),)
    aliases = ("various_main", "config_fstab")

    def applies(self, ctx: PluginContext) -> bool:
        return bool(ctx.items("FSTAB_")) or ctx.path("/etc/fstab").exists()

    def apply(self, ctx: PluginContext) -> None:
        lines = [ctx.expand(line) for line in ctx.items("FSTAB_")]
        if not ctx.path(MOUNT_NFS).exists() and os.access(ctx.path(KLIBC_NFSMOUNT), os.X_OK):
            ctx.symlink(MOUNT_NFS, KLIBC_NFSMOUNT)
            server = ctx.config.get_str("SERVER")  # declared by the network-server plugin
            lines = [for_klibc(line, server) for line in lines]
        ctx.write_file("/etc/fstab", HEADER + "".join(f"{line}\n" for line in lines))
