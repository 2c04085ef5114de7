"""LTSPDM_USERS: which users the greeter lists (upstream 55-display-manager)."""

from __future__ import annotations

import logging
import re

from ltsp_client.errors import LtspError
from ltsp_client.pluginkit import Param, Plugin, PluginContext
from ltsp_client.users.autologin import account_names, installed
from ltsp_client.users.iniconf import IniChanges, conf_text, merged, parse_ini
from ltsp_client.users.pwdb import (
    GShadow,
    give_to_shadow_group,
    id_range,
    parse_group,
    parse_gshadow,
    set_system_group,
)

log = logging.getLogger(__name__)

GROUP = "ltspdm"
ACCOUNTS_SERVICE = "/var/lib/AccountsService/users"
SLICK = ("/usr/sbin/slick-greeter", "/usr/bin/slick-greeter")


class LtspdmUsers(Plugin, name="ltspdm-users", order=71):
    """List only the LTSPDM_USERS accounts in the greeter.

    The selected users become the members of the system group `ltspdm`
    (slick-greeter's group-filter, then SLICK_CONF), and the only users
    AccountsService knows (GNOME, LightDM's GTK greeter, SDDM).

    Example::

        [clients]
        LTSPDM_USERS="teacher|pupil0[1-9]"
    """

    params = (
        Param("LTSPDM_USERS", help="regex (full match, %{VAR}) of the users the greeter lists"),
        Param("SLICK_CONF", help="file or INI text set in /etc/lightdm/slick-greeter.conf"),
    )
    aliases = ("config_ltspdm_users",)

    def applies(self, ctx: PluginContext) -> bool:
        return bool(ctx.text("LTSPDM_USERS"))

    def apply(self, ctx: PluginContext) -> None:
        value = ctx.expand(ctx.text("LTSPDM_USERS"))
        try:
            pattern = re.compile(value)
        except re.error as err:
            raise LtspError(f"LTSPDM_USERS={value}: not a regular expression ({err})") from None
        names = account_names(ctx.read_text("/etc/passwd"))
        passwd_order = [
            line.split(":", 1)[0] for line in (ctx.read_text("/etc/passwd") or "").splitlines()
        ]
        users = [n for n in passwd_order if n in names and pattern.fullmatch(n)]
        if not users:
            log.warning("LTSPDM_USERS=%s matches no user of the client", value)
            return
        self._accounts_service(ctx, users)
        self._group(ctx, users)
        if installed(ctx, SLICK):
            changes: IniChanges = {"Greeter": {"group-filter": GROUP}}
            extra = parse_ini(conf_text(ctx.text("SLICK_CONF"), ctx.read_text), "SLICK_CONF")
            ctx.edit_ini("/etc/lightdm/slick-greeter.conf", merged(changes, extra))

    @staticmethod
    def _accounts_service(ctx: PluginContext, users: list[str]) -> None:
        directory = ctx.path(ACCOUNTS_SERVICE)
        if not directory.is_dir():
            return
        for entry in directory.iterdir():
            if entry.name not in users:
                ctx.remove_file(f"{ACCOUNTS_SERVICE}/{entry.name}")
        for user in users:
            if not (directory / user).exists():
                ctx.write_file(f"{ACCOUNTS_SERVICE}/{user}", "", mode=0o600)

    @staticmethod
    def _group(ctx: PluginContext, users: list[str]) -> None:
        ids = id_range(ctx.read_text("/etc/login.defs"))
        groups = set_system_group(
            parse_group(ctx.read_text("/etc/group") or "", "/etc/group"), GROUP, users, ids
        )
        ctx.write_file("/etc/group", "".join(g.line() + "\n" for g in groups), mode=0o644)
        gshadow_text = ctx.read_text("/etc/gshadow")
        if gshadow_text is not None:
            entries = {g.name: g for g in parse_gshadow(gshadow_text, "/etc/gshadow")}
            lines = [entries.get(g.name, GShadow(g.name)).line(g.members) for g in groups]
            path = ctx.write_file(
                "/etc/gshadow", "".join(f"{line}\n" for line in lines), mode=0o640
            )
            give_to_shadow_group(path, groups)
