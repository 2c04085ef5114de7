"""PRE_<APPLET>_x / POST_<APPLET>_x: admin shell snippets from ltsp.conf.

Upstream semantics: every variable named PREFIX + anything with a non-empty
value, sorted by variable name, values joined with newlines, run as one
script. Unlike upstream they run in a child `sh -c` (not inside our process),
with a timeout and the environment described in docs/plugins.md. The ltsp.conf
sections are defined as shell functions `section_<name>` first, so a hook can
call one (`POST_INIT_X="section_set_root_hash"`); a section that already ran
while ltsp.conf was evaluated is a no-op, as upstream.

This is the only place where shell strings from the configuration are run.
"""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ltsp_client.config.model import Config
from ltsp_client.errors import ConfigError, LtspError
from ltsp_client.log import boottime, step
from ltsp_client.pluginkit.expand import Facts
from ltsp_client.run import Runner

log = logging.getLogger(__name__)

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Normalised section names contain only these, so they are safe as `case` patterns.
SAFE_PATTERN = re.compile(r"^[-a-z0-9*.\/:?@_|]+$")
# PRE_INITRD_ would also match initrd-bottom's hooks; upstream excludes them.
_EXCLUDED = {"INITRD": "INITRD_BOTTOM"}


def applet_key(applet: str) -> str:
    """`initrd-bottom` -> `INITRD_BOTTOM`, as upstream names the hook variables."""
    return re.sub(r"[^A-Za-z0-9]", "_", applet).upper()


def hook_lines(config: Config, phase: str, applet: str) -> list[str]:
    """The non-empty PHASE_APPLET_* values in variable-name order."""
    key = applet_key(applet)
    prefix = f"{phase}_{key}_"
    excluded = f"{phase}_{_EXCLUDED[key]}_" if key in _EXCLUDED else None
    names = sorted(k for k in config if k.startswith(prefix) and config[k] != "")
    return [config[k] for k in names if excluded is None or not k.startswith(excluded)]


def section_function(section: str) -> str:
    """`init/52:54:*` -> `section_init_52_54__`: upstream's function naming."""
    return "section_" + re.sub(r"[^A-Za-z0-9]", "_", section)


def section_prelude(config: Config) -> str:
    """Shell functions for every section body, each guarded to run once like upstream,
    and `section_call VALUE...` (what an INCLUDE in a body becomes): for each value,
    the first section whose pattern matches, in file order."""
    ran = {section_function(s) for s in config.sections_run}
    out: list[str] = []
    branches: list[str] = []
    for section, body in config.section_bodies.items():
        func = section_function(section)
        flag = "_LTSP_RAN_" + func
        out.append(f"{func}() {{")
        out.append(f'    [ -z "${{{flag}:-}}" ] || return 0')
        out.append(f"    {flag}=1")
        out.append(body.rstrip("\n"))
        out.append("    :")
        out.append("}")
        if func in ran:
            out.append(f"{flag}=1")
        if SAFE_PATTERN.match(section):
            branches.append(f"            {section}) {func} ;;")
    out.append("section_call() {")
    out.append('    for _ltsp_value in "$@"; do')
    out.append('        case "$_ltsp_value" in')
    out += branches
    out.append("        esac")
    out.append("    done")
    out.append("}")
    return "\n".join(out)


def hook_environment(
    *,
    phase: str,
    applet: str,
    root: Path,
    config: Config,
    facts: Facts,
    exports: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The merged config, what plugins exported, and the documented LTSP_* values."""
    values = {**config.assigned, **(exports or {})}
    env = {k: v for k, v in values.items() if ENV_NAME.match(k)}
    env.update(
        LTSP_STAGE=applet,
        LTSP_TARGET=f"{phase}_{applet_key(applet)}",
        LTSP_ROOT=str(root),
        HOSTNAME=values.get("HOSTNAME") or facts.hostname,
        MAC_ADDRESS=facts.mac_address,
        IP_ADDRESS=facts.ip_address,
        DEVICE=facts.device,
        GATEWAY=facts.gateway,
        SERVER=values.get("SERVER", ""),
    )
    return env


@dataclass(frozen=True)
class HookResult:
    target: str
    lines: int
    duration: float
    error: LtspError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def run_hooks(
    phase: str,
    *,
    applet: str,
    root: Path,
    config: Config,
    facts: Facts,
    runner: Runner,
    exports: Mapping[str, str] | None = None,
    output: Path | None = None,
) -> HookResult | None:
    """Run the PHASE_APPLET_* hooks, if any; failures are returned, not raised.

    With `output`, the script's stdout/stderr are appended to that file (at
    boot: /run/ltsp/ltsp.log) instead of a pipe, so a hook that leaves a
    background process behind does not make us wait for it.
    """
    lines = hook_lines(config, phase, applet)
    target = f"{phase}_{applet_key(applet)}"
    if not lines:
        return None
    parts = ["exec </dev/null"]
    if output is not None:
        parts.append(f"exec >>{shlex.quote(str(output))} 2>&1")
    parts += [section_prelude(config), *lines]
    script = "\n".join(parts) + "\n"
    env = hook_environment(
        phase=phase, applet=applet, root=root, config=config, facts=facts, exports=exports
    )
    try:
        timeout = float(config.number("HOOK_TIMEOUT"))
    except ConfigError as exc:
        return HookResult(target, len(lines), 0.0, exc)
    start = boottime()
    try:
        with step(f"hooks:{target}", lines=len(lines)):
            result = runner(["sh", "-c", script, target], timeout=timeout, check=True, env=env)
    except LtspError as exc:
        error = LtspError(
            f"{target}_* hooks failed: {exc.message}",
            hint=f"check the {target}_* lines of ltsp.conf; hook output is in the log",
        )
        return HookResult(target, len(lines), boottime() - start, error)
    for stream in (result.stdout, result.stderr):
        for text in stream.splitlines():
            log.info("%s: %s", target, text)
    return HookResult(target, len(lines), boottime() - start)
