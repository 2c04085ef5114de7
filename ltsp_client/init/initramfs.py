"""`ltsp initrd-bottom`: inside the initramfs, turn the mounted network root into the client root.

initramfs-tools (or dracut) has already configured the network and mounted
the NFS or NBD root on ROOTMNT. This stage, run once per boot:

  facts -> config -> image-source -> mount -> install -> init-stage

each step timed and recorded by `ltsp_client.log.step`. A failure prints
FATAL with the step, a hint and the log path, then reboots after a countdown
(or opens a debug shell when the admin enabled one); see emergency.py.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from ltsp_client.appcontext import Context
from ltsp_client.config.model import Config
from ltsp_client.errors import ConfigError, LtspError
from ltsp_client.init import emergency
from ltsp_client.init.cmdline import KernelCmdline
from ltsp_client.init.runner import StepError, StepRunner, break_points
from ltsp_client.log import events
from ltsp_client.paths import CLIENT_MARKER, LOG_FILE
from ltsp_client.system import rootfs
from ltsp_client.system.facts import NetworkFacts
from ltsp_client.system.imagesource import Element, parse_chain, render_chain

log = logging.getLogger(__name__)

APPLET = "initrd-bottom"
USAGE = f"""Usage: ltsp {APPLET} [--rootmnt DIR]

Run by the initramfs (initramfs-tools init-bottom, or dracut pre-pivot) after
the root file system was mounted on DIR (default /root; /sysroot under dracut):
mounts the image (ltsp.image= / IMAGE) with a tmpfs overlay on DIR and
installs LTSP into it, so that /sbin/init starts `ltsp init`."""


@dataclass(frozen=True)
class Stage:
    """Inputs and results of the steps; each step returns an updated copy."""

    rootmnt: Path
    cmdline: KernelCmdline
    environ: Mapping[str, str]
    config_dir: Path = Path("/etc/ltsp")
    tmpfs: str = rootfs.TMPFS_DIR
    facts: NetworkFacts | None = None
    config: Config = field(default_factory=Config)  # ltsp.conf, then ltsp.* (§2.8)
    chain: tuple[Element, ...] = ()
    to_ram: bool = False
    # the init stage's plugins from here (init/early.py): only in a real initramfs, where
    # the kernel and network are the client's (main() sets it; tests on a host do not)
    early_init: bool = False
    # the fatal-error policy as ltsp.conf and the kernel line set it (after the config step)
    debug_shell: bool = False
    reboot_timeout: int | None = None

    def value(self, name: str) -> str:
        """A variable of ltsp.conf or the kernel line, else of the environment ("" if unset)."""
        return self.config.get(name) or self.environ.get(name, "")


def step_facts(stage: Stage) -> Stage:
    from ltsp_client.system.facts import facts_from_ipconfig, network_facts, save_facts

    try:
        facts = facts_from_ipconfig(stage.environ) or network_facts(stage.environ)
    except LtspError as exc:
        if stage.cmdline.is_network_root or stage.cmdline.strict:
            raise
        log.warning("no network facts (%s); ltsp.conf MAC/IP sections will not match", exc)
        return stage
    log.info(
        "network: %s %s/%s %s", facts.device, facts.ip_address, facts.prefixlen, facts.mac_address
    )
    save_facts(facts, events.path.with_name("facts.json"))  # beside events.jsonl
    return replace(stage, facts=facts)


def step_config(stage: Stage) -> Stage:
    from ltsp_client.config import Identity, evaluate

    facts = stage.facts
    identity = Identity(
        mac=facts.mac_address if facts else "",
        ip=facts.ip_address if facts else "",
        hostname=facts.hostname if facts else "",
    )
    environ = dict(stage.environ)
    if facts:
        environ.update(facts.as_vars())
    config = evaluate(
        applet=APPLET,
        identity=identity,
        is_client=True,
        config_dir=stage.config_dir,
        environ=environ,
        kernel_vars=stage.cmdline.ltsp,
    )
    done = replace(
        stage,
        config=config,
        debug_shell=config.flag("DEBUG_SHELL"),
        reboot_timeout=reboot_timeout(config) if config.get("REBOOT_TIMEOUT") else None,
    )
    log_settings(done.value("LTSP_DEBUG"), done.value("DEBUG_LOG"))
    return run_hooks(done, "PRE")


def log_settings(debug: str, debug_log: str) -> None:
    """LTSP_DEBUG and DEBUG_LOG, from ltsp.conf, the kernel line or the environment."""
    from ltsp_client import log as ltsp_log
    from ltsp_client.config.model import debug_enabled, log_to_file

    ltsp_log.apply_settings(verbose=debug_enabled(APPLET, debug), to_file=log_to_file(debug_log))


def run_hooks(stage: Stage, phase: str) -> Stage:
    """PRE_INITRD_BOTTOM_x ending the config step, POST_INITRD_BOTTOM_x ending install
    (§2.7), with LTSP_ROOT the new root; each is a timed `hooks:...` event when it has
    lines. A failing hook is a warning, fatal with ltsp.strict or LTSP_STRICT=1."""
    from ltsp_client.pluginkit import StaticFacts, hooks
    from ltsp_client.run import run

    if not hooks.hook_lines(stage.config, phase, APPLET):
        return stage
    result = hooks.run_hooks(
        phase,
        applet=APPLET,
        root=stage.rootmnt,
        config=stage.config,
        facts=stage.facts or StaticFacts(),
        runner=run,
        output=events.path.with_name(Path(LOG_FILE).name),  # beside events.jsonl
    )
    if result is not None and result.error is not None:
        if stage.cmdline.strict or stage.config.flag("LTSP_STRICT"):
            raise result.error
        log.warning("%s", result.error)
    return stage


def choose_source(stage: Stage) -> Stage:
    """IMAGE (made absolute under ROOTMNT), else ROOTMNT itself if it is a whole root (§1.6)."""
    image = stage.value("IMAGE")
    root = str(stage.rootmnt)
    if image:
        chain = parse_chain(image)
        first = chain[0]
        if not first.path.startswith("/"):
            first = replace(first, path=f"{root.rstrip('/')}/{first.path}")
        chain = (first, *chain[1:])
        return replace(stage, chain=chain, to_ram=stage.config.flag("IMAGE_TO_RAM"))
    if (stage.rootmnt / "proc").is_dir():
        return replace(stage, chain=(Element(root),), to_ram=False)
    raise LtspError(
        f"{root}/proc doesn't exist and ltsp.image wasn't specified",
        hint="boot with ltsp.image=images/NAME.img (the iPXE menu of `ltsp ipxe` does), "
        "or point nfsroot= at a whole chroot",
    )


def read_ahead_kb(stage: Stage) -> int:
    value = stage.value("READ_AHEAD_KB")
    return int(value) if value.isdigit() else rootfs.DEFAULT_READ_AHEAD_KB


def step_mount(stage: Stage, executor: rootfs.Executor) -> Stage:
    root = str(stage.rootmnt)
    kb = read_ahead_kb(stage)
    rootfs.set_read_ahead(root, kb)
    chain = stage.chain
    if stage.to_ram:
        actions, chain = rootfs.plan_image_to_ram(
            chain, root=root, view=rootfs.RealView(), tmpfs=stage.tmpfs
        )
        executor.run(actions)
    log.info("image source: %s", render_chain(chain))
    rootfs.mount_chain(
        chain,
        root=root,
        executor=executor,
        tmpfs=stage.tmpfs,
        overlay=stage.config.get_bool("OVERLAY", default=True),
    )
    rootfs.set_read_ahead(root, kb)
    rootfs.set_read_ahead(None, kb)
    if not (stage.rootmnt / "proc").is_dir():
        raise LtspError(
            f"{root}/proc doesn't exist after mounting {render_chain(chain)}",
            hint="the image source does not lead to a root file system; check ltsp.image=",
        )
    return replace(stage, chain=chain)


def step_install(stage: Stage) -> Stage:
    from ltsp_client.init.install import install

    counts = install(stage.rootmnt, etc_ltsp=stage.config_dir)
    log.info("installed into %s: %s", stage.rootmnt, counts)
    return run_hooks(stage, "POST")


def step_init_stage(stage: Stage) -> Stage:
    """The init stage's plugins on the new root now (init/early.py), unless pid 1 must."""
    from ltsp_client.init import early

    reason = early.why_pid1(stage.config, stage.cmdline.break_step)
    if not stage.early_init:
        return stage
    if reason:
        log.info("the init stage runs as pid 1 (`ltsp init`): %s", reason)
        return stage
    try:
        summary = early.apply(stage.rootmnt)
    except Exception as exc:  # /sbin/init is still ours: pid 1 does the stage instead
        log.warning("init stage from the initramfs: %s; `ltsp init` does it as pid 1", exc)
        return stage
    emergency.Console(out=sys.stderr).say(f"ltsp init (from the initramfs): {summary}")
    return stage


StepFn = Callable[[Stage], Stage]


def steps(executor: rootfs.Executor) -> tuple[tuple[str, StepFn], ...]:
    return (
        ("facts", step_facts),
        ("config", step_config),
        ("image-source", choose_source),
        ("mount", lambda s: step_mount(s, executor)),
        ("install", step_install),
        ("init-stage", step_init_stage),
    )


def run_stage(
    stage: Stage,
    policy: emergency.Policy,
    *,
    executor: rootfs.Executor | None = None,
    step_list: tuple[tuple[str, StepFn], ...] | None = None,
) -> int:
    """Run every step; on failure undo our mounts and follow the fatal-error policy."""
    executor = executor or rootfs.Executor()
    runner = StepRunner(
        APPLET,
        replace(policy, debug_shell=policy.debug_shell or stage.cmdline.debug_shell),
        break_points(stage.cmdline.break_step),
    )

    def after(name: str, state: Stage) -> None:
        if name == "config":
            runner.policy = policy_from(state, runner.policy)

    try:
        stage = runner.run_all(step_list or steps(executor), stage, after=after)
    except StepError as failure:
        executor.rollback()
        return emergency.fatal(
            runner.policy,
            applet=APPLET,
            step=failure.step,
            message=failure.message,
            hint=failure.hint,
        )
    emergency.Console(out=sys.stderr).say(f"ltsp {APPLET}: {render_chain(stage.chain)} ready")
    return 0


def policy_from(stage: Stage, policy: emergency.Policy) -> emergency.Policy:
    """ltsp.conf may enable DEBUG_SHELL or change the countdown; the kernel line still wins."""
    timeout = stage.reboot_timeout
    return replace(
        policy,
        debug_shell=policy.debug_shell or stage.debug_shell,
        reboot_timeout=policy.reboot_timeout if timeout is None else timeout,
    )


def reboot_timeout(config: Config) -> int:
    """REBOOT_TIMEOUT (its declared default when unset), never negative."""
    return max(0, config.number("REBOOT_TIMEOUT"))


def default_rootmnt(scripts_functions: Path = Path("/scripts/functions")) -> Path:
    return Path("/root") if scripts_functions.exists() else Path("/sysroot")


def parse_args(args: list[str]) -> Path | None:
    """Returns --rootmnt (None: default); raises LtspError on bad usage."""
    rootmnt = None
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg in ("-h", "--help"):
            print(USAGE)
            raise SystemExit(0)
        name, eq, value = arg.partition("=")
        if name in ("-r", "--rootmnt"):
            if not eq:
                if not rest:
                    raise LtspError(f"{name} needs a directory")
                value = rest.pop(0)
            rootmnt = Path(value)
        else:
            raise LtspError(f"unknown option {arg}", hint=f"see `ltsp {APPLET} --help`")
    return rootmnt


def main(ctx: Context, args: list[str]) -> int:
    from ltsp_client import log as ltsp_log
    from ltsp_client.init import cmdline

    del ctx  # the directory settings are for server applets
    rootmnt = parse_args(args) or default_rootmnt()
    kernel = cmdline.read()
    ltsp_log.setup(APPLET)
    log_settings(kernel.ltsp.get("LTSP_DEBUG") or os.environ.get("LTSP_DEBUG", ""), "")
    print(f"Running ltsp {APPLET} (root {rootmnt})", file=sys.stderr, flush=True)
    if not os.path.exists(CLIENT_MARKER) and os.getpid() != 1:
        raise LtspError(
            f"{CLIENT_MARKER} is missing: this does not look like an LTSP client boot",
            hint=f"`ltsp {APPLET}` runs only inside a client's initramfs",
        )
    try:
        timeout = reboot_timeout(Config(dict(kernel.ltsp)))
    except ConfigError as exc:  # reported again, with the rest, by the config step
        log.warning("%s", exc)
        timeout = reboot_timeout(Config())
    policy = emergency.Policy(debug_shell=kernel.debug_shell, reboot_timeout=timeout)
    stage = Stage(rootmnt=rootmnt, cmdline=kernel, environ=dict(os.environ), early_init=True)
    return run_stage(stage, policy)
