"""The kernel command line as a typed value: root=, nbdroot=, ip=, BOOTIF=, ltsp.* and the rest.

Words are split by the one tokenizer, `ltsp_client.kcmdline`. `ltsp.NAME=value`
tokens become the ltsp.conf-style variables `NAME` (config.kernelvars, §2.8),
which win over ltsp.conf in `initrd-bottom`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ltsp_client.kcmdline import tokenize

_KNOWN = ("root", "nbdroot", "nfsroot", "ip", "bootif", "init", "rootflags", "rootfstype")


def _flag(value: str | None) -> bool:
    """A bare `ltsp.shell` counts as set; a value follows the one boolean rule."""
    from ltsp_client.config.model import is_true

    return value is not None and (value == "" or is_true(value))


@dataclass(frozen=True)
class KernelCmdline:
    """What the boot stages need from /proc/cmdline; `tokens` keeps everything verbatim."""

    tokens: tuple[str, ...] = ()
    root: str = ""
    nbdroot: str = ""
    nfsroot: str = ""
    ip: str = ""
    bootif: str = ""
    init: str = ""
    rootflags: str = ""
    rootfstype: str = ""
    ltsp: Mapping[str, str] = field(default_factory=dict)
    # "ltsp.break=STEP[,STEP]": a debug shell before each STEP (init.runner.break_points)
    break_step: str = ""
    # ltsp.shell, ltsp.debug_shell=1 or DEBUG_SHELL=1: a shell on fatal errors
    debug_shell: bool = False
    # ltsp.strict: failures that would only be warnings become fatal
    strict: bool = False
    unknown: tuple[str, ...] = ()
    environ: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_network_root(self) -> bool:
        return self.root == "/dev/nfs" or self.root.startswith("/dev/nbd")

    @property
    def bootif_mac(self) -> str:
        """BOOTIF=01-52-54-00-12-34-56 -> 52:54:00:12:34:56 ("" if absent or malformed)."""
        parts = self.bootif.split("-")
        if len(parts) == 7 and all(len(p) == 2 for p in parts):
            return ":".join(parts[1:]).lower()
        return ""


def parse(text: str) -> KernelCmdline:
    tokens = tokenize(text)
    known: dict[str, str] = {}
    environ: dict[str, str] = {}
    flags: dict[str, str] = {}
    unknown: list[str] = []
    for token in tokens:
        name, eq, value = token.partition("=")
        lower = name.lower()
        if lower in _KNOWN and eq:
            known[lower] = value
        elif lower in ("ltsp.shell", "ltsp.strict", "ltsp.break"):
            flags[lower] = value
        elif lower.startswith("ltsp.") and eq:
            pass  # collected by ltsp_vars()
        else:
            unknown.append(token)
            if eq and name.isidentifier() and name.isupper():
                environ[name] = value  # dot-less NAME=value reaches /init's environment
    from ltsp_client.config.kernelvars import parse_kernel_vars
    from ltsp_client.config.model import is_true

    variables = parse_kernel_vars(text, environ)
    variables.pop("BREAK", None)
    variables.pop("SHELL", None)
    variables.pop("STRICT", None)
    debug_shell = (
        _flag(flags.get("ltsp.shell"))
        or is_true(variables.get("DEBUG_SHELL"))
        or is_true(environ.get("DEBUG_SHELL"))
    )
    return KernelCmdline(
        tokens=tuple(tokens),
        root=known.get("root", ""),
        nbdroot=known.get("nbdroot", ""),
        nfsroot=known.get("nfsroot", ""),
        ip=known.get("ip", ""),
        bootif=known.get("bootif", ""),
        init=known.get("init", ""),
        rootflags=known.get("rootflags", ""),
        rootfstype=known.get("rootfstype", ""),
        ltsp=variables,
        break_step=flags.get("ltsp.break", ""),
        debug_shell=debug_shell,
        strict=_flag(flags.get("ltsp.strict")),
        unknown=tuple(unknown),
        environ=environ,
    )


def read(path: Path = Path("/proc/cmdline")) -> KernelCmdline:
    try:
        return parse(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return KernelCmdline()
