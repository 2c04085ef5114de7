"""`ltsp init`: pid 1 on the client's new root, before the real init.

The initramfs stage copied the image's /sbin/init to /sbin/init.ltsp and made
/sbin/init a symlink to our binary, so the kernel (or run-init) starts us as
pid 1. We mount what is missing, evaluate ltsp.conf for the `init` applet, run
PRE_INIT hooks, the plugins and POST_INIT hooks, then put the real init back
and exec it with the original arguments.

Putting the real init back and exec'ing it happens whatever went wrong before:
pid 1 never lets an exception escape (that would panic the kernel).

`ltsp init --root DIR ... -- INIT-ARGS` does the same on DIR without being
pid 1 (tests, benchmarks): it mounts nothing unless it is pid 1 (e.g. inside
`unshare --pid --fork`), runs hooks only with --hooks (they act on the running
system), and execs DIR/sbin/init. Without `-- INIT-ARGS` and not as pid 1,
`--root` only applies the plugins (init/apply.py, also the dry run).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Only what restoring and exec'ing the real init needs is imported here: if
# anything else fails to import, that is a FATAL error inside configure(), and
# the real init still starts.
from ltsp_client.errors import LtspError
from ltsp_client.init.emergency import Console, Policy, run_shell
from ltsp_client.init.install import INIT, SAVED_INIT
from ltsp_client.init.options import Options, parse_args
from ltsp_client.init.runner import StepError, StepRunner, break_points, describe
from ltsp_client.log import events
from ltsp_client.paths import CLIENT_MARKER, ETC_LTSP, EVENTS_FILE, LOG_FILE, LTSP_BINARY, inside
from ltsp_client.run import Runner, exec_clean, run

if TYPE_CHECKING:
    from ltsp_client.appcontext import Context
    from ltsp_client.config.model import Config
    from ltsp_client.pluginkit import Facts
    from ltsp_client.pluginkit.base import Registry
    from ltsp_client.pluginkit.runner import Summary

log = logging.getLogger(__name__)

FALLBACK_INITS = ("/lib/systemd/systemd", "/usr/lib/systemd/systemd", "/sbin/init")
# Symlink targets that mean "/sbin/init is still us" (ours, and upstream's wrapper).
WRAPPER_MARKS = (LTSP_BINARY, "/lib/ltsp/ltsp", "ltsp/client/init/init")
APPLET = "init"


def facts_from_environ(environ: Mapping[str, str]) -> Facts:
    from ltsp_client.pluginkit import StaticFacts

    address, _, prefix = environ.get("IP_ADDRESS", "").partition("/")
    return StaticFacts(
        device=environ.get("DEVICE", ""),
        ip_address=address,
        prefixlen=int(prefix) if prefix.isdigit() else 24,
        mac_address=environ.get("MAC_ADDRESS", "").lower(),
        gateway=environ.get("GATEWAY", ""),
        hostname=environ.get("HOSTNAME", ""),
    )


def _default_evaluate(**kwargs: Any) -> Config:
    from ltsp_client.config import evaluate

    return evaluate(**kwargs)


def _default_facts(environ: Mapping[str, str]) -> Facts:
    from ltsp_client.system.facts import cached_facts, network_facts

    preset = all(environ.get(k) for k in ("DEVICE", "IP_ADDRESS", "MAC_ADDRESS"))
    cached = None if preset else cached_facts()
    return cached if cached is not None else network_facts(environ)


def _evaluate_file(conf: Path, **kwargs: Any) -> Config:
    """evaluate() with one given ltsp.conf instead of those of a config directory."""
    from ltsp_client.config.loader import read_conf
    from ltsp_client.config.sections import evaluate_files

    kwargs.pop("config_dir", None)
    return evaluate_files(files=[read_conf(conf)], **kwargs).config()


def _default_mount(source: str, target: Path, fstype: str, flags: int, options: str) -> None:
    from ltsp_client.system.kernelfs import mount

    mount(source, target, fstype, flags, options)


@dataclass
class Deps:
    """Everything pid 1 touches outside its root, replaceable in tests."""

    runner: Runner = run
    mount: Callable[[str, Path, str, int, str], None] = _default_mount
    exec: Callable[[Sequence[str]], None] = exec_clean
    facts: Callable[[Mapping[str, str]], Facts] = _default_facts
    evaluate: Callable[..., Config] = _default_evaluate
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    kmsg: Path = Path("/dev/kmsg")
    prepare_exec: Callable[[], None] = field(default_factory=lambda: prepare_exec)
    shell: Callable[[str], int] = field(default_factory=lambda: run_shell)
    is_pid1: bool = field(default_factory=lambda: os.getpid() == 1)


def with_options(deps: Deps, options: Options) -> Deps:
    """--mac/--ip replace the network facts, --config the image's ltsp.conf."""
    client, conf = options.client, options.config_file
    if client is not None:
        deps = replace(deps, facts=lambda environ: client)
    if conf is not None:
        deps = replace(deps, evaluate=partial(_evaluate_file, conf))
    return deps


def main(ctx: Context, args: list[str]) -> int:
    """`ltsp init`. As pid 1 this never returns: it execs the real init, or stays up."""
    options = parse_args(args)
    if options is None:
        if os.getpid() != 1:
            return 0
        options = Options(init_args=tuple(args))  # pid 1 must not exit: --help is init's
    if options.test_root and not options.hand_over and os.getpid() != 1:
        from ltsp_client.init.apply import apply

        return apply(options)
    if os.getpid() == 1 and not options.test_root and read_only_root():
        from ltsp_client.init import roroot  # the kernel's init= on a read-only NFS root

        return roroot.main(options.init_args)
    return boot(options, with_options(Deps(), options))


def read_only_root(root: str = "/", marker: str = str(CLIENT_MARKER)) -> bool:
    """`/` read-only and no initramfs stage before us (its /run/ltsp/client would be here, as
    with OVERLAY=0): the kernel's init= without an initramfs (init/roroot.py)."""
    return bool(os.statvfs(root).f_flag & os.ST_RDONLY) and not os.path.exists(marker)


def boot(options: Options, deps: Deps) -> int:
    if not deps.is_pid1 and not options.test_root:
        print(
            "ltsp init: refusing to run: not pid 1\n"
            "  hint: it runs at boot as /sbin/init; use --root DIR to try it on a directory",
            file=sys.stderr,
        )
        return 1
    if deps.is_pid1:
        # Ctrl-Alt-Del sends SIGINT to pid 1; a KeyboardInterrupt here would panic the kernel.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    runner = StepRunner(APPLET, Policy(console=Console(kmsg=deps.kmsg), shell=deps.shell))
    summary = "not run"
    try:
        summary = configure(options, deps, runner).summary.describe()
    except BaseException as exc:
        report_fatal(runner, exc)
    return hand_over(options, deps, runner, summary)


@dataclass(frozen=True)
class Configured:
    summary: Summary  # what each plugin did
    registry: Registry  # the plugins that were considered (built-ins and drop-ins)


def configure(options: Options, deps: Deps, runner: StepRunner) -> Configured:
    """Everything before the hand-over; any exception here is reported as FATAL by boot()."""
    from ltsp_client import log as logsetup
    from ltsp_client.config.model import Identity, debug_enabled, log_to_file
    from ltsp_client.init import cmdline
    from ltsp_client.pluginkit import PluginContext, hooks, loader
    from ltsp_client.pluginkit import runner as stage
    from ltsp_client.system import kernelfs

    root = options.root
    mounted = kernelfs.ensure(root, mounter=deps.mount) if deps.is_pid1 else []
    inside(root, CLIENT_MARKER).mkdir(parents=True, exist_ok=True)
    logsetup.setup("init", log_file=inside(root, LOG_FILE), events_file=inside(root, EVENTS_FILE))
    log.info("ltsp init on %s (pid %d); mounted: %s", root, os.getpid(), mounted or "nothing")
    kernel = cmdline.read(inside(root, "/proc/cmdline"))
    runner.breaks = break_points(kernel.break_step)

    def find_facts() -> Facts:
        try:
            return deps.facts(deps.environ)
        except LtspError as exc:
            # Upstream dies here; we still configure what needs no network (and still boot).
            log.warning("network facts: %s", exc)
            return facts_from_environ(deps.environ)

    facts = runner.run("facts", find_facts)
    config = runner.run(
        "config",
        lambda: deps.evaluate(
            applet=APPLET,
            identity=Identity(facts.mac_address, facts.ip_address, facts.hostname),
            is_client=True,
            config_dir=inside(root, ETC_LTSP),
            environ=deps.environ,
        ),
    )
    logsetup.apply_settings(
        verbose=debug_enabled(APPLET, config.get("LTSP_DEBUG", deps.environ.get("LTSP_DEBUG"))),
        to_file=log_to_file(config.get("DEBUG_LOG", deps.environ.get("DEBUG_LOG"))),
    )
    strict = kernel.strict or is_strict(config, deps.environ)
    ctx = PluginContext(
        root=root, config=config, facts=facts, runner=deps.runner, live=options.live or None
    )
    run_hooks = options.hooks or not options.test_root
    hook_output = inside(root, LOG_FILE)

    def hook(phase: str) -> None:
        name = f"hooks:{phase}_INIT"
        runner.before(name)
        if not run_hooks:
            if hooks.hook_lines(config, phase, APPLET):
                log.warning("%s_INIT hooks not run (--root without --hooks)", phase)
            return
        result = hooks.run_hooks(
            phase,
            applet=APPLET,
            root=root,
            config=config,
            facts=facts,
            runner=deps.runner,
            exports=ctx.exports,
            output=hook_output,
        )
        reap_orphans()
        if result is not None and result.error is not None:
            log.warning("%s", result.error)
            if strict:
                raise StepError(name, result.error.message, hint=result.error.hint)

    registries = []

    def plugins() -> stage.Summary:
        loaded = loader.load(root)
        registries.append(loaded.registry)
        for problem in loaded.problems:
            log.warning("admin plugin skipped: %s", problem)
        if loaded.problems and strict:
            first = loaded.problems[0]
            raise LtspError(f"admin plugin {first.file}: {first.message}", hint=first.hint)
        omit = loader.omitted(loaded.registry, config, deps.environ)
        return stage.run_plugins(
            loaded.registry,
            ctx,
            omit=omit,
            strict=strict,
            between=reap_orphans,
            before=runner.before,
        )

    hook("PRE")
    summary = runner.run("plugins", plugins)
    log.info("plugins: %s", summary.describe())
    hook("POST")
    return Configured(summary, registries[0])


def is_strict(config: Config, environ: Mapping[str, str]) -> bool:
    """LTSP_STRICT=1 in ltsp.conf or the environment (the kernel's ltsp.strict is checked too)."""
    from ltsp_client.config.model import is_true

    return config.flag("LTSP_STRICT") or is_true(environ.get("LTSP_STRICT"))


def report_fatal(runner: StepRunner, exc: BaseException) -> None:
    """FATAL in the one format of both stages; pid 1 then goes on with the real init."""
    if not isinstance(exc, StepError):
        message, hint = describe(exc)
        exc = StepError("start", message, hint=hint)
    runner.report(exc, then="continuing with the real init")


def is_wrapper(path: Path) -> bool:
    """Whether `path` is still the symlink that starts us (exec'ing it would loop)."""
    if not path.is_symlink():
        return False
    target = os.readlink(path)
    return any(target.endswith(mark) for mark in WRAPPER_MARKS)


def restore_init(root: Path) -> Path | None:
    """Put the real init back; return it (as a path under `root`), or None if there is none.

    This is the one step that is never skipped: OMIT lists and failed plugins
    do not reach it. If the rename fails, the saved init is returned to be
    exec'd directly.
    """
    init = inside(root, INIT, follow_last=False)
    saved = inside(root, SAVED_INIT, follow_last=False)
    if os.path.lexists(saved):
        try:
            os.replace(saved, init)
        except OSError as exc:
            log.error("cannot rename %s to %s: %s; exec'ing it directly", saved, init, exc)
            return saved
        log.info("restored %s", INIT)
        return init
    if os.path.lexists(init) and not is_wrapper(init):
        return init
    log.warning("%s is missing and %s is still ours", SAVED_INIT, INIT)
    return None


def init_candidates(root: Path, restored: Path | None) -> list[Path]:
    """What to exec, best first: the restored init, then systemd where it usually is."""
    found = [restored] if restored is not None else []
    for candidate in FALLBACK_INITS:
        path = inside(root, candidate, follow_last=False)
        if (
            path not in found
            and os.path.lexists(path)
            and not is_wrapper(path)
            and os.access(path, os.X_OK)
        ):
            found.append(path)
    return found


def hand_over(options: Options, deps: Deps, runner: StepRunner, summary: str = "") -> int:
    """Restore and exec the real init. Returns only if nothing could be exec'd."""
    root = options.root
    restored: Path | None = None
    try:
        restored = runner.run("restore-init", lambda: restore_init(root))
    except BaseException as exc:
        report_fatal(runner, exc)
    tried: list[str] = []
    for target in init_candidates(root, restored):
        tried.append(str(target))
        try:
            events.write(step="exec-init", event="exec", path=str(target))
            # one line on the console and in the journal (kmsg), like initrd-bottom's
            Console(kmsg=deps.kmsg).say(f"ltsp init: {summary}; exec {target}", level=5)
            deps.prepare_exec()
            path = target if root == Path("/") else inside(root, f"/{target.relative_to(root)}")
            deps.exec([str(path), *options.init_args])
            return 0  # only a test's exec returns
        except BaseException as exc:
            message, hint = describe(exc)
            report_fatal(runner, StepError("exec-init", message, hint=hint))
    report_fatal(
        runner,
        StepError(
            "exec-init",
            f"no init to exec in {root} (tried: {', '.join(tried) or 'nothing found'})",
            hint=f"the image needs {INIT} or systemd",
        ),
    )
    if not deps.is_pid1:
        return 1
    while True:  # pid 1 must not exit: stay, reap, and let the admin read the console
        reap_orphans()
        time.sleep(60)


def prepare_exec() -> None:
    """Dispositions the next init should not inherit, and flushed output."""
    for name in ("SIGPIPE", "SIGXFSZ", "SIGINT"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    for handler in logging.getLogger().handlers:
        handler.flush()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()


def reap_orphans() -> None:
    """Collect zombies reparented to pid 1.

    Called only between steps: no child of ours is running then, so this
    cannot steal an exit status from the runner.
    """
    if os.getpid() != 1:
        return
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
