"""`ltsp service`: what ltsp.service runs once systemd is up (spec §1.9, §3.16).

The dispatcher has evaluated ltsp.conf for the applet `service` and runs the
PRE_SERVICE_x / POST_SERVICE_x hooks around this applet, as for any applet;
here the plugins of the `service` stage run (NIC flow control, NFS
read-ahead). A failing plugin is reported and the others still run; the exit
status is 1 when one failed, so `systemctl status ltsp` shows it.
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


@dataclass(frozen=True)
class Deps:
    runner: Runner = run
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


def main(ctx: Context, args: list[str]) -> int:
    options = parse_args(args)
    return 0 if options is None else serve(options, ctx.config or {}, Deps())


def facts(root: Path, environ: Mapping[str, str]) -> Facts:
    """The boot NIC as the earlier stages recorded it; else as the environment says."""
    from ltsp_client.init.pid1 import facts_from_environ
    from ltsp_client.paths import inside
    from ltsp_client.system.facts import FACTS_CACHE, cached_facts

    cached = cached_facts(inside(root, str(FACTS_CACHE)))
    return cached if cached is not None else facts_from_environ(environ)


def serve(options: Options, values: Mapping[str, str], deps: Deps) -> int:
    """Run the service-stage plugins with the evaluated ltsp.conf `values`; 1 if one failed."""
    from ltsp_client.config.model import Config
    from ltsp_client.pluginkit import PluginContext, loader
    from ltsp_client.pluginkit.runner import run_plugins

    root = options.root
    config = values if isinstance(values, Config) else Config(assigned=dict(values))
    loaded = loader.load(root)
    for problem in loaded.problems:
        log.warning("admin plugin skipped: %s", problem)
    ctx = PluginContext(root, config, facts(root, deps.environ), deps.runner, stage="service")
    omit = loader.omitted(loaded.registry, config, deps.environ)
    with step("plugins"):
        summary = run_plugins(loaded.registry, ctx, omit=omit)
    print(f"ltsp service: {summary.describe()}")
    return 1 if summary.failed else 0
