"""SDDM: autologin with a session, and RELOGIN (upstream 55-display-manager)."""

from __future__ import annotations

from ltsp_client.pluginkit import Param, Plugin, PluginContext
from ltsp_client.users.autologin import client_autologin, installed
from ltsp_client.users.iniconf import IniChanges, conf_text, merged, parse_ini

PROGRAMS = ("/usr/bin/sddm", "/usr/sbin/sddm")
CONF = "/etc/sddm.conf"
SESSION_DIRS = ("/usr/share/xsessions", "/usr/share/wayland-sessions")


def session(ctx: PluginContext) -> str:
    """plasma.desktop if installed, else the first session file by name ("" if none).

    SDDM does not autologin without a Session.
    """
    for directory in SESSION_DIRS:
        found = (
            sorted(p.name for p in ctx.path(directory).glob("*.desktop"))
            if ctx.path(directory).is_dir()
            else []
        )
        if "plasma.desktop" in found:
            return "plasma.desktop"
        if found:
            return found[0]
    return ""


class Sddm(Plugin, name="sddm", order=70):
    """Configure SDDM's [Autologin]: AUTOLOGIN, a Session, RELOGIN; then SDDM_CONF.

    Example::

        [clients]
        AUTOLOGIN=kiosk
        RELOGIN=0
        SDDM_CONF="[Theme]
        Current=breeze"
    """

    params = (Param("SDDM_CONF", help="file or INI text set in /etc/sddm.conf"),)
    aliases = ("configure_sddm",)

    def applies(self, ctx: PluginContext) -> bool:
        return installed(ctx, PROGRAMS)

    def apply(self, ctx: PluginContext) -> None:
        changes: IniChanges = {
            "Autologin": {
                "User": client_autologin(ctx),
                "Session": session(ctx),
                "Relogin": "true" if ctx.flag("RELOGIN") else "false",
            }
        }
        extra = parse_ini(conf_text(ctx.text("SDDM_CONF"), ctx.read_text), "SDDM_CONF")
        ctx.edit_ini(CONF, merged(changes, extra))
