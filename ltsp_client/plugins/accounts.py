"""The server's users and groups on the client (upstream's 54-pam pwmerge), and PASSWORDS_x."""

from __future__ import annotations

import logging
import re

from ltsp_client.errors import LtspError
from ltsp_client.pluginkit import Param, Plugin, PluginContext
from ltsp_client.users.passwords import apply_passwords, parse_items
from ltsp_client.users.pwdb import AccountDb, format_db, give_to_shadow_group, id_range, read_dir
from ltsp_client.users.pwmerge import Filters, Report, merge

log = logging.getLogger(__name__)

# Where ltsp.img puts the server's passwd and group (docs/publisher.md; never shadow).
SERVER_ACCOUNTS = "/etc/ltsp"
MODES = {"passwd": 0o644, "group": 0o644, "shadow": 0o640, "gshadow": 0o640}
FILTERS = ("PWMERGE_SUR", "PWMERGE_SGR", "PWMERGE_DUR", "PWMERGE_DGR")


class Accounts(Plugin, name="accounts", order=60):
    """Merge the server's accounts (from ltsp.img) into the client's, as upstream pwmerge.

    Server users with a normal uid appear with the server's uid, gid and
    groups and the shadow marker `pamltsp` (they log in with their server
    password over SSH, see `ltsp login`); the image's normal users go unless
    kept by PWMERGE_DUR/PWMERGE_DGR (which also keep their passwords); system
    accounts stay. PASSWORDS_x stores passwords for autologin and guests.
    Without the server's /etc/ltsp/passwd (`ltsp initrd` publishes it) the
    image's accounts are left as they are.

    Example::

        [clients]
        PWMERGE_SGR=pupils|teachers
        PWMERGE_DUR=localadmin
        # guest01..guest09 log in without SSH; kiosk with a stored password
        PASSWORDS_LAB="guest0[1-9]/ kiosk/c2VjcmV0"
    """

    params = (
        Param(
            "PAM_AUTH_TYPE",
            kind="enum",
            choices=("0", "Primary", "Additional"),
            help="0: no server accounts and no SSH logins; Primary/Additional: the PAM role",
        ),
        Param("PWMERGE_SUR", help="regex (full match, %{VAR}) of server users to import"),
        Param(
            "PWMERGE_SGR",
            help="regex of server groups whose members are imported; `:name` for system groups",
        ),
        Param("PWMERGE_DUR", help="regex of the image's own users to keep, with their passwords"),
        Param("PWMERGE_DGR", help="regex of image groups whose members are kept"),
        Param(
            "PASSWORDS_",
            help="`userregex/base64password` items: stored server passwords; `user/`: guest",
        ),
    )
    aliases = ("pam_main", "pwmerge")
    applies_when = "PAM_AUTH_TYPE is not 0 and ltsp.img has the server's accounts"

    def applies(self, ctx: PluginContext) -> bool:
        """Not with PAM_AUTH_TYPE=0, nor without the server's accounts (ltsp.img without them)."""
        return ctx.text("PAM_AUTH_TYPE") != "0" and ctx.path(f"{SERVER_ACCOUNTS}/passwd").is_file()

    def apply(self, ctx: PluginContext) -> None:
        patterns = {name: _pattern(ctx, name) for name in FILTERS}
        filters = Filters(*patterns.values())
        keep_local = bool(patterns["PWMERGE_DUR"] or patterns["PWMERGE_DGR"])
        ids = id_range(ctx.read_text("/etc/login.defs"))
        source = read_dir(ctx.path(SERVER_ACCOUNTS), shadow=False, label=SERVER_ACCOUNTS)
        dest = read_dir(ctx.path("/etc"), shadow=keep_local, label="/etc")
        merged, report = merge(source, dest, filters, ids, keep_dest_shadow=keep_local)
        items, warnings = parse_items(ctx.items("PASSWORDS_"))
        shadow, more = apply_passwords(merged.shadow, items)
        report.warnings.extend(warnings + more)
        merged = AccountDb(merged.users, merged.groups, tuple(shadow), merged.gshadow)
        _write(ctx, merged)
        _log(report)


def _pattern(ctx: PluginContext, name: str) -> re.Pattern[str] | None:
    value = ctx.expand(ctx.text(name))
    if not value:
        return None
    try:
        return re.compile(value)
    except re.error as err:
        raise LtspError(
            f"{name}={value}: not a regular expression ({err})",
            hint="Python regular expressions, matched against the whole name",
        ) from None


def _write(ctx: PluginContext, db: AccountDb) -> None:
    for name, text in format_db(db).items():
        path = ctx.write_file(f"/etc/{name}", text, mode=MODES[name])
        if name in ("shadow", "gshadow"):
            give_to_shadow_group(path, db.groups)


def _log(report: Report) -> None:
    for what, names in (
        ("imported server users", report.imported_users),
        ("kept image users", report.kept),
        ("removed image users", report.removed_users),
        ("imported server groups", report.imported_groups),
        ("removed groups", report.removed_groups),
        ("dropped unknown group members", report.dropped_members),
    ):
        if names:
            log.info("accounts: %s: %s", what, " ".join(names))
    for warning in report.warnings:
        log.warning("accounts: %s", warning)
