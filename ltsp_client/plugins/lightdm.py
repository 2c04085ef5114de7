"""LightDM: autologin, relogin and the manual login entry (upstream 55-display-manager)."""

from __future__ import annotations

from ltsp_client.pluginkit import Param, Plugin, PluginContext
from ltsp_client.users.autologin import client_autologin, installed
from ltsp_client.users.iniconf import IniChanges, conf_text, merged, parse_ini

CONF = "/etc/lightdm/lightdm.conf"
PROGRAMS = ("/usr/sbin/lightdm", "/usr/bin/lightdm")


class LightDM(Plugin, name="lightdm", order=70):
    """Configure LightDM's seats: AUTOLOGIN, RELOGIN, RELOGIN_TIMEOUT, LIGHTDM_CONF.

    Sets, in [Seat:*] of /etc/lightdm/lightdm.conf (comments and order kept),
    a manual login entry and the user list (server users are not listed
    otherwise), the autologin user and its timeout; then LIGHTDM_CONF's keys.

    Example::

        [clients]
        AUTOLOGIN=pc/guest          # pc01 logs in as guest01
        RELOGIN_TIMEOUT=5
        LIGHTDM_CONF="[Seat:*]
        user-session=xfce"
    """

    params = (
        Param("AUTOLOGIN", help="user to log in automatically, or pattern/replacement on HOSTNAME"),
        Param("RELOGIN", kind="bool", default="1", help="0: log in automatically only once"),
        Param(
            "RELOGIN_TIMEOUT",
            kind="int",
            default="2",
            help="seconds LightDM waits before an autologin (default 2, or 0 with RELOGIN=0)",
        ),
        Param("LIGHTDM_CONF", help="file or INI text set in /etc/lightdm/lightdm.conf"),
    )
    aliases = ("display_manager_main", "configure_lightdm")

    def applies(self, ctx: PluginContext) -> bool:
        return installed(ctx, PROGRAMS)

    def apply(self, ctx: PluginContext) -> None:
        if ctx.config.assigned.get("RELOGIN_TIMEOUT", ""):
            timeout = ctx.number("RELOGIN_TIMEOUT")
        else:
            timeout = 2 if ctx.flag("RELOGIN") else 0
        changes: IniChanges = {
            "Seat:*": {
                "greeter-show-manual-login": "true",
                "greeter-hide-users": "false",
                "autologin-user": client_autologin(ctx),
                "autologin-user-timeout": str(timeout),
            }
        }
        extra = parse_ini(conf_text(ctx.text("LIGHTDM_CONF"), ctx.read_text), "LIGHTDM_CONF")
        ctx.edit_ini(CONF, merged(changes, extra))
