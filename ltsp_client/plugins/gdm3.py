"""GDM: autologin (upstream 55-display-manager; RELOGIN does not apply to GDM)."""

from __future__ import annotations

from ltsp_client.pluginkit import Param, Plugin, PluginContext
from ltsp_client.users.autologin import client_autologin, installed
from ltsp_client.users.iniconf import IniChanges, conf_text, merged, parse_ini

PROGRAMS = ("/usr/sbin/gdm3", "/usr/bin/gdm3")
CONFS = ("/etc/gdm3/daemon.conf", "/etc/gdm3/custom.conf")


class Gdm3(Plugin, name="gdm3", order=70):
    """Configure GDM's [daemon] section: AUTOLOGIN, then GDM3_CONF.

    Edits /etc/gdm3/daemon.conf (Debian, Ubuntu), or /etc/gdm3/custom.conf
    when there is none, keeping comments and order.

    Example::

        [clients]
        AUTOLOGIN=exam/kiosk        # exam01 logs in as kiosk01
        GDM3_CONF=/etc/ltsp/gdm3-extra.conf
    """

    params = (Param("GDM3_CONF", help="file or INI text set in GDM's daemon.conf"),)
    aliases = ("configure_gdm",)

    def applies(self, ctx: PluginContext) -> bool:
        return installed(ctx, PROGRAMS)

    def apply(self, ctx: PluginContext) -> None:
        target = next((c for c in CONFS if ctx.path(c).is_file()), CONFS[1])
        user = client_autologin(ctx)
        changes: IniChanges = {
            "daemon": {
                "AutomaticLoginEnable": "true" if user else "false",
                "AutomaticLogin": user,
            }
        }
        extra = parse_ini(conf_text(ctx.text("GDM3_CONF"), ctx.read_text), "GDM3_CONF")
        ctx.edit_ini(target, merged(changes, extra))
