"""The parameter table: every ltsp.conf or kernel variable any code reads, declared once.

A `Param` drives typed reads (`Config.setting`), `ltsp config check` and
docs/parameters.md. Upstream parameters that no plugin owns yet live in
`UPSTREAM_PARAMS` below; a plugin declares its own in `Plugin.params` (and the
entry leaves this table), so each name is declared in exactly one place.
Declaring a name a second time for another owner raises `DuplicateParamError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

ParamKind = Literal["str", "bool", "int", "enum", "words", "path"]
KINDS: tuple[ParamKind, ...] = ("str", "bool", "int", "enum", "words", "path")


class DuplicateParamError(ValueError):
    """A parameter name declared by two owners."""


@dataclass(frozen=True)
class Param:
    """One parameter. A `name` ending in `_` is a `NAME_x` list (`is_list` is then implied).

    `owner` is who reads it: a plugin name (filled in when the plugin registers),
    "framework", an applet ("init", "initrd-bottom", "image", ...).
    """

    name: str
    kind: ParamKind = "str"
    default: str = ""
    help: str = ""
    choices: tuple[str, ...] = ()
    is_list: bool = False
    owner: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"parameter {self.name}: kind {self.kind!r} is not one of {KINDS}")
        if self.name.endswith("_") and not self.is_list:
            object.__setattr__(self, "is_list", True)
        if self.is_list and not self.name.endswith("_"):
            raise ValueError(f"parameter {self.name}: a list's name ends in `_` (NAME_x)")


def _p(name: str, kind: ParamKind, default: str, help: str, *choices: str) -> Param:
    return Param(name, kind, default, help, tuple(choices))


def _owned(owner: str, *params: Param) -> tuple[Param, ...]:
    return tuple(replace(p, owner=owner) for p in params)


# Every upstream parameter (spec §2.10) no plugin has taken over, and ours,
# grouped by owner: the code that reads it ("upstream: SCRIPT" = nothing reads
# it yet; upstream's script that did). Names ending in "_" are `NAME_x` lists.
UPSTREAM_PARAMS: tuple[Param, ...] = (
    *_owned(
        "every applet",
        _p("BASE_DIR", "path", "/srv/ltsp", "where chroots, VM links and images/ live"),
        _p("TFTP_DIR", "path", "/srv/tftp", "TFTP root; LTSP's files go to TFTP_DIR/ltsp"),
        _p("HOME_DIR", "path", "/home", "home directories exported by `ltsp nfs`"),
        _p("OVERWRITE", "bool", "", "0: installers refuse to replace existing files"),
        _p("DEBUG_LOG", "bool", "1", "0: do not write /run/ltsp/debug.log"),
        _p("LTSP_DEBUG", "str", "", "1, or a comma list of applets: print debug messages"),
    ),
    *_owned(
        "initrd-bottom, init",
        _p("DEBUG_SHELL", "bool", "0", "1: on a fatal error open a debug shell instead of hanging"),
    ),
    *_owned(
        "framework",
        _p(
            "LTSP_STRICT",
            "bool",
            "0",
            "1: a failing plugin or hook is fatal (like ltsp.strict on the kernel command line)",
        ),
        _p(
            "HOOK_TIMEOUT",
            "int",
            "300",
            "seconds a PRE_/POST_ hook script may run before it is killed",
        ),
        _p("LTSP_SKIP_SCRIPTS", "str", "", "comma list of plugin names to skip"),
        _p("OMIT_FUNCTIONS", "words", "", "functions (plugins or their steps) to skip"),
        _p("OMIT_PLUGINS", "words", "", "plugin names to skip (our spelling of OMIT_FUNCTIONS)"),
        _p("PRE_", "str", "", "PRE_<APPLET>_x: shell run before the applet, sorted by name"),
        _p("POST_", "str", "", "POST_<APPLET>_x: shell run after the applet, sorted by name"),
    ),
    *_owned(
        "upstream (library mode)",
        _p(
            "LTSP_DIR",
            "path",
            "/usr/share/ltsp",
            "where upstream's shell tree lives (library mode)",
        ),
    ),
    *_owned(
        "image, kernel",
        _p("ALL_IMAGES", "bool", "", "1: let `ltsp image`/`kernel` without names process many"),
    ),
    *_owned(
        "facts",
        _p("DEVICE", "str", "", "boot network interface (computed)"),
        _p("IP_ADDRESS", "str", "", "IPv4 address of the boot interface (computed)"),
        _p("MAC_ADDRESS", "str", "", "MAC address of the boot interface (computed)"),
        _p("GATEWAY", "str", "", "next hop towards 192.168.67.1 (computed)"),
    ),
    *_owned(
        "initrd-bottom",
        _p("IMAGE", "str", "", "image source chain for the root (initrd-bottom)"),
        _p("IMAGE_TO_RAM", "bool", "0", "1: copy the image into RAM and drop the network root"),
        _p("OVERLAY", "bool", "", "0: no tmpfs overlay over the root (containers)"),
        _p(
            "REBOOT_TIMEOUT",
            "int",
            "60",
            "seconds a fatal boot error is shown before the client reboots",
        ),
        _p("READ_AHEAD_KB", "int", "128", "read-ahead for the root, loop and NFS mounts"),
        _p(
            "ADMINISTRATIVE_CLIENT",
            "bool",
            "",
            "1: init= boots the NFS root read-write as it is (read from its own ltsp.conf)",
        ),
        _p("PID1_STAGE", "bool", "0", "1: plugins run in pid 1 (`ltsp init`), not the initramfs"),
    ),
    *_owned(
        "upstream: initrd-bottom",
        _p("BLACKLIST_MODULES", "words", "floppy", "kernel modules to blacklist (only floppy)"),
    ),
    *_owned(
        "upstream: 54-pam",
        _p("SSHFS", "bool", "", "0: never mount homes over SSHFS (environment only)"),
        _p("MKHOMEDIR", "bool", "", "0: do not create missing home directories (environment only)"),
    ),
    *_owned(
        "upstream: 55-various",
        _p("IGNORE_EPOPTES", "bool", "", "1: do not ship the server's epoptes certificate"),
    ),
    *_owned(
        "image",
        _p("BACKUP", "bool", "1", "`ltsp image`: keep the previous image as .img.old"),
        _p("CLEANUP", "bool", "1", "`ltsp image`: clean the image (keys, logs, users)"),
        _p("IONICE", "str", "", "command prefix for mksquashfs; empty disables"),
        _p("MKSQUASHFS_PARAMS", "words", "", "extra mksquashfs arguments"),
        _p("REVERT", "bool", "", "1: swap the image with its .img.old"),
        _p(
            "IMAGE_VERSIONS",
            "int",
            "",
            "`ltsp image`: versions kept per image (3; BACKUP=0: 1)",
        ),
        _p("ADD_IMAGE_EXCLUDES", "str", "", "file or lines added to the image exclude list"),
        _p("OMIT_IMAGE_EXCLUDES", "str", "", "file or lines removed from the image exclude list"),
    ),
    *_owned(
        "kernel",
        _p("KERNEL_INITRD", "str", "", "`<glob> <sed-expr>` to find the kernel and initrd"),
        _p(
            "RPI_IMAGE",
            "str",
            "",
            "chroot whose Raspberry Pi firmware goes into TFTP_DIR, with a cmdline.txt for LTSP",
        ),
    ),
    *_owned(
        "ipxe",
        _p("BINARIES", "bool", "", "`ltsp ipxe`: 1 reinstall binaries, 0 skip, unset: if missing"),
        _p("DEFAULT_IMAGE", "str", "", "iPXE menu's default image"),
        _p("KERNEL_PARAMETERS", "str", "", "extra kernel command line for iPXE"),
        _p("MENU_TIMEOUT", "int", "5000", "iPXE menu timeout in ms (0 waits, -1 hides the menu)"),
        _p("IPXE_", "str", "", "IPXE_<NAME>: menu title of an image"),
        _p("HTTP", "bool", "0", "`ltsp ipxe`: 1 loads kernels and initrds over HTTP (HTTP_URL)"),
        _p(
            "HTTP_URL",
            "str",
            "",
            "`ltsp ipxe`: URL serving TFTP_DIR, iPXE variables allowed; default 'http://${srv}'",
        ),
    ),
    *_owned(
        "dnsmasq",
        _p("PROXY_DHCP", "bool", "1", "`ltsp dnsmasq`: proxy DHCP on every local subnet"),
        _p("REAL_DHCP", "bool", "1", "`ltsp dnsmasq`: DHCP range 192.168.67.20-250"),
        _p("TFTP", "bool", "1", "`ltsp dnsmasq`: serve TFTP"),
    ),
    *_owned(
        "nfs",
        _p("NFS_HOME", "bool", "0", "`ltsp nfs`: export HOME_DIR read-write"),
        _p("NFS_TFTP", "bool", "1", "`ltsp nfs`: export TFTP_DIR/ltsp read-only"),
    ),
    *_owned(
        "upstream: service",
        _p("NAT", "bool", "", "1 forces, 0 forbids NAT; unset: when the server is 192.168.67.1"),
    ),
)


KNOWN_PARAMS: dict[str, Param] = {}


def register_params(params: Iterable[Param], *, owner: str = "") -> tuple[Param, ...]:
    """Add declarations to the table; returns them with `owner` filled in.

    The same owner declaring a name again replaces its entry (a drop-in that
    replaces a built-in plugin, a module imported twice); another owner
    declaring it raises DuplicateParamError.
    """
    added = [replace(p, owner=owner) if owner and not p.owner else p for p in params]
    for param in added:  # check all first: a failed declaration adds nothing
        old = KNOWN_PARAMS.get(param.name)
        if old is not None and old.owner != param.owner:
            raise DuplicateParamError(
                f"parameter {param.name} is declared by {param.owner or '?'} "
                f"and already by {old.owner or '?'}: declare it once "
                "(a plugin taking over an upstream parameter removes it from "
                "ltsp_client/config/params.py)"
            )
    KNOWN_PARAMS.update((p.name, p) for p in added)
    return tuple(added)


def find_param(name: str) -> Param | None:
    """The declaration for NAME: exact, or the longest list prefix (`CRONTAB_` for CRONTAB_01)."""
    param = KNOWN_PARAMS.get(name)
    if param is not None:
        return param
    prefixes = [p for p in KNOWN_PARAMS.values() if p.is_list and name.startswith(p.name)]
    return max(prefixes, key=lambda p: len(p.name), default=None)


register_params(UPSTREAM_PARAMS)

# The directory settings every applet's Context carries, with their table defaults.
DEFAULT_DIRS = {name: KNOWN_PARAMS[name].default for name in ("BASE_DIR", "TFTP_DIR", "HOME_DIR")}
