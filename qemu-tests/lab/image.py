"""Client images for the lab: a debootstrapped Debian chroot, cached by a hash of its recipe.

`build_rootfs()` runs debootstrap (minbase, bookworm, from this machine's apt
mirror) with a kernel, initramfs-tools and nbd-client, trims it and adds the
lab's own bits: the boot report unit, a root autologin on ttyS1 for debugging,
and an initramfs-tools `init-bottom` script that puts a tmpfs overlay over a
read-only root when ``lab.overlay`` is on the kernel command line (so the stock
initrd can root from a squashfs over NBD or from an NFS export and still give
systemd a writable root). The result is kept under /var/cache/ltsp-lab
(env LTSP_LAB_CACHE) in a directory named by the recipe hash; a lock file
serialises concurrent builders of the same recipe, and a build happens in a
temporary directory that is renamed only when complete.

A build from scratch takes minutes, so it shows its phases as it goes
(lab/progress.py): debootstrap's download, extract, required packages,
packages, kernel, then the lab's initramfs, trim and squashfs, each with its
elapsed time and the time it took last time on this machine.

Until the project's publisher exists, "publishing" is `squash()` (mksquashfs,
zstd level 3) plus the chroot's own vmlinuz and initrd.img (`kernel_and_initrd()`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from lab import SERVER_IP, LabError
from lab.progress import Progress, load_times
from lab.report import REPORT_SCRIPT, REPORT_UNIT
from ltsp_client.errors import CommandError
from ltsp_client.run import run

log = logging.getLogger(__name__)

DEFAULT_CACHE = Path("/var/cache/ltsp-lab")
SUITE = "bookworm"
BASE_PACKAGES = (
    "systemd-sysv",
    "udev",
    "kmod",
    "iproute2",
    "linux-image-amd64",
    "initramfs-tools",
    "nbd-client",
    "zstd",
    "busybox",
)
# arm64 (qemu-tests/test_arm64_boot.py): Debian's arm64 kernel and a static busybox for the
# lab's stand-in initramfs; no lab initramfs scripts (that image boots without initramfs-tools'
# root mounting, as a Raspberry Pi does)
ARM64_PACKAGES = ("systemd-sysv", "udev", "kmod", "iproute2", "linux-image-arm64", "busybox-static")
RECIPE_VERSION = 1  # bump when the build steps below change
DEFAULT_COMP = "zstd -Xcompression-level 3"

# Phases of a build from scratch and their durations in seconds, measured on the
# development machine (2 cores, load average ~10 from other builds and guests; a
# quiet machine is about twice as fast); the last build here replaces them
# (logs/build-times.json in the cache).
DEFAULT_TIMES = {
    "debootstrap: download": 21.0,
    "debootstrap: extract": 4.0,
    "debootstrap: required packages": 44.0,
    "packages": 60.0,
    "kernel": 85.0,
    "lab initramfs": 54.0,
    "trim": 7.0,
    "squashfs": 266.0,
}
ROOTFS_PHASES = tuple(k for k in DEFAULT_TIMES if k != "squashfs")
# debootstrap's progress lines (stdout/stderr) that start each phase
DEBOOTSTRAP_MARKS = (
    ("I: Chosen extractor", "debootstrap: extract"),
    ("I: Installing core packages", "debootstrap: required packages"),
    ("I: Unpacking the base system", "packages"),
    ("I: Configuring linux-image-", "kernel"),
)

OVERLAY_SCRIPT = r"""#!/bin/sh
# ltsp QEMU lab: with lab.overlay on the command line, keep the (read-only) root as the
# lower layer of an overlay whose upper layer is a tmpfs, as a netbooted client does.
case "$1" in prereqs) exit 0 ;; esac
case " $(cat /proc/cmdline) " in *" lab.overlay "*) ;; *) exit 0 ;; esac
modprobe overlay 2>/dev/null
d=/run/lab-root
mkdir -p "$d/lower" "$d/rw"
mount -n -o move "${rootmnt:?}" "$d/lower"
mount -t tmpfs -o mode=0755 lab-rw "$d/rw"
mkdir -p "$d/rw/upper" "$d/rw/work"
mount -t overlay -o "lowerdir=$d/lower,upperdir=$d/rw/upper,workdir=$d/rw/work" lab-root "$rootmnt"
echo "lab-overlay: tmpfs overlay on $rootmnt over $d/lower" > /dev/kmsg
"""

# klibc ipconfig loses its first DHCP round when it sends before the NIC has carrier
# (qemu-lab.md, trap 3); with lab.netup the links are up (and have carrier) before it runs.
NETUP_SCRIPT = r"""#!/bin/sh
# ltsp QEMU lab: with lab.netup on the command line, set the NICs up before ipconfig runs.
case "$1" in prereqs) exit 0 ;; esac
case " $(cat /proc/cmdline) " in *" lab.netup "*) ;; *) exit 0 ;; esac
for dev in /sys/class/net/*; do
    name=${dev##*/}
    [ "$name" = lo ] && continue
    ip link set "$name" up 2>/dev/null
done
i=0
while [ "$i" -lt 40 ]; do
    for dev in /sys/class/net/*; do
        [ "$(cat "$dev/carrier" 2>/dev/null)" = 1 ] && [ "${dev##*/}" != lo ] && exit 0
    done
    sleep 0.05
    i=$((i + 1))
done
"""

TTYS1_AUTOLOGIN = """[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --keep-baud 115200,57600,38400,9600 - $TERM
"""


def cache_root() -> Path:
    return Path(os.environ.get("LTSP_LAB_CACHE") or DEFAULT_CACHE)


def apt_mirror(sources_dir: Path = Path("/etc/apt")) -> str:
    """The Debian mirror this machine's apt already uses (deb822 or one-line sources)."""
    texts = []
    for path in [*sorted(sources_dir.glob("sources.list.d/*")), sources_dir / "sources.list"]:
        with contextlib.suppress(OSError):
            texts.append(path.read_text())
    for text in texts:
        uris: list[str] = re.findall(r"^\s*URIs:\s*(\S+)", text, re.M)
        uris += re.findall(r"^\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+" + SUITE + r"\s", text, re.M)
        for uri in uris:
            if re.search(r"/debian/?$", uri):
                return uri.rstrip("/")
    return "http://deb.debian.org/debian"


def base_packages(arch: str) -> tuple[str, ...]:
    return ARM64_PACKAGES if arch == "arm64" else BASE_PACKAGES


def recipe(
    variant: str, extra_packages: Sequence[str], mirror: str, arch: str = "amd64"
) -> dict[str, object]:
    foreign: dict[str, object] = {} if arch == "amd64" else {"arch": arch}
    return {
        **foreign,
        "version": RECIPE_VERSION,
        "suite": SUITE,
        "variant": variant,
        "mirror": mirror,
        "packages": sorted({*base_packages(arch), *extra_packages}),
        "report": REPORT_SCRIPT,
        "unit": REPORT_UNIT,
        "overlay": OVERLAY_SCRIPT,
        "netup": NETUP_SCRIPT,
        "ttyS1": TTYS1_AUTOLOGIN,
    }


def recipe_hash(data: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive flock: a second builder of the same thing waits for the first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def times_file(cache: Path) -> Path:
    return cache / "logs" / "build-times.json"


def new_progress(cache: Path) -> Progress:
    return Progress("lab image", {**DEFAULT_TIMES, **load_times(times_file(cache))})


def save_times(cache: Path, progress: Progress) -> None:
    """Remember how long each phase took here, for the next build's expectations."""
    if not progress.measured:
        return
    path = times_file(cache)
    merged = {**load_times(path), **{k: round(v, 1) for k, v in progress.measured.items()}}
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(merged, indent=1, sort_keys=True) + "\n")


def debootstrap(
    argv: Sequence[str], progress: Progress, timeout: float, env: dict[str, str] | None = None
) -> tuple[int, str]:
    """Run debootstrap, switching progress phases on its `I:` lines; (exit status, output)."""
    progress.begin("debootstrap: download")
    proc = subprocess.Popen(
        list(argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        env=env,
    )
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            for mark, phase in DEBOOTSTRAP_MARKS:
                if line.startswith(mark) and progress.current != phase:
                    progress.begin(phase)
        status = proc.wait()
    finally:
        killer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    progress.end()
    return status, "".join(lines)


def _chroot(root: Path, *argv: str, timeout: float = 600) -> None:
    run(["chroot", str(root), *argv], timeout=timeout)


@contextlib.contextmanager
def _proc_mounted(root: Path) -> Iterator[None]:
    target = root / "proc"
    run(["mount", "-t", "proc", "lab-proc", str(target)], timeout=20)
    try:
        yield
    finally:
        run(["umount", "-l", str(target)], timeout=20, check=False)


def _trim(root: Path) -> None:
    for pattern in (
        "var/lib/apt/lists/*",
        "var/cache/apt/*.bin",
        "var/cache/apt/archives/*.deb",
        "usr/share/doc/*",
        "usr/share/man/*",
        "usr/share/info/*",
    ):
        for path in root.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    locale = root / "usr/share/locale"
    if locale.is_dir():
        for path in locale.iterdir():
            if path.name != "locale.alias":
                shutil.rmtree(path) if path.is_dir() else path.unlink()


def _enable(root: Path, unit: str, target: str, source: str) -> None:
    wants = root / "etc/systemd/system" / f"{target}.wants"
    wants.mkdir(parents=True, exist_ok=True)
    link = wants / unit
    link.unlink(missing_ok=True)
    link.symlink_to(source)


def _customise(root: Path, progress: Progress, *, initramfs: bool = True) -> None:
    (root / "etc/hostname").write_text("labclient\n")
    (root / "etc/hosts").write_text("127.0.0.1\tlocalhost\n127.0.1.1\tlabclient\n")
    (root / "etc/machine-id").write_text("")
    with contextlib.suppress(FileNotFoundError):
        (root / "var/lib/dbus/machine-id").unlink()
    _chroot(root, "passwd", "-d", "root")
    script = root / "usr/local/sbin/lab-report"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(REPORT_SCRIPT)
    script.chmod(0o755)
    (root / "etc/systemd/system/lab-report.service").write_text(REPORT_UNIT)
    _enable(
        root, "lab-report.service", "multi-user.target", "/etc/systemd/system/lab-report.service"
    )
    dropin = root / "etc/systemd/system/serial-getty@ttyS1.service.d"
    dropin.mkdir(parents=True, exist_ok=True)
    (dropin / "autologin.conf").write_text(TTYS1_AUTOLOGIN)
    _enable(
        root,
        "serial-getty@ttyS1.service",
        "getty.target",
        "/lib/systemd/system/serial-getty@.service",
    )
    if not initramfs:
        return
    overlay = root / "etc/initramfs-tools/scripts/init-bottom/lab-overlay"
    overlay.parent.mkdir(parents=True, exist_ok=True)
    overlay.write_text(OVERLAY_SCRIPT)
    overlay.chmod(0o755)
    netup = root / "etc/initramfs-tools/scripts/init-premount/lab-netup"
    netup.parent.mkdir(parents=True, exist_ok=True)
    netup.write_text(NETUP_SCRIPT)
    netup.chmod(0o755)
    modules = root / "etc/initramfs-tools/modules"
    with modules.open("a") as f:
        f.write(
            "# ltsp QEMU lab: root from a squashfs over NBD, tmpfs overlay\nsquashfs\noverlay\n"
        )
    with progress.phase("lab initramfs"), _proc_mounted(root):
        _chroot(root, "update-initramfs", "-u", "-k", "all", timeout=600)


def _remove_dead_tmp(cache: Path, name: str) -> None:
    """Partial trees of builders that died (the lock is ours, so none is in progress)."""
    for tmp in cache.glob(f"{name}.tmp-*"):
        if tmp.is_dir() and not any(m.startswith(str(tmp)) for m in _mountpoints()):
            shutil.rmtree(tmp, ignore_errors=True)


def _mountpoints() -> list[str]:
    try:
        return [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return []


def build_rootfs(
    variant: str = "base",
    extra_packages: Sequence[str] = (),
    *,
    cache_dir: Path | None = None,
    mirror: str | None = None,
    progress: Progress | None = None,
    arch: str = "amd64",
) -> Path:
    """Return a finished client chroot for this recipe, building it (minutes) if needed.

    A foreign `arch` (arm64) is debootstrapped through binfmt_misc and qemu-user-static.
    """
    cache = cache_dir if cache_dir is not None else cache_root()
    mirror = mirror or apt_mirror()
    data = recipe(variant, extra_packages, mirror, arch)
    prefix = "rootfs" if arch == "amd64" else f"rootfs-{arch}"
    name = f"{prefix}-{variant}-{recipe_hash(data)}"
    final = cache / name
    with file_lock(cache / f".{name}.lock"):
        if (final / ".lab-recipe.json").exists():
            if progress is not None:
                progress.drop(*ROOTFS_PHASES)
            return final
        own = progress is None
        progress = new_progress(cache) if progress is None else progress
        _remove_dead_tmp(cache, name)
        tmp = cache / f"{name}.tmp-{os.getpid()}"
        logs = cache / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        try:
            packages = ",".join(sorted({*base_packages(arch), *extra_packages}))
            log.info("debootstrap %s %s (%s) into %s", SUITE, arch, packages, tmp)
            argv = ["debootstrap", f"--arch={arch}", "--variant=minbase", f"--include={packages}"]
            # arm64: no initramfs for the kernel (the lab's stand-in replaces it; making one
            # under qemu-user took over 10 minutes): the kernel's postinst hook honours INITRD=No
            env = None if arch == "amd64" else {**os.environ, "INITRD": "No"}
            status, output = debootstrap([*argv, SUITE, str(tmp), mirror], progress, 1800, env)
            (logs / f"{name}.debootstrap.log").write_text(output)
            if status != 0:
                raise LabError(
                    f"debootstrap failed (exit {status})",
                    hint=f"see {logs}/{name}.debootstrap.log and {tmp}/debootstrap/",
                )
            _chroot(tmp, "apt-get", "clean")
            _customise(tmp, progress, initramfs=arch == "amd64")
            with progress.phase("trim"):
                _trim(tmp)
            (tmp / ".lab-recipe.json").write_text(json.dumps(data, indent=1, sort_keys=True))
            if final.exists():
                shutil.rmtree(final)
            tmp.rename(final)
        except (CommandError, OSError) as exc:
            raise LabError(
                f"building the lab image failed: {exc}", hint=f"partial tree: {tmp}"
            ) from exc
        finally:
            progress.end()
        log.info("built %s in %.1fs", final, time.monotonic() - t0)
        save_times(cache, progress)
        if own:
            progress.close()
        return final


def squash(
    chroot: Path,
    out: Path | None = None,
    comp: str = DEFAULT_COMP,
    *,
    progress: Progress | None = None,
) -> Path:
    """mksquashfs the chroot (cached: rebuilt only when missing or older than the chroot)."""
    target = out if out is not None else chroot.parent / f"{chroot.name}.squashfs"
    stamp = chroot / ".lab-recipe.json"
    with file_lock(target.parent / f".{target.name}.lock"):
        if target.exists() and (
            not stamp.exists() or target.stat().st_mtime >= stamp.stat().st_mtime
        ):
            return target
        tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
        phase = progress.phase("squashfs") if progress is not None else contextlib.nullcontext()
        with phase:
            _mksquashfs(chroot, tmp, comp)
        tmp.rename(target)
    if progress is not None:
        save_times(chroot.parent, progress)
    return target


def _mksquashfs(chroot: Path, tmp: Path, comp: str) -> None:
    argv = ["mksquashfs", str(chroot), str(tmp), "-noappend", "-no-progress", "-quiet"]
    # -e takes every argument after it as a name to exclude: it must come last
    run([*argv, "-comp", *comp.split(), "-e", ".lab-recipe.json"], timeout=900)


def kernel_and_initrd(chroot: Path) -> tuple[Path, Path]:
    """The chroot's own kernel and initramfs (through the /vmlinuz and /initrd.img links)."""
    found = []
    for link in ("vmlinuz", "initrd.img"):
        path = chroot / link
        if path.is_symlink():
            target = Path(os.readlink(path))
            path = chroot / target.relative_to("/") if target.is_absolute() else chroot / target
        if not path.is_file():
            kind = "boot/vmlinuz-*" if link == "vmlinuz" else "boot/initrd.img-*"
            candidates = sorted(chroot.glob(kind))
            if not candidates:
                raise LabError(f"no {link} in {chroot}", hint="the image needs linux-image-amd64")
            path = candidates[-1]
        found.append(path)
    return found[0], found[1]


@dataclass(frozen=True)
class Published:
    """A lab image ready to serve: chroot (NFS export), squashfs (NBD export), kernel, initrd."""

    chroot: Path
    squashfs: Path
    kernel: Path
    initrd: Path


def publish(variant: str = "base", extra_packages: Sequence[str] = ()) -> Published:
    """build_rootfs + squash + kernel_and_initrd: everything the servers hand out (cached).

    What has to be built shows its progress on stderr (nothing when all is cached).
    """
    progress = new_progress(cache_root())
    try:
        chroot = build_rootfs(variant, extra_packages, progress=progress)
        squashfs = squash(chroot, progress=progress)
    finally:
        if progress.measured:
            progress.close()
    kernel, initrd = kernel_and_initrd(chroot)
    return Published(chroot=chroot, squashfs=squashfs, kernel=kernel, initrd=initrd)


def nbd_append(export: str = "lab", server: str = SERVER_IP) -> str:
    """Kernel parameters for the image's own initramfs-tools initrd: squashfs root over NBD."""
    return (
        f"root=/dev/nbd0 nbdroot={server},{export},nbd0 rootfstype=squashfs "
        "ip=dhcp lab.overlay lab.netup"
    )


def nfs_append(path: Path, server: str = SERVER_IP) -> str:
    """Kernel parameters for the image's own initrd: the chroot directory over NFSv3 (ro)."""
    return f"root=/dev/nfs nfsroot={server}:{path},vers=3,tcp ip=dhcp lab.overlay lab.netup"
