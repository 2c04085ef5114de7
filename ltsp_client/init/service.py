"""`ltsp service`: what ltsp.service runs once systemd is up (spec §1.9, §3.16).

The plugins of the `service` stage (NIC flow control, NFS read-ahead) run
with ltsp.conf evaluated for the applet `service`, between the PRE_SERVICE_x
and POST_SERVICE_x hooks. A failing plugin is reported and the others still
run; the exit status is 1 when one failed, so `systemctl status ltsp` shows it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ltsp_client.appcontext import Context
from ltsp_client.errors import LtspError
from ltsp_client.log import step
from ltsp_client.paths import CLIENT_MARKER, ETC_LTSP, EVENTS_FILE, LOG_FILE, inside
from ltsp_client.pluginkit import Facts
from ltsp_client.run import Runner, run

log = logging.getLogger(__name__)

USAGE = """\
Usage: ltsp service [-s|--stop] [--root DIR]

Run the boot-time tasks of ltsp.service: the plugins of the `service` stage.
  -s, --stop   accepted for upstream compatibility; does nothing
  --root DIR   act on DIR instead of / (tests, previews)"""


@dataclass(frozen=True)
class Options:
    root: Path = Path("/")


def parse_args(args: Sequence[str]) -> Options | None:
    """None after printing the usage for --help; LtspError for anything unknown."""
    root = Path("/")
    rest = list(args)
    while rest:
        word = rest.pop(0)
        if word in ("-h", "--help"):
            print(USAGE)
            return None
        if word in ("-s", "--stop"):
            continue
        if word == "--root" and rest:
            root = Path(rest.pop(0)).resolve()
        elif word.startswith("--root="):
            root = Path(word.partition("=")[2]).resolve()
        else:
            raise LtspError(f"unknown option {word!r}", hint="see `ltsp service --help`")
    return Options(root)


def _facts(root: Path, environ: Mapping[str, str]) -> Facts:
    """The boot NIC as the earlier stages recorded it; else as the environment says."""
    from ltsp_client.init.pid1 import facts_from_environ
    from ltsp_client.system.facts import cached_facts

    cached = cached_facts(inside(root, "/run/ltsp/facts.json"))
    return cached if cached is not None else facts_from_environ(environ)


@dataclass(frozen=True)
class Deps:
    runner: Runner = run
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


def main(ctx: Context, args: list[str]) -> int:
    options = parse_args(args)
    return 0 if options is None else serve(options, Deps())


def serve(options: Options, deps: Deps) -> int:
    """Evaluate ltsp.conf, run the hooks and the service plugins; 1 if any failed."""
    from ltsp_client import log as logsetup
    from ltsp_client.config import evaluate
    from ltsp_client.config.model import Identity
    from ltsp_client.pluginkit import PluginContext, hooks, loader
    from ltsp_client.pluginkit import runner as stage

    root = options.root
    is_client = inside(root, CLIENT_MARKER).is_dir()
    logsetup.setup(
        "service", log_file=inside(root, LOG_FILE), events_file=inside(root, EVENTS_FILE)
    )
    facts = _facts(root, deps.environ)
    with step("config"):
        config = evaluate(
            applet="service",
            identity=Identity(facts.mac_address, facts.ip_address, facts.hostname),
            is_client=is_client,
            config_dir=inside(root, ETC_LTSP),
            environ=deps.environ,
        )
    loaded = loader.load(root)
    for problem in loaded.problems:
        log.warning("admin plugin skipped: %s", problem)
    ctx = PluginContext(root, config, facts, deps.runner, stage="service")

    def hook(phase: str) -> bool:
        result = hooks.run_hooks(
            phase,
            applet="service",
            root=root,
            config=config,
            facts=facts,
            runner=deps.runner,
            exports=ctx.exports,
            output=inside(root, LOG_FILE),
        )
        if result is not None and result.error is not None:
            log.warning("%s", result.error)
            return False
        return True

    hooks_ok = hook("PRE")
    omit = loader.omitted(loaded.registry, config, deps.environ)
    with step("plugins"):
        summary = stage.run_plugins(loaded.registry, ctx, omit=omit)
    hooks_ok = hook("POST") and hooks_ok
    print(f"ltsp service: {summary.describe()}")
    return 0 if hooks_ok and not summary.failed else 1
