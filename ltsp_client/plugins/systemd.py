"""systemd settings for a client whose root lives in RAM (upstream's 55-systemd).

Upstream edits journald.conf, system.conf and user.conf in place with a regex
that misses a key at column 0 (`Storage=persistent` stays); drop-ins override
whatever the main files say, and also work where systemd no longer ships them
in /etc.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import PurePosixPath

from ltsp_client.kcmdline import tokenize
from ltsp_client.pluginkit import Plugin, PluginContext
from ltsp_client.pluginkit.unitaliases import UnitNames

log = logging.getLogger(__name__)

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
# Generators that read only the kernel command line: they write nothing unless a word
# starts with one of these (debug: systemd.mask=, systemd.wants=, the debug shell, and the
# credentials newer versions read; run: systemd.run=; hibernate-resume: resume=).
CMDLINE_GENERATORS = (
    (
        "systemd-debug-generator",
        (
            "systemd.mask",
            "systemd.wants",
            "systemd.debug",
            "systemd.default_debug_tty",
            "systemd.set_credential",
        ),
    ),
    ("systemd-run-generator", ("systemd.run",)),
    ("systemd-hibernate-resume-generator", ("resume", "noresume")),
)
# system-update-generator redirects the boot when one of these exists.
SYSTEM_UPDATE = (PurePosixPath("/system-update"), PurePosixPath("/etc/system-update"))
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


def idle_generators(ctx: PluginContext, words: list[str]) -> list[str]:
    """The image's generators that would write nothing for this client and command line."""
    idle = [
        name
        for name, table, prefixes in VOLUME_GENERATORS
        if not (prefixes and any(w.startswith(prefixes) for w in words))
        and not has_entries(ctx.read_text(table))
    ]
    idle += [
        n for n, prefixes in CMDLINE_GENERATORS if not any(w.startswith(prefixes) for w in words)
    ]
    rc_local = ctx.path("/etc/rc.local")
    if not (rc_local.is_file() and rc_local.stat().st_mode & 0o111):
        idle.append("systemd-rc-local-generator")
    # a dangling link counts too (the generator does not follow it)
    if not any(os.path.lexists(ctx.path(p.parent) / p.name) for p in SYSTEM_UPDATE):
        idle.append("systemd-system-update-generator")
    if scripts := sysv_scripts_without_unit(ctx):
        log.info("systemd-sysv-generator kept for /etc/init.d/%s", ", ".join(scripts))
    else:
        idle.append("systemd-sysv-generator")
    return [
        name for name in idle if any(ctx.path(f"{d}/{name}").is_file() for d in PACKAGED_GENERATORS)
    ]


def sysv_scripts_without_unit(ctx: PluginContext) -> list[str]:
    """/etc/init.d scripts that systemd-sysv-generator would make a unit for: executable,
    and no unit file (a mask or an alias link counts) of their name, `.sh` removed."""
    init_d = ctx.path("/etc/init.d")
    if not init_d.is_dir():
        return []
    units = UnitNames(ctx.root)
    out = []
    for name in sorted(os.listdir(init_d)):
        script = ctx.path(f"/etc/init.d/{name}")  # links followed inside the root
        executable = script.is_file() and script.stat().st_mode & 0o111
        if executable and f"{name.removesuffix('.sh')}.service" not in units.entries:
            out.append(name)
    return out


class Systemd(Plugin, name="systemd", order=25):
    """A volatile, 1 MB journal; 10 s stop timeouts; no gpt-auto-generator; no journal ACLs.

    gpt-auto-generator would mount the local disk's partitions on a netbooted
    client. The cryptsetup, veritysetup and integritysetup generators are
    masked when their /etc table has no entry and the kernel command line no
    option of theirs (they would only cost an exec at systemd's start); so
    are the other generators that would write nothing: debug, run and
    hibernate-resume without their command line options, rc-local without
    an executable /etc/rc.local, system-update without /system-update, and
    sysv when every /etc/init.d script has a unit of its name. With
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
        for name in idle_generators(ctx, tokenize(ctx.read_text("/proc/cmdline") or "")):
            ctx.symlink(f"{GENERATORS}/{name}", "/dev/null")
        tmpfiles = ctx.read_text(TMPFILES)
        override = "/etc/tmpfiles.d/systemd.conf"  # same name in /etc replaces /usr/lib's
        if tmpfiles and without_acls(tmpfiles) != tmpfiles and ctx.read_text(override) is None:
            ctx.write_file(override, without_acls(tmpfiles))
        if NETCONSOLE.search(ctx.read_text("/proc/cmdline") or ""):
            ctx.remove_file(f"/etc/sysctl.d/{CONSOLE_SYSCTL}")
            if ctx.path(f"/usr/lib/sysctl.d/{CONSOLE_SYSCTL}").is_file():
                ctx.symlink(f"/etc/sysctl.d/{CONSOLE_SYSCTL}", "/dev/null")
