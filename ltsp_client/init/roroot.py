"""The no-initramfs path (spec §1.7): pid 1 on a read-only NFS root, started with `init=`.

A Raspberry Pi's kernel configures the network and mounts its NFS root
read-only itself, then runs `init=/usr/lib/ltsp/ltsp` with nothing mounted
but (maybe) /dev. `ltsp init` sees a read-only `/` and does here what the
initramfs stage does elsewhere, with the same step functions (initramfs.py):

  kernel-fs -> facts -> administrative -> fetch -> config -> image-source
  -> mount -> install -> init-stage -> switch-root

- kernel-fs: /proc, /sys, /dev and /run (a tmpfs), console on fds 0-2.
- administrative: ADMINISTRATIVE_CLIENT=1 in the root's own ltsp.conf (with
  its sections for this MAC/IP) remounts `/` read-write and execs /sbin/init:
  a maintenance client that changes the chroot itself.
- fetch: ltsp.img over NFS (SERVER:TFTP_DIR/ltsp), its etc/ unpacked into
  /run/ltsp/tmp: the server's ltsp.conf, as an initramfs would carry it.
- image-source, mount: with ltsp.image (IMAGE), SERVER:BASE_DIR is mounted on
  /root and the image loop-mounted from it under a tmpfs + overlay on /root;
  without, the NFS root itself is the overlay's lower layer.
- install, init-stage: as in the initramfs (our binary behind /sbin/init,
  then the plugins applied to /root and the real init put back).
- switch-root: /proc, /sys, /dev and /run moved into /root, /root moved onto
  `/`, chroot, exec /sbin/init (systemd, or `ltsp init` again if the
  init stage must run as pid 1).

The server is the one the root came from (the mount table, else `nfsroot=` /
`ip=`); the address comes from netlink (the interface is already up).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ltsp_client.config.model import Config
from ltsp_client.errors import LtspError
from ltsp_client.init import emergency, initramfs
from ltsp_client.init.initramfs import Stage
from ltsp_client.init.install import INIT
from ltsp_client.init.runner import StepError, StepRunner, break_points
from ltsp_client.run import exec_clean
from ltsp_client.system import mounts, rootfs
from ltsp_client.system.imagesource import Element, render_chain

log = logging.getLogger(__name__)

APPLET = "ro-root"
NEWROOT = Path("/root")  # not under /run: /run moves into the new root as a whole
TMP = Path("/run/ltsp/tmp")
LTSP_IMG = "ltsp.img"
MOVED = ("/proc", "/sys", "/dev", "/run")


@dataclass
class Deps:
    """What the stage touches beyond the step functions, replaceable in tests."""

    exec: Callable[[Sequence[str]], None] = exec_clean
    executor: rootfs.Executor = field(default_factory=rootfs.Executor)
    mount_nfs: Callable[[str, str, Path], None] = field(
        default_factory=lambda: _mount_nfs  # late import: kept off pid 1's first imports
    )
    remount_rw: Callable[[], None] = field(default_factory=lambda: _remount_rw)
    switch_root: Callable[[Path], None] = field(default_factory=lambda: switch_root)
    tmp: Path = TMP
    nfs_root: Path = Path("/")  # the overlay's lower layer without an image
    mountinfo: Path = Path("/proc/self/mountinfo")


def _mount_nfs(server: str, path: str, target: Path) -> None:
    from ltsp_client.system.nfsroot import mount_nfs

    mount_nfs(server, path, target)


def _remount_rw() -> None:
    mounts.mount("", "/", "", flags=mounts.MS_REMOUNT)


def open_console() -> None:
    """The kernel gives init /dev/console only if the root had it before /dev was mounted."""
    try:
        os.fstat(2)
        return
    except OSError:
        pass
    fd = os.open("/dev/console", os.O_RDWR | os.O_NOCTTY)
    for target in (0, 1, 2):
        if target != fd:
            os.dup2(fd, target)
    if fd > 2:
        os.close(fd)
    sys.stdin = open(0, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115


def server_of(stage: Stage, mountinfo: Path) -> tuple[str, str]:
    """(server address, root path) of the NFS root."""
    from ltsp_client.system.nfsroot import root_source

    found = root_source(" ".join(stage.cmdline.tokens), mountinfo)
    return found.server, found.path


def root_config(stage: Stage) -> Config:
    """The root's own ltsp.conf for this client, kernel ltsp.* values on top (upstream reads
    ADMINISTRATIVE_CLIENT before parsing them; TFTP_DIR and BASE_DIR come from here)."""
    from ltsp_client.config import Identity, evaluate

    facts = stage.facts
    return evaluate(
        applet="init",
        identity=Identity(
            facts.mac_address if facts else "",
            facts.ip_address if facts else "",
            facts.hostname if facts else "",
        ),
        is_client=True,
        config_dir=stage.config_dir,
        environ={**stage.environ, **(facts.as_vars() if facts else {})},
        kernel_vars=stage.cmdline.ltsp,
    )


def fetch_ltsp_img(stage: Stage, deps: Deps, server: str) -> Path:
    """Mount SERVER:TFTP_DIR/ltsp, unpack ltsp.img's etc/ into deps.tmp; returns its /etc/ltsp
    (the root's own when ltsp.img has none)."""
    from ltsp_client.system import cpioread

    tftp = Path(stage.config.text("TFTP_DIR") or "/srv/tftp") / "ltsp"
    mnt, unpacked = deps.tmp / "tftp", deps.tmp / "ltsp-img"
    mnt.mkdir(parents=True, exist_ok=True)
    unpacked.mkdir(parents=True, exist_ok=True)
    deps.mount_nfs(server, str(tftp), mnt)
    try:
        image = mnt / LTSP_IMG
        if not image.is_file():
            raise LtspError(
                f"{server}:{tftp}/{LTSP_IMG} doesn't exist",
                hint="run `ltsp initrd` on the server (and `ltsp nfs` to export TFTP_DIR/ltsp)",
            )
        names = cpioread.unpack(image, unpacked, wanted=lambda name: name.startswith("etc/"))
    finally:
        mounts.umount(mnt, lazy=True)
    log.info("ltsp.img: %d entries of etc/ unpacked", len(names))
    etc = unpacked / "etc/ltsp"
    return etc if etc.is_dir() else stage.config_dir


def choose_source(stage: Stage, deps: Deps, server: str) -> Stage:
    """IMAGE under SERVER:BASE_DIR mounted on NEWROOT; else the NFS root itself."""
    if not stage.value("IMAGE"):
        stage.rootmnt.mkdir(parents=True, exist_ok=True)
        return replace(stage, chain=(Element(str(deps.nfs_root)),), to_ram=False)
    if not Path("/dev/loop-control").exists():  # no initramfs loaded it for us
        from ltsp_client.system import kmod

        kmod.load("loop", roots=[deps.nfs_root])
    base = stage.config.text("BASE_DIR") or "/srv/ltsp"
    deps.mount_nfs(server, base, stage.rootmnt)
    deps.executor.undo.append(("umount", str(stage.rootmnt)))
    return initramfs.choose_source(stage)


def switch_root(newroot: Path) -> None:
    """Move the kernel filesystems and /run into newroot, make it `/` and chroot into it."""
    for path in MOVED:
        target = newroot / path.lstrip("/")
        target.mkdir(mode=0o755, parents=True, exist_ok=True)
        mounts.mount(path, target, "", flags=mounts.MS_MOVE)
    os.chdir(newroot)
    mounts.mount(str(newroot), "/", "", flags=mounts.MS_MOVE)
    os.chroot(".")
    os.chdir("/")


def run_steps(stage: Stage, runner: StepRunner, deps: Deps) -> Stage | None:
    """Every step up to the switch; None when the administrative client boots instead."""
    stage = runner.run("facts", lambda: initramfs.step_facts(stage))
    own = runner.run("administrative", lambda: root_config(stage))
    if own.flag("ADMINISTRATIVE_CLIENT"):
        return None
    stage = replace(stage, config=own)  # TFTP_DIR and BASE_DIR, until ltsp.img's ltsp.conf
    server, root_path = runner.run("server", lambda: server_of(stage, deps.mountinfo))
    log.info("NFS root %s:%s", server, root_path)
    etc = runner.run("fetch", lambda: fetch_ltsp_img(stage, deps, server))
    stage = replace(stage, config_dir=etc)
    stage = runner.run("config", lambda: initramfs.step_config(stage))
    runner.policy = initramfs.policy_from(stage, runner.policy)
    stage = runner.run("image-source", lambda: choose_source(stage, deps, server))
    stage = runner.run("mount", lambda: initramfs.step_mount(stage, deps.executor))
    stage = runner.run("install", lambda: initramfs.step_install(stage))
    stage = runner.run("init-stage", lambda: initramfs.step_init_stage(stage))
    return stage


def boot(stage: Stage, policy: emergency.Policy, init_args: Sequence[str], deps: Deps) -> int:
    """The stage, then exec the new root's init; returns only if nothing could be exec'd."""
    runner = StepRunner(
        APPLET,
        replace(policy, debug_shell=policy.debug_shell or stage.cmdline.debug_shell),
        break_points(stage.cmdline.break_step),
    )
    try:
        done = run_steps(stage, runner, deps)
        if done is None:
            log.warning("ADMINISTRATIVE_CLIENT=1: booting the NFS root read-write")
            runner.run("remount-rw", deps.remount_rw)
            deps.exec([INIT, *init_args])
            return 0
        shutil.rmtree(deps.tmp, ignore_errors=True)
        emergency.Console(out=sys.stderr).say(f"ltsp {APPLET}: {render_chain(done.chain)} ready")
        runner.run("switch-root", lambda: deps.switch_root(done.rootmnt))
    except StepError as failure:
        deps.executor.rollback()
        emergency.fatal(
            runner.policy,
            applet=APPLET,
            step=failure.step,
            message=failure.message,
            hint=failure.hint,
        )  # returns after the debug shell: the read-only root boots as it can
    deps.exec([INIT, *init_args])
    return 0


def main(init_args: Sequence[str]) -> int:
    """pid 1 on a read-only root: mount what the kernel did not, then the stage."""
    from ltsp_client import log as ltsp_log
    from ltsp_client.errors import ConfigError
    from ltsp_client.init import cmdline
    from ltsp_client.paths import CLIENT_MARKER
    from ltsp_client.system import kernelfs

    mounted = kernelfs.ensure(Path("/"))
    open_console()
    Path(CLIENT_MARKER).mkdir(parents=True, exist_ok=True)
    kernel = cmdline.read()
    ltsp_log.setup(APPLET)
    initramfs.log_settings(kernel.ltsp.get("LTSP_DEBUG", ""), "")
    print(f"Running ltsp {APPLET} (mounted {', '.join(mounted) or 'nothing'})", file=sys.stderr)
    try:
        timeout = initramfs.reboot_timeout(Config(dict(kernel.ltsp)))
    except ConfigError as exc:
        log.warning("%s", exc)
        timeout = initramfs.reboot_timeout(Config())
    policy = emergency.Policy(debug_shell=kernel.debug_shell, reboot_timeout=timeout)
    stage = Stage(rootmnt=NEWROOT, cmdline=kernel, environ=dict(os.environ), early_init=True)
    return boot(stage, policy, init_args, Deps())
