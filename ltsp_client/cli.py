"""The `ltsp` command: upstream-compatible global options, then one applet.

Applet modules are imported only when chosen: the same binary is pid 1 at
boot, where every import is paid for by every client.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ltsp_client import __version__
from ltsp_client.applet import Context, Host, run_applet
from ltsp_client.errors import LtspError

if TYPE_CHECKING:
    from ltsp_client.applet import Entry


@dataclass(frozen=True)
class AppletInfo:
    kind: str  # client, server or common
    target: str  # "module:function", or "" while a later issue builds it
    summary: str
    planned: str = ""  # which roadmap item brings it, for not-yet-built applets


APPLETS: dict[str, AppletInfo] = {
    "initrd-bottom": AppletInfo(
        "client",
        "ltsp_client.init.initramfs:main",
        "mount the image and prepare the new root (inside the initramfs)",
    ),
    "init": AppletInfo(
        "client",
        "ltsp_client.init.pid1:main",
        "configure the client as pid 1, then exec the real init",
    ),
    "login": AppletInfo(
        "client",
        "ltsp_client.login.pam:main",
        "authenticate server users (SSH) and mount SSHFS homes (run by pam_exec)",
    ),
    "session": AppletInfo(
        "client", "ltsp_client.login.session:main", "wrap a desktop session (one per user)"
    ),
    "remoteapps": AppletInfo(
        "client", "ltsp_client.login.remoteapps:main", "run applications on the server over ssh -X"
    ),
    "image": AppletInfo(
        "server",
        "ltsp_client.server.image:main",
        "build versioned squashfs images from chroots, VMs or /",
    ),
    "kernel": AppletInfo(
        "server",
        "ltsp_client.server.kernel:main",
        "publish kernels and initrds for netbooting",
    ),
    "initrd": AppletInfo(
        "common",
        "ltsp_client.server.initrd:main",
        "build ltsp.img (client code and /etc/ltsp) for the clients",
    ),
    "ipxe": AppletInfo(
        "server", "ltsp_client.server.ipxe:main", "install the iPXE menu and binaries"
    ),
    "nfs": AppletInfo("server", "ltsp_client.server.nfs:main", "export images and TFTP over NFS"),
    "dnsmasq": AppletInfo(
        "server", "ltsp_client.server.dnsmasq:main", "configure dnsmasq for DHCP/proxy-DHCP/TFTP"
    ),
    "info": AppletInfo(
        "common",
        "ltsp_client.server.info:main",
        "show versions, images and the client boot timeline",
    ),
    "service": AppletInfo(
        "common", "ltsp_client.init.service:main", "boot-time tasks run by ltsp.service"
    ),
    "config": AppletInfo(
        "common",
        "ltsp_client.applets.config:main",
        "show what ltsp.conf gives a client, or check it for errors",
    ),
}

# The boot stages evaluate ltsp.conf (with the kernel's ltsp.* values) and run their
# hooks themselves, once, on the pid-1 path; `ltsp config` diagnoses ltsp.conf and
# must work when it is broken. Every other applet gets both from the dispatcher.
SELF_CONFIGURED = frozenset({"init", "initrd-bottom", "config"})
# `ltsp login` runs at every PAM step of every login, as upstream's standalone pamltsp:
# its settings come from /etc/ltsp/login.json (the pam plugin writes it at boot), so it
# reads no ltsp.conf and runs no PRE/POST_LOGIN hooks (about 40 M instructions a
# start, docs/benchmarks.md)
STANDALONE = frozenset({"login"})

GLOBAL_DIR_OPTIONS = {
    "-b": "BASE_DIR",
    "--base-dir": "BASE_DIR",
    "-t": "TFTP_DIR",
    "--tftp-dir": "TFTP_DIR",
    "-m": "HOME_DIR",
    "--home-dir": "HOME_DIR",
}


def usage() -> str:
    # here, not at the top: pid 1 imports this module before any error handling exists
    from ltsp_client.appcontext import default_dirs

    dirs = default_dirs()
    lines = [
        "Usage: ltsp [-b BASE_DIR] [-t TFTP_DIR] [-m HOME_DIR] [-o[=0|1]] [-V] APPLET [options]",
        "       ltsp --help[=APPLET]",
        "",
        "Global options (also settable as environment variables or in ltsp.conf):",
        "  -b, --base-dir DIR    chroots, VM links and images/ "
        f"(BASE_DIR, default {dirs['BASE_DIR']})",
        "  -t, --tftp-dir DIR    TFTP root; files go to DIR/ltsp "
        f"(TFTP_DIR, default {dirs['TFTP_DIR']})",
        "  -m, --home-dir DIR    home directories exported by `ltsp nfs` "
        f"(HOME_DIR, default {dirs['HOME_DIR']})",
        "  -o, --overwrite[=0|1] overwrite configuration files the applets install (OVERWRITE)",
        "  -V, --version         print the version",
        "  -h, --help[=APPLET]   this help, or an applet's",
        "",
        "Applets:",
    ]
    for name, info in APPLETS.items():
        note = "" if info.target else f" (not yet: {info.planned})"
        lines.append(f"  {name:<14} {info.kind:<7} {info.summary}{note}")
    return "\n".join(lines)


class UsageError(LtspError):
    pass


def parse_global(argv: Sequence[str]) -> tuple[dict[str, str], str | None, list[str], bool]:
    """Split argv into (global settings, applet, applet args, help asked).

    Like upstream, options are parsed only before the applet name.
    """
    settings: dict[str, str] = {}
    args = list(argv)
    help_asked = False
    while args and args[0].startswith("-"):
        opt = args.pop(0)
        name, eq, value = opt.partition("=")
        if name in GLOBAL_DIR_OPTIONS:
            if not eq:
                if not args:
                    raise UsageError(f"option {name} needs a directory")
                value = args.pop(0)
            settings[GLOBAL_DIR_OPTIONS[name]] = value
        elif name in ("-o", "--overwrite"):
            value = value if eq else "1"
            if value not in ("0", "1"):
                raise UsageError(f"--overwrite takes 0 or 1, not {value!r}")
            settings["OVERWRITE"] = value
        elif name in ("-V", "--version"):
            settings["VERSION"] = "1"
        elif name in ("-h", "--help"):
            help_asked = True
            if eq:
                return settings, value, [], True
        elif name == "--":
            break
        else:
            raise UsageError(f"unknown option {opt}", hint="see `ltsp --help`")
    applet = args.pop(0) if args else None
    return settings, applet, args, help_asked


def resolve(name: str) -> Entry:
    info = APPLETS.get(name)
    if info is None:
        raise UsageError(f"unknown applet {name!r}", hint="`ltsp --help` lists the applets")
    if not info.target:
        raise LtspError(
            f"`ltsp {name}` is not implemented yet", hint=f"it arrives with {info.planned}"
        )
    module_name, func = info.target.split(":")
    module = importlib.import_module(module_name)
    entry: Entry = getattr(module, func)
    return entry


def is_init(argv0: str, args: Sequence[str], pid: int) -> bool:
    """Started as an init: as /sbin/init (a symlink to us while the client boots, see
    init/pid1.py), or by the kernel's `init=/usr/lib/ltsp/ltsp` (pid 1, the kernel's
    words for init as arguments: no applet name and no option of ours first, so that
    `rdinit=/usr/lib/ltsp/ltsp -- --version` still prints the version)."""
    if argv0.rsplit("/", 1)[-1] == "init":
        return True
    return pid == 1 and (not args or (args[0] not in APPLETS and not args[0].startswith("-")))


def main(argv: Sequence[str] | None = None, *, host: Host | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if argv is None and is_init(sys.argv[0], args, os.getpid()):
        args = ["init", *args]
    applet = "ltsp"
    try:
        settings, chosen, rest, help_asked = parse_global(args)
        if settings.pop("VERSION", None):
            print(f"ltsp {__version__}")
            return 0
        if chosen is None:
            print(usage(), file=sys.stdout if help_asked else sys.stderr)
            return 0 if help_asked else 1
        applet = chosen
        entry = resolve(chosen)
        host = host if host is not None else Host()
        ctx = Context.from_environment(chosen, settings, host.environ)
        if help_asked:
            return entry(ctx, ["--help"])
        if chosen in SELF_CONFIGURED | STANDALONE or "--help" in rest or "-h" in rest:
            return entry(ctx, rest)  # an applet's help needs no (maybe broken) ltsp.conf
        return run_applet(entry, ctx, rest, host)
    except LtspError as exc:
        print(f"ltsp {applet}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"ltsp {applet}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # never a bare traceback for an admin; pid 1 must go on booting
        logging.getLogger("ltsp").debug("internal error", exc_info=True)
        print(f"ltsp {applet}: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        if os.getpid() == 1:
            exec_saved_init()
        return 70


def exec_saved_init() -> None:
    """Last resort for pid 1 when even the init applet failed to load: start the real init."""
    for candidate in ("/sbin/init.ltsp", "/lib/systemd/systemd", "/usr/lib/systemd/systemd"):
        if os.access(candidate, os.X_OK):
            print(f"ltsp init: FATAL: starting {candidate} directly", file=sys.stderr)
            try:
                from ltsp_client.run import exec_clean

                exec_clean([candidate, *sys.argv[1:]])
            except OSError:
                continue
