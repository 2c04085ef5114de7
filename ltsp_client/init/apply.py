"""`ltsp init --root DIR`: the init stage applied to an unpacked image, for a client identity.

An admin previews a new ltsp.conf on the real image before rebooting a
classroom. The client's network facts come from --mac/--ip (and what DHCP on
that subnet would add), never from this machine; nothing is mounted, no
hook runs without --hooks, and nothing is exec'd. With --dry-run the plugins
write into a scratch view (system/scratch.py) and the report ends with the
unified diff of what the client would get.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ltsp_client.errors import LtspError
from ltsp_client.init.emergency import Console, Policy
from ltsp_client.init.options import Options
from ltsp_client.init.pid1 import APPLET, Configured, Deps, configure, with_options
from ltsp_client.init.runner import StepError, StepRunner
from ltsp_client.paths import LOG_FILE
from ltsp_client.run import Result, run

if TYPE_CHECKING:
    from ltsp_client.config.model import Config
    from ltsp_client.pluginkit import Plugin
    from ltsp_client.pluginkit.runner import Outcome

log = logging.getLogger(__name__)
Evaluate = Callable[..., "Config"]

# Our own records, not what the client gets (at boot /run is a fresh tmpfs anyway).
NOT_SHOWN = (str(LOG_FILE.parent),)


def _refuse(*args: object) -> None:
    raise LtspError("ltsp init --root mounts and execs nothing")


def _no_commands(argv: Sequence[str], **options: object) -> Result:
    raise LtspError(
        f"a dry run runs no command on this machine: {shlex.join(argv)}",
        hint="to see that plugin's effect, run without --dry-run on a copy of the image",
    )


def _with_dhcp_defaults(options: Options, evaluate: Evaluate) -> Evaluate:
    """SERVER and DNS_SERVER as a client on that subnet finds them, unless ltsp.conf sets them."""
    client = options.client

    def evaluate_with_defaults(**kwargs: Any) -> Config:
        config: Config = evaluate(**kwargs)
        if client is None:
            return config
        dns = [client.ipconfig.get(k, "") for k in ("IPV4DNS0", "IPV4DNS1")]
        defaults = {
            "SERVER": client.ipconfig.get("ROOTSERVER", ""),
            "DNS_SERVER": " ".join(d for d in dns if d and d != "0.0.0.0"),
        }
        missing = {k: v for k, v in defaults.items() if v and not config.get(k)}
        return config.with_values(missing) if missing else config

    return evaluate_with_defaults


def preview_deps(options: Options) -> Deps:
    """Deps for a run on an image: the given identity, no mounts, no exec, no kmsg."""
    client = options.client
    if client is None:
        log.warning("no --mac/--ip: MAC and IP sections of ltsp.conf will not match")
    from ltsp_client.pluginkit import StaticFacts

    facts = client if client is not None else StaticFacts()
    deps = Deps(
        runner=_no_commands if options.dry_run else run,
        mount=_refuse,
        exec=_refuse,
        facts=lambda environ: facts,
        environ=client.as_vars() if client is not None else {},
        kmsg=Path(os.devnull),
        prepare_exec=lambda: None,
        is_pid1=False,
    )
    deps = with_options(deps, options)
    return replace(deps, evaluate=_with_dhcp_defaults(options, deps.evaluate))


def apply(options: Options, *, out: TextIO | None = None) -> int:
    """Apply (or with --dry-run preview) the init stage on options.root; 1 if anything failed."""
    out = out or sys.stdout
    deps = preview_deps(options)
    runner = StepRunner(APPLET, Policy(console=Console(out=sys.stderr, kmsg=deps.kmsg)))
    if not options.dry_run:
        done = _configure(options, deps, runner)
        log_path = options.root / LOG_FILE.relative_to("/")
        _report(out, options, done, f"log: {log_path}")
        return 0 if done is not None and not done.summary.failed else 1
    from ltsp_client.init.treediff import tree_diff
    from ltsp_client.system.scratch import scratch_view

    with scratch_view(options.root) as view:
        done = _configure(replace(options, root=view.root), deps, runner)
        changes = list(tree_diff(options.root, view.root, view.touched(), skip=NOT_SHOWN))
    _report(out, options, done, "dry run: nothing in the image was changed")
    if not changes:
        out.write("\nNo file would change.\n")
    else:
        out.write(f"\nWhat the client would get ({len(changes)} changes):\n\n")
        for _, lines in changes:
            out.writelines(lines)
    return 0 if done is not None and not done.summary.failed else 1


def _configure(options: Options, deps: Deps, runner: StepRunner) -> Configured | None:
    try:
        return configure(options, deps, runner)
    except StepError as failure:
        runner.report(failure, then="stopped")
    except LtspError as exc:
        runner.report(StepError("start", exc.message, hint=exc.hint), then="stopped")
    return None


def _who(options: Options) -> str:
    client = options.client
    if client is None:
        return "a client without MAC/IP"
    return f"{client.mac_address} {client.ip_address}/{client.prefixlen}"


def _report(out: TextIO, options: Options, done: Configured | None, note: str) -> None:
    out.write(f"ltsp init on {options.root} for {_who(options)} ({note})\n")
    if done is None:
        out.write("  the stage stopped before its plugins (see FATAL above)\n")
        return
    for outcome in done.summary.outcomes:
        out.write(_line(outcome, _reason(done.registry.get(outcome.name))))


def _line(outcome: Outcome, reason: str) -> str:
    words = {"ok": "ran", "failed": "FAILED", "not needed": "not needed", "omitted": "omitted"}
    text = f"  {words[outcome.status]:<10} {outcome.name}"
    if outcome.status == "ok":
        text += f" ({outcome.duration:.3f} s)"
    elif outcome.detail:
        text += f": {outcome.detail}"
    elif outcome.status == "not needed" and reason:
        text += f": not ({reason})"
    if outcome.hint:
        text += f"\n             hint: {outcome.hint}"
    return text + "\n"


def _reason(cls: type[Plugin] | None) -> str:
    """What a plugin's applies() checks (says why "not needed"); not its docstring, which
    the frozen binary (optimize=2) does not have."""
    return cls.applies_when.rstrip(".") if cls is not None else ""
