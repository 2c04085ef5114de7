"""systemd settings for a client whose root lives in RAM (upstream's 55-systemd).

Upstream edits journald.conf, system.conf and user.conf in place with a regex
that misses a key at column 0 (`Storage=persistent` stays); drop-ins override
whatever the main files say, and also work where systemd no longer ships them
in /etc.
"""

from __future__ import annotations

import re

from ltsp_client.kcmdline import tokenize
from ltsp_client.pluginkit import Plugin, PluginContext

SYSTEMD = "/lib/systemd/systemd"
JOURNALD = (
    "/etc/systemd/journald.conf.d/ltsp.conf",
    "# The root is in RAM: keep the journal small and out of /var\n"
    "[Journal]\nStorage=volatile\nRuntimeMaxUse=1M\nForwardToSyslog=no\n",
)
STOP_TIMEOUT = "# Faster shutdown of a diskless client\n[Manager]\nDefaultTimeoutStopSec=10s\n"
MANAGERS = ("/etc/systemd/system.conf.d/ltsp.conf", "/etc/systemd/user.conf.d/ltsp.conf")
TMPFILES = "/usr/lib/tmpfiles.d/systemd.conf"
# Generators in /etc override those of the same name; a link to /dev/null disables one.
GENERATORS = "/etc/systemd/system-generators"
GPT_AUTO = f"{GENERATORS}/systemd-gpt-auto-generator"
PACKAGED_GENERATORS = ("/usr/lib/systemd/system-generators", "/lib/systemd/system-generators")
# Generators for local encrypted/verity/integrity volumes, by their table and the kernel
# command line prefixes they read; on a client with neither, each is only an exec at
# systemd's start, before any unit (0.1 s each under qemu-user, more under TCG).
VOLUME_GENERATORS = (
    ("systemd-cryptsetup-generator", "/etc/crypttab", ("luks", "rd.luks")),
    (
        "systemd-veritysetup-generator",
        "/etc/veritytab",
        ("systemd.verity", "rd.systemd.verity", "roothash=", "usrhash="),
    ),
    ("systemd-integritysetup-generator", "/etc/integritytab", ()),
)
# procps lowers the console log level; with netconsole the kernel's level must stay.
CONSOLE_SYSCTL = "10-console-messages.conf"
NETCONSOLE = re.compile(r"(?<![\w.-])netconsole\b")


def without_acls(tmpfiles: str) -> str:
    """systemd's tmpfiles.d/systemd.conf with its ACL lines (`a`, `a+`, `A`...) commented out.

    The journal ACLs fail on the overlay root and fill the log with errors.
    """
    return "".join(
        f"#{line}" if line[:1] in ("a", "A") else line for line in tmpfiles.splitlines(True)
    )


def has_entries(table: str | None) -> bool:
    return any(
        line.strip() and not line.lstrip().startswith("#") for line in (table or "").splitlines()
    )


class Systemd(Plugin, name="systemd", order=25):
    """A volatile, 1 MB journal; 10 s stop timeouts; no gpt-auto-generator; no journal ACLs.

    gpt-auto-generator would mount the local disk's partitions on a netbooted
    client. The cryptsetup, veritysetup and integritysetup generators are
    masked when their /etc table has no entry and the kernel command line no
    option of theirs (they would only cost an exec at systemd's start). With
    `netconsole` on the kernel command line the kernel's console log level is
    left as the command line set it.

    Example::

        # keep the image's systemd settings
        [clients]
        OMIT_PLUGINS=systemd
    """

    aliases = ("systemd_main",)

    def applies(self, ctx: PluginContext) -> bool:
        return ctx.path(SYSTEMD).is_file()

    def apply(self, ctx: PluginContext) -> None:
        ctx.write_file(*JOURNALD)
        for path in MANAGERS:
            ctx.write_file(path, STOP_TIMEOUT)
        ctx.symlink(GPT_AUTO, "/dev/null")
        words = tokenize(ctx.read_text("/proc/cmdline") or "")
        for name, table, prefixes in VOLUME_GENERATORS:
            used = any(w.startswith(prefixes) for w in words) if prefixes else False
            installed = any(ctx.path(f"{d}/{name}").is_file() for d in PACKAGED_GENERATORS)
            if installed and not used and not has_entries(ctx.read_text(table)):
                ctx.symlink(f"{GENERATORS}/{name}", "/dev/null")
        tmpfiles = ctx.read_text(TMPFILES)
        override = "/etc/tmpfiles.d/systemd.conf"  # same name in /etc replaces /usr/lib's
        if tmpfiles and without_acls(tmpfiles) != tmpfiles and ctx.read_text(override) is None:
            ctx.write_file(override, without_acls(tmpfiles))
        if NETCONSOLE.search(ctx.read_text("/proc/cmdline") or ""):
            ctx.remove_file(f"/etc/sysctl.d/{CONSOLE_SYSCTL}")
            if ctx.path(f"/usr/lib/sysctl.d/{CONSOLE_SYSCTL}").is_file():
                ctx.symlink(f"/etc/sysctl.d/{CONSOLE_SYSCTL}", "/dev/null")
