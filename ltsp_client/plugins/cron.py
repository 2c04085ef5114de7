"""CRONTAB_x into /etc/cron.d/ltsp, and no maintenance jobs on clients (upstream's 55-cron)."""

from __future__ import annotations

from ltsp_client.pluginkit import Param, Plugin, PluginContext

PATH_LINE = "PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin"
# Jobs that maintain a disk the client does not have (spec §3.5).
JOBS = (
    "/etc/cron.d/popularity-contest",
    *(
        f"/etc/cron.daily/{name}"
        for name in (
            "apt",
            "apt-compat",
            "aptitude",
            "cracklib-runtime",
            "dpkg",
            "logrotate",
            "man-db",
            "mlocate",
            "passwd",
            "popularity-contest",
            "standard",
            "ubuntu-advantage-tools",
            "update-notifier-common",
        )
    ),
    "/etc/cron.monthly/ieee-data",
    "/etc/cron.weekly/apt-xapian-index",
    "/etc/cron.weekly/man-db",
    "/etc/cron.weekly/update-notifier-common",
)


class Cron(Plugin, name="cron", order=35):
    """Write the CRONTAB_x lines (system crontab format, with a user field) to
    /etc/cron.d/ltsp, and remove the image's disk-maintenance jobs (apt,
    dpkg, man-db, logrotate, ...). Only when cron is installed.

    Example::

        [clients]
        CRONTAB_SHUTDOWN="0 22 * * * root /sbin/poweroff"
    """

    params = (Param("CRONTAB_", help="CRONTAB_x: lines (with a user field) for /etc/cron.d/ltsp"),)
    aliases = ("cron_main",)

    def applies(self, ctx: PluginContext) -> bool:
        return ctx.path("/etc/cron.d").is_dir()

    def apply(self, ctx: PluginContext) -> None:
        for job in JOBS:
            ctx.remove_file(job)
        lines = [ctx.expand(line) for line in ctx.items("CRONTAB_")]
        if lines:
            ctx.write_cron("ltsp", [PATH_LINE, *lines])
