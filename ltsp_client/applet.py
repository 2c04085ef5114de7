"""The dispatcher's glue around every applet: ltsp.conf, logging, PRE_/POST_ hooks.

`Context`, what every applet receives, lives in `appcontext` (core layer);
it is re-exported here. Only the standard library and core modules are
imported at module level: the dispatcher imports this module on every start,
pid 1 included.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ltsp_client.appcontext import Context

__all__ = ["Context", "Host", "host_facts", "run_applet"]

if TYPE_CHECKING:
    from typing import TypeAlias

    from ltsp_client.config.model import Config
    from ltsp_client.pluginkit import Facts
    from ltsp_client.run import Result

    Entry: TypeAlias = Callable[["Context", list[str]], int]


class Host:
    """Where the dispatcher finds this machine's ltsp.conf and run directory (tests: tmp).

    A plain class: a dataclass costs pid 1 about a millisecond to create at import.
    """

    def __init__(
        self,
        *,
        etc_dir: Path | None = None,  # default: /etc/ltsp or $LTSP_ETC_DIR
        run_dir: Path | None = None,  # default: /run/ltsp or $LTSP_RUN_DIR
        environ: Mapping[str, str] | None = None,
        facts: Callable[[Host], Facts] | None = None,  # default: host_facts()
    ) -> None:
        from ltsp_client.paths import live_etc_dir, live_run_dir

        self.environ: Mapping[str, str] = dict(os.environ) if environ is None else environ
        self.etc_dir = etc_dir or live_etc_dir(self.environ)
        self.run_dir = run_dir or live_run_dir(self.environ)
        self.facts = facts

    def conf_files(self, applet: str) -> list[Path]:
        """ltsp.conf and ltsp-APPLET.conf, those we may read, in evaluation order (upstream
        skips an unreadable one: an admin may keep ltsp.conf 0660 for group sudo)."""
        paths = [self.etc_dir / n for n in ("ltsp.conf", f"ltsp-{applet}.conf")]
        return [p for p in paths if p.is_file() and os.access(p, os.R_OK)]

    @property
    def is_client(self) -> bool:
        """An LTSP client (the initramfs stage created the marker), or pid 1."""
        return (self.run_dir / "client").exists() or os.getpid() == 1


def host_facts(host: Host) -> Facts:
    """MAC, IP and hostname that ltsp.conf sections match for this process, as upstream
    computes them for every applet; a host without a usable network gets empty ones."""
    import logging

    from ltsp_client.errors import LtspError
    from ltsp_client.pluginkit import StaticFacts
    from ltsp_client.system.facts import FACTS_CACHE, cached_facts, network_facts

    env = host.environ
    preset = all(env.get(k) for k in ("DEVICE", "IP_ADDRESS", "MAC_ADDRESS"))
    if host.is_client and not preset:
        cached = cached_facts(host.run_dir / FACTS_CACHE.name)
        if cached is not None:
            return cached
    try:
        return network_facts(env)
    except (LtspError, OSError) as exc:
        logging.getLogger("ltsp").warning("network facts: %s; MAC/IP sections will not match", exc)
        return StaticFacts(hostname=env.get("HOSTNAME") or os.uname().nodename)


def _echoing_runner(argv: Sequence[str], **options: Any) -> Result:
    """The command runner (same options), showing the hook's output as upstream does."""
    from ltsp_client.errors import CommandError
    from ltsp_client.run import run

    result = run(argv, **{**options, "check": False})
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if options.get("check", True) and not result.ok:
        raise CommandError(f"exit status {result.returncode}")
    return result


def run_applet(entry: Entry, ctx: Context, args: list[str], host: Host) -> int:
    """Evaluate ltsp.conf for this applet, apply it, set up logging, and run the
    applet between its PRE_<APPLET>_x and POST_<APPLET>_x hooks.

    The boot stages (`init`, `initrd-bottom`) do all of this themselves.
    """
    from ltsp_client import log as logsetup
    from ltsp_client.config import Identity
    from ltsp_client.config.loader import read_conf
    from ltsp_client.config.model import Config, debug_enabled, log_to_file
    from ltsp_client.config.sections import evaluate_files

    files = host.conf_files(ctx.applet)
    config = Config()
    facts: Facts | None = None
    if files:
        facts = (host.facts or host_facts)(host)
        result = evaluate_files(
            applet=ctx.applet,
            identity=Identity(facts.mac_address, facts.ip_address, facts.hostname),
            is_client=host.is_client,
            files=[read_conf(path) for path in files],
            environ={**host.environ, **ctx.variables()},
        )
        config = result.config()
        ctx = ctx.with_config(config, config, result)

    def value(name: str) -> str:
        return config.get(name, host.environ.get(name, ""))

    log_file = host.run_dir / "ltsp.log"
    to_file = log_to_file(value("DEBUG_LOG"))
    if to_file:
        _open_log(log_file, truncate=not host.is_client)
    logsetup.setup(
        ctx.applet,
        verbose=debug_enabled(ctx.applet, value("LTSP_DEBUG")),
        log_file=log_file,
        events_file=host.run_dir / "events.jsonl",
        to_file=to_file,
    )
    if facts is not None:
        _hooks("PRE", ctx.applet, config, facts)
    status = entry(ctx, args)
    if status == 0 and facts is not None:
        _hooks("POST", ctx.applet, config, facts)
    return status


def _open_log(path: Path, *, truncate: bool) -> None:
    """Create the log 0600; on a server it holds only the last command, as upstream's."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if truncate else 0)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, flags, 0o600))
    except OSError:
        pass  # not root, or a read-only /run: the console still gets everything


def _hooks(phase: str, applet: str, config: Config, facts: Facts) -> None:
    from ltsp_client.pluginkit import hooks

    if not hooks.hook_lines(config, phase, applet):
        return
    result = hooks.run_hooks(
        phase, applet=applet, root=Path("/"), config=config, facts=facts, runner=_echoing_runner
    )
    if result is not None and result.error is not None:
        raise result.error
