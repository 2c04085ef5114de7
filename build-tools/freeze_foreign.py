"""Freeze `ltsp` for another architecture (arm64) on this x86-64 machine.

    build-tools/freeze --arch arm64 [--out DIR] [--force]     (make freeze-arm64)

A Debian 12 chroot of that architecture (debootstrap through binfmt_misc and
qemu-user-static) holds python3, patchelf and a venv with the same PyInstaller,
pyroute2, configobj and dbus-next versions as this machine; freeze.py then runs
inside it, under emulation, with the checkout bind-mounted at /src. So the
result has the properties of the native build (its own glibc under
/usr/lib/ltsp/_internal, absolute PT_INTERP and RUNPATH, optimize=2, the ssl
stand-in): they come from the same spec and the same code.

The chroot is cached in /var/cache/ltsp-build (env LTSP_BUILD_CACHE), in a
directory named by a hash of its recipe (suite, architecture, mirror,
packages, pinned pip versions), built in a temporary directory and renamed
when complete; a lock serialises builders. Cold, it takes a few minutes
(docs/benchmarks.md); a warm freeze is skipped as usual when the inputs did
not change.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SUITE = "bookworm"
RECIPE_VERSION = 1  # bump when the steps below change
# Debian architecture -> (qemu-user binfmt name, `uname -m`)
ARCHES = {"arm64": ("qemu-aarch64", "aarch64")}
# busybox-static: a shell for the pid-1 test's root, which has no libc but ours
PACKAGES = (
    "python3",
    "python3-venv",
    "libpython3.11",  # PyInstaller bundles the shared libpython
    "binutils",
    "patchelf",
    "ca-certificates",
    "busybox-static",
)
PIP_PACKAGES = ("pyinstaller", "pyinstaller-hooks-contrib", "pyroute2", "configobj", "dbus-next")
VENV = "/opt/ltsp-freeze/venv"
SRC = "/src"
DEFAULT_CACHE = Path("/var/cache/ltsp-build")
DEBOOTSTRAPPED = ".ltsp-debootstrapped"
HOST_CA = "/etc/ssl/certs/ca-certificates.crt"
CHROOT_CA = "/etc/ssl/certs/ltsp-build-host-ca.crt"


def log(message: str) -> None:
    print(f"freeze: {message}", file=sys.stderr, flush=True)


def fail(message: str) -> None:
    sys.exit(f"freeze: {message}")


def run(argv: list[str], *, timeout: float, what: str) -> str:
    proc = subprocess.run(
        argv, capture_output=True, text=True, errors="replace", timeout=timeout, check=False
    )
    if proc.returncode != 0:
        fail(f"{what} failed ({proc.returncode}): {' '.join(argv)}\n{proc.stderr[-3000:]}")
    return proc.stdout


def apt_mirror() -> str:
    """The Debian mirror this machine's apt uses (deb822 URIs or a one-line deb entry)."""
    for path in [*sorted(Path("/etc/apt/sources.list.d").glob("*")), Path("/etc/apt/sources.list")]:
        with contextlib.suppress(OSError):
            text = path.read_text()
            for uri in re.findall(r"^\s*(?:URIs:|deb\s+(?:\[[^]]*\]\s+)?)\s*(\S+)", text, re.M):
                if re.search(r"/debian/?$", uri):
                    return str(uri).rstrip("/")
    return "http://deb.debian.org/debian"


def pip_pins() -> list[str]:
    """This machine's versions, so both builds freeze the same code."""
    pins = []
    for name in PIP_PACKAGES:
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            fail(f"{name} is not installed here: pip install '.[freeze]' (pyproject.toml)")
    return pins


def recipe(arch: str) -> dict[str, object]:
    return {
        "version": RECIPE_VERSION,
        "suite": SUITE,
        "arch": arch,
        "mirror": apt_mirror(),
        "packages": sorted(PACKAGES),
        "pip": pip_pins(),
    }


def cache_dir() -> Path:
    return Path(os.environ.get("LTSP_BUILD_CACHE") or DEFAULT_CACHE)


def ensure_binfmt(arch: str) -> None:
    """binfmt_misc mounted and qemu-user-static registered for `arch` (with the F flag)."""
    binfmt, _machine = ARCHES[arch]
    if shutil.which(f"{binfmt}-static") is None:
        fail(f"{binfmt}-static is missing: apt-get install qemu-user-static binfmt-support")
    top = Path("/proc/sys/fs/binfmt_misc")
    if not (top / "status").exists():
        run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(top)], timeout=30, what="binfmt")
    entry = top / binfmt
    if not entry.exists() and shutil.which("update-binfmts"):
        run(["update-binfmts", "--enable", binfmt], timeout=30, what="update-binfmts")
    text = entry.read_text() if entry.exists() else ""
    if not text.startswith("enabled") or not re.search(r"^flags:.*F", text, re.M):
        fail(
            f"binfmt_misc has no enabled {binfmt} entry with the F flag "
            "(apt-get install qemu-user-static binfmt-support)"
        )


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def build_chroot(arch: str) -> Path:
    """The cached build chroot for `arch`, made first if needed (minutes under emulation)."""
    ensure_binfmt(arch)
    data = recipe(arch)
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]
    name = f"freeze-{SUITE}-{arch}-{digest}"
    cache = cache_dir()
    final = cache / name
    stamp = ".ltsp-recipe.json"
    with locked(cache / f".{name}.lock"):
        if (final / stamp).exists():
            return final
        tmp = cache / f"{name}.tmp"
        started = time.monotonic()
        if not (tmp / DEBOOTSTRAPPED).exists():  # else a failed pip step is retried
            shutil.rmtree(tmp, ignore_errors=True)
            log(f"debootstrap {SUITE} {arch} into {tmp} (cold build: minutes)")
            argv = ["debootstrap", f"--arch={arch}", "--variant=minbase"]
            argv += [f"--include={','.join(PACKAGES)}", SUITE, str(tmp), str(data["mirror"])]
            run(argv, timeout=1800, what="debootstrap")
            (tmp / DEBOOTSTRAPPED).touch()
            log(f"debootstrap done in {time.monotonic() - started:.0f}s")
        shutil.copy2("/etc/resolv.conf", tmp / "etc/resolv.conf")
        # this machine's CA bundle: it may hold a local proxy's CA that Debian's lacks
        shutil.copy2(HOST_CA, tmp / CHROOT_CA.lstrip("/"))
        in_chroot(tmp, ["python3", "-m", "venv", VENV], timeout=600)
        pins = pip_pins()
        log(f"pip install {' '.join(pins)}")
        cert = [f"{var}={CHROOT_CA}" for var in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")]
        pip = [f"{VENV}/bin/pip", "install", "--no-cache-dir", "--disable-pip-version-check"]
        in_chroot(tmp, ["env", *cert, *pip, *pins], timeout=1200)
        (tmp / DEBOOTSTRAPPED).unlink()
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(tmp / junk, ignore_errors=True)
        (tmp / stamp).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        log(f"build chroot {final} ready in {time.monotonic() - started:.0f}s")
    return final


def in_chroot(root: Path, argv: list[str], *, timeout: float, src: Path | None = None) -> str:
    """Run argv chrooted into root with /proc, /dev (and the checkout at /src) mounted in a
    private mount namespace, so nothing stays mounted whatever happens."""
    mounts = f"mount -t proc proc {root}/proc && mount --rbind /dev {root}/dev"
    if src is not None:
        (root / SRC.lstrip("/")).mkdir(exist_ok=True)
        mounts += f" && mount --bind {src} {root}{SRC}"
    script = f'{mounts} && exec chroot {root} "$@"'
    return run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-ec", script, "sh", *argv],
        timeout=timeout,
        what=f"{argv[0]} in the {root.name} chroot",
    )


def freeze(arch: str, out: Path, *, force: bool) -> int:
    if arch not in ARCHES:
        fail(f"--arch {arch}: not supported (one of: {', '.join(ARCHES)})")
    try:
        out.relative_to(ROOT)
    except ValueError:
        fail(
            f"--out {out}: must be inside the checkout {ROOT} (it is bind-mounted into the chroot)"
        )
    chroot = build_chroot(arch)
    argv = [f"{VENV}/bin/python3", f"{SRC}/build-tools/freeze.py", "--out"]
    argv.append(f"{SRC}/{out.relative_to(ROOT)}")
    if force:
        argv.append("--force")
    started = time.monotonic()
    in_chroot(chroot, argv, timeout=1800, src=ROOT)
    log(f"{arch}: {out} ready ({time.monotonic() - started:.0f}s under emulation)")
    print(out)
    return 0
