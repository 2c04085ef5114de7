"""The init stage applied from the initramfs, so that the real init starts directly.

Starting the frozen binary a second time, as pid 1 after switch_root, costs
seconds under emulation and ~0.1 s on hardware (docs/benchmarks.md). Plugins
write only under the root they are given, so `initrd-bottom` can run the init
stage on ROOTMNT itself, put /sbin/init back, and let run-init exec the
image's own init.

While the stage runs, the initramfs's /proc, /sys, /dev and /run are
bind-mounted on ROOTMNT. /run is the tmpfs that initramfs-tools (or systemd's
switch_root under dracut) moves into the new root afterwards, so the events,
the log and whatever plugins write there survive. The kernel and the network
namespace are the client's own, so plugins act on them as at pid 1 (`live`:
the kernel hostname, the DHCP address's lifetime), and commands run chrooted
into ROOTMNT, with the image's tools, as they would at pid 1.

`ltsp init` still runs as pid 1 (the way upstream works) when PID1_STAGE=1
(ltsp.conf, or `ltsp.pid1-stage=1` on the kernel line), when `ltsp.break=`
asks for a break point (the shell should be in the booted root), or when
PRE_INIT_/POST_INIT_ hooks are set (admins wrote them for the booted system).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ltsp_client import log as ltsp_log
from ltsp_client.config.model import is_true
from ltsp_client.config.params import find_param
from ltsp_client.errors import LtspError
from ltsp_client.init.emergency import Console, Policy
from ltsp_client.init.install import INIT
from ltsp_client.init.options import Options
from ltsp_client.init.runner import StepRunner
from ltsp_client.paths import inside
from ltsp_client.run import Result, Runner, run
from ltsp_client.system.mounts import MS_BIND

if TYPE_CHECKING:
    from ltsp_client.init.pid1 import Deps

log = logging.getLogger(__name__)

LIVE_FILESYSTEMS = ("/proc", "/sys", "/dev", "/run")
HOOK_PREFIXES = ("PRE_INIT_", "POST_INIT_")

Mounter = Callable[[str, Path, str, int, str], None]
Unmounter = Callable[[Path], None]


def why_pid1(values: Mapping[str, str], break_step: str) -> str:
    """Why the init stage must wait for pid 1 ("" when the initramfs may run it)."""
    param = find_param("PID1_STAGE")
    if is_true(values.get("PID1_STAGE") or (param.default if param else "")):
        return "PID1_STAGE=1"
    if break_step:
        return f"ltsp.break={break_step}"
    hooks = sorted(k for k, v in values.items() if k.startswith(HOOK_PREFIXES) and v)
    if hooks:
        return f"{hooks[0]} is set"
    return ""


def chroot_runner(root: Path, runner: Runner = run) -> Runner:
    """Commands run inside `root`, as at pid 1; a plugin's own `chroot DIR ...` runs as is."""

    def chrooted(argv: Sequence[str], **options: Any) -> Result:
        words = [str(a) for a in argv]
        if words and Path(words[0]).name != "chroot":
            words = ["chroot", str(root), *words]
        return runner(words, **options)

    return chrooted


def _bind(source: str, target: Path, fstype: str, flags: int, options: str) -> None:
    from ltsp_client.system.kernelfs import mount

    mount(source, target, fstype, flags, options)


def _unmount(target: Path) -> None:
    from ltsp_client.system.mounts import umount

    umount(target, lazy=True)


@dataclass
class LiveBinds:
    """Bind the initramfs's kernel filesystems and /run on a root, for the stage's duration."""

    mount: Mounter = _bind
    unmount: Unmounter = _unmount
    done: list[Path] = field(default_factory=list)

    @contextlib.contextmanager
    def on(self, root: Path) -> Iterator[None]:
        try:
            for source in LIVE_FILESYSTEMS:
                target = inside(root, source)
                target.mkdir(mode=0o755, parents=True, exist_ok=True)
                self.mount(source, target, "", MS_BIND, "")
                self.done.append(target)
            yield
        finally:
            while self.done:
                target = self.done.pop()
                try:
                    self.unmount(target)
                except OSError as exc:
                    log.warning("cannot unmount %s: %s", target, exc)


def apply(
    rootmnt: Path,
    *,
    binds: LiveBinds | None = None,
    deps: Deps | None = None,
) -> str:
    """Run the init stage on `rootmnt` and restore its /sbin/init; returns the plugin summary.

    Like pid 1, a failure inside the stage is reported as FATAL and the real
    init is restored anyway; only a failure to restore it raises (then
    /sbin/init is still ours and `ltsp init` does the stage again as pid 1).
    """
    from ltsp_client.init import pid1

    binds = binds or LiveBinds()
    summary = "not run"
    restored: Path | None = None
    saved = ltsp_log.events.stage, ltsp_log.events.path, list(logging.getLogger().handlers)
    try:
        with binds.on(rootmnt):
            options = Options(root=rootmnt, test_root=True, hooks=False, live=True)
            base = deps or pid1.Deps()
            live = replace(base, runner=chroot_runner(rootmnt, base.runner), is_pid1=False)
            runner = StepRunner(
                pid1.APPLET, Policy(console=Console(kmsg=live.kmsg), shell=live.shell)
            )
            try:
                summary = pid1.configure(options, live, runner).summary.describe()
            except Exception as exc:
                pid1.report_fatal(runner, exc)
            with ltsp_log.step("restore-init"):
                restored = pid1.restore_init(rootmnt)
    finally:
        # back to this stage's own records (the log and events in the initramfs's /run)
        ltsp_log.events.stage, ltsp_log.events.path, handlers = saved
        logging.getLogger().handlers[:] = handlers
    if restored is None or pid1.is_wrapper(restored):
        raise LtspError(
            f"could not restore {INIT} in {rootmnt}",
            hint="`ltsp init` runs the init stage as pid 1 instead",
        )
    return summary
