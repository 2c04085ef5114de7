"""Build the frozen `ltsp` onedir tree: PyInstaller, then bundle glibc + libz.

The tree is meant for the fixed path /usr/lib/ltsp (the initramfs and the
final root): the bootloader's PT_INTERP and RUNPATH point there, absolutely,
because `$ORIGIN` needs /proc and pid 1 runs before /proc is mounted.
A build is skipped when nothing that goes into it changed (see `inputs_digest`).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SPEC = HERE / "ltsp.spec"
INSTALL_DIR = "/usr/lib/ltsp"
# glibc pieces the bootloader and libpython link, and libz (bootloader); the
# initramfs may have none of them (Debian 12's lacks libz, libdl, libpthread)
GLIBC_LIBS = (
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "libpthread.so.0",
    "librt.so.1",
    "libutil.so.1",
    "libz.so.1",
)
DEPENDENCIES = ("pyinstaller", "pyroute2", "configobj", "dbus-next")


def log(message: str) -> None:
    print(f"freeze: {message}", file=sys.stderr, flush=True)


def run(*argv: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        sys.exit(f"freeze: {' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout.strip()


def inputs_digest(install_dir: str) -> str:
    """Everything that changes the output: sources, build recipe, tool and library versions."""
    digest = hashlib.sha256()
    files = sorted((ROOT / "ltsp_client").rglob("*.py"))
    files += [SPEC, HERE / "rthook_no_ssl.py", Path(__file__).resolve()]
    files += [HERE / "rthook_startup_code.py", HERE / "startup_code.py"]
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    digest.update(sys.version.encode() + install_dir.encode())
    for name in DEPENDENCIES:
        try:
            digest.update(f"{name}={importlib.metadata.version(name)}".encode())
        except importlib.metadata.PackageNotFoundError:
            digest.update(f"{name}=missing".encode())
    libdir = system_libdir()
    for lib in GLIBC_LIBS:
        stat = (libdir / lib).stat()
        digest.update(f"{lib}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def system_libdir() -> Path:
    """Where this host's libc lives (e.g. /usr/lib/x86_64-linux-gnu): the one we run on."""
    for line in Path("/proc/self/maps").read_text().splitlines():
        path = line.split()[-1]
        if path.startswith("/") and Path(path).name.startswith("libc.so"):
            return Path(os.path.realpath(path)).parent
    sys.exit("freeze: cannot find this host's libc.so.6")


def bundle_glibc(tree: Path, install_dir: str) -> None:
    """Copy glibc + libz into _internal and point the bootloader at them, absolutely."""
    internal = tree / "_internal"
    exe = tree / "ltsp"
    interp = Path(os.path.realpath(run("patchelf", "--print-interpreter", str(exe))))
    libdir = system_libdir()
    for lib in GLIBC_LIBS:
        target = internal / lib
        if not target.exists():
            shutil.copy2(libdir / lib, target)
    shutil.copy2(interp, internal / interp.name)
    new_interp = f"{install_dir}/_internal/{interp.name}"
    run(
        "patchelf",
        "--set-interpreter",
        new_interp,
        "--set-rpath",
        f"{install_dir}/_internal",
        str(exe),
    )
    got = (
        run("patchelf", "--print-interpreter", str(exe)),
        run("patchelf", "--print-rpath", str(exe)),
    )
    if got != (new_interp, f"{install_dir}/_internal"):
        sys.exit(f"freeze: patchelf did not take: {got}")


def build(out: Path, install_dir: str) -> None:
    work = ROOT / "build" / f"freeze-{platform.machine()}"
    work.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".freeze-", dir=out.parent))
    try:
        run(
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--log-level",
            "WARN",
            "--distpath",
            str(staging),
            "--workpath",
            str(work),
            str(SPEC),
            # the spec's collect_submodules("ltsp_client") imports it in a subprocess: from
            # this checkout, whatever the caller's cwd, not from an installed copy (the
            # arm64 chroot has none; without it the binary lacks every applet)
            # modules stored, not deflated: inflating them was 8-9% of every start's
            # instructions (callgrind), paid under emulation too; the .deb and the
            # squashfs image compress the tree anyway (docs/benchmarks.md)
            env={**os.environ, "PYTHONPATH": str(ROOT), "PYINSTALLER_ZLIB_COMPRESSION_LEVEL": "0"},
        )
        tree = staging / "ltsp"
        bundle_glibc(tree, install_dir)
        old = out.with_name(out.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if out.exists():
            out.rename(old)
        tree.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def native_arch() -> str:
    return run("dpkg", "--print-architecture")


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="build-tools/freeze",
        description=f"Build the frozen ltsp onedir tree (to be installed at {INSTALL_DIR}).",
    )
    parser.add_argument(
        "--out", type=Path, help="output tree (default: dist/ltsp, dist/ltsp-ARCH for --arch)"
    )
    parser.add_argument(
        "--arch",
        help="Debian architecture to build for (default: this machine's); arm64 is built "
        "in a cached arm64 chroot under qemu-user (build-tools/freeze_foreign.py)",
    )
    parser.add_argument(
        "--install-dir",
        default=INSTALL_DIR,
        help=f"absolute path the tree runs from (default {INSTALL_DIR})",
    )
    parser.add_argument(
        "--force", action="store_true", help="rebuild even if the inputs did not change"
    )
    args = parser.parse_args()
    native = native_arch()
    if args.arch and args.arch != native:
        from freeze_foreign import freeze as freeze_foreign

        out = (args.out or ROOT / "dist" / f"ltsp-{args.arch}").resolve()
        return freeze_foreign(args.arch, out, force=args.force)
    out = (args.out or ROOT / "dist" / "ltsp").resolve()
    if not args.install_dir.startswith("/"):
        parser.error("--install-dir must be absolute")
    for tool in ("patchelf",):
        if shutil.which(tool) is None:
            sys.exit(
                f"freeze: {tool} is missing: apt-get install {tool} (scripts/deps/apt-freeze.txt)"
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    # one build at a time (parallel test runs share dist/ and build/freeze)
    with out.with_name(out.name + ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return freeze(out, args.install_dir, force=args.force)


def freeze(out: Path, install_dir: str, *, force: bool) -> int:
    stamp = out.with_name(out.name + ".stamp")
    digest = inputs_digest(install_dir)
    if (
        not force
        and (out / "ltsp").exists()
        and stamp.exists()
        and stamp.read_text().strip() == digest
    ):
        log(f"{out} is up to date")
        print(out)
        return 0
    started = time.monotonic()
    stamp.unlink(missing_ok=True)
    build(out, install_dir)
    stamp.write_text(digest + "\n")
    log(f"built {out} in {time.monotonic() - started:.1f}s")
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
