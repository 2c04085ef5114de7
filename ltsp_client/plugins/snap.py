"""Snaps on a client whose root is in RAM (upstream's 55-snap).

A refresh would download snaps into RAM on every boot, and snapd copies seed
snaps into /var/lib/snapd/snaps (tmpfs) unless they are there already
(LP #1867415): hold refreshes, and link the seed snaps instead.
"""

from __future__ import annotations

from ltsp_client.pluginkit import Param, Plugin, PluginContext

HOLD_UNIT = "snapd.hold.service"
# `$$` is a literal `$` for systemd; the date is computed when the unit runs.
HOLD_TEXT = """\
# Written by LTSP at boot: no snap refreshes into the RAM of a diskless client
[Unit]
Description=Hold snap refreshes for 60 days
After=snapd.service

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'exec /usr/bin/snap set system refresh.hold="$$(date -Is -d +60days)"'
RemainAfterExit=yes

[Install]
WantedBy=snapd.service
"""
SEED = "/var/lib/snapd/seed/snaps"
SNAPS = "/var/lib/snapd/snaps"


class Snap(Plugin, name="snap", order=45):
    """Hold snap refreshes (a unit run after snapd), and, unless SYMLINK_SNAPS=0,
    link each seed snap into /var/lib/snapd/snaps. Only when snapd is installed.

    Example::

        [clients]
        SYMLINK_SNAPS=0
    """

    params = (Param("SYMLINK_SNAPS", "bool", "1", "0: do not symlink seed snaps"),)
    aliases = ("snap_main",)

    def applies(self, ctx: PluginContext) -> bool:
        return ctx.path("/usr/bin/snap").is_file()

    def apply(self, ctx: PluginContext) -> None:
        ctx.write_file(f"/etc/systemd/system/{HOLD_UNIT}", HOLD_TEXT)
        ctx.enable_unit(HOLD_UNIT)
        if not ctx.flag("SYMLINK_SNAPS"):
            return
        seed = ctx.path(SEED)
        for snap in sorted(seed.glob("*.snap")) if seed.is_dir() else []:
            if not ctx.path(f"{SNAPS}/{snap.name}").exists():
                ctx.symlink(f"{SNAPS}/{snap.name}", f"{SEED}/{snap.name}")
