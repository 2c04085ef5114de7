"""The frozen `ltsp` binary (build-tools/freeze), run from its fixed path /usr/lib/ltsp.

One build per session (skipped by freeze itself when the sources did not
change). The binary runs through build-tools/with-ltsp-at, which shows the
tree at /usr/lib/ltsp in a private mount namespace, or in a chroot that holds
nothing but the tree (no libc, no /proc, no /dev).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import ltsp_client

ROOT = Path(__file__).resolve().parents[2]
FREEZE = ROOT / "build-tools" / "freeze"
WITH_LTSP_AT = ROOT / "build-tools" / "with-ltsp-at"
LIBS = ("ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libz.so.1", "libpthread.so.0")

pytestmark = [pytest.mark.freeze, pytest.mark.root]


@pytest.fixture(scope="session")
def tree() -> Path:
    if os.geteuid() != 0:
        pytest.fail("the frozen binary tests need root (mount namespace, chroot)")
    if shutil.which("patchelf") is None:
        pytest.fail("patchelf is missing: apt-get install patchelf (scripts/deps/apt-freeze.txt)")
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.fail("PyInstaller is missing: pip install '.[freeze]' (pyproject.toml)")
    proc = subprocess.run([str(FREEZE)], capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1])


def at_fixed_path(
    tree: Path, *argv: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run argv (from the checkout) with `tree` shown at /usr/lib/ltsp."""
    return subprocess.run(
        [str(WITH_LTSP_AT), str(tree), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
        check=False,
    )


def ltsp(
    tree: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return at_fixed_path(tree, "/usr/lib/ltsp/ltsp", *args, env=env)


def test_tree_layout_and_absolute_loader_paths(tree: Path) -> None:
    internal = tree / "_internal"
    assert sorted(p.name for p in tree.iterdir()) == ["_internal", "ltsp"]
    for lib in LIBS:
        assert (internal / lib).is_file(), lib
    interp, rpath = (
        subprocess.run(
            ["patchelf", flag, str(tree / "ltsp")], capture_output=True, text=True, check=True
        ).stdout.strip()
        for flag in ("--print-interpreter", "--print-rpath")
    )
    assert interp == "/usr/lib/ltsp/_internal/ld-linux-x86-64.so.2"
    assert rpath == "/usr/lib/ltsp/_internal"
    assert not list(internal.rglob("libssl*")) and not list(internal.rglob("libcrypto*"))


def test_version_help_and_lazily_imported_applets(tree: Path) -> None:
    version = ltsp(tree, "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout == f"ltsp {ltsp_client.__version__}\n"
    usage = ltsp(tree, "--help")
    assert usage.returncode == 0 and "initrd" in usage.stdout and "info" in usage.stdout
    info = ltsp(tree, "info", "--json")
    assert info.returncode == 0 and '"ltsp": "' in info.stdout
    initrd_help = ltsp(tree, "initrd", "--help")
    assert initrd_help.returncode == 0 and "--modules-from" in initrd_help.stdout
    if importlib.util.find_spec("ltsp_client.applets.config") is not None:
        config_help = ltsp(tree, "config", "--help")
        assert config_help.returncode == 0, config_help.stderr


def test_runs_in_a_root_without_libc_proc_or_dev(tree: Path, tmp_path: Path) -> None:
    shutil.copytree(tree, tmp_path / "usr/lib/ltsp", symlinks=True)
    assert not (tmp_path / "proc").exists() and not (tmp_path / "lib").exists()
    proc = subprocess.run(
        ["chroot", str(tmp_path), "/usr/lib/ltsp/ltsp", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ltsp ")


def test_real_init_gets_a_clean_environment(tree: Path, tmp_path: Path) -> None:
    """`ltsp init --root` execs ROOT/sbin/init through run.exec_clean, as pid 1 does."""
    (tmp_path / "sbin").mkdir()
    init = tmp_path / "sbin" / "init"
    init.write_text(f'#!/bin/sh\nenv > {tmp_path}/env.out\necho "$@" > {tmp_path}/args.out\n')
    init.chmod(0o755)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LD_LIBRARY_PATH": "/opt/admin"}
    proc = ltsp(tree, "init", "--root", str(tmp_path), "--", "splash", env=env)
    assert proc.returncode == 0, proc.stderr
    seen = dict(
        line.split("=", 1)
        for line in (tmp_path / "env.out").read_text().splitlines()
        if "=" in line
    )
    assert seen.get("LD_LIBRARY_PATH") == "/opt/admin"  # the admin's value, not _internal
    assert not [k for k in seen if k.startswith(("_PYI", "_MEI"))]
    assert (tmp_path / "args.out").read_text().strip() == "splash"
    # the built-in plugins are found (pkgutil) inside the frozen archive too
    assert "hostname=" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_frozen_initrd_builds_the_same_image_as_python(tree: Path, tmp_path: Path) -> None:
    hooks = tmp_path / "hooks"
    (hooks / "initramfs-tools").mkdir(parents=True)
    (hooks / "initramfs-tools" / "ltsp.conf").write_text("x=1\n")
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "ltsp.conf").write_text("[clients]\n")
    common = ["--hooks-dir", str(hooks), "--etc", str(etc), "--binary-tree", "/usr/lib/ltsp"]
    frozen = ltsp(tree, "initrd", *common, "--output", str(tmp_path / "frozen.img"))
    assert frozen.returncode == 0, frozen.stderr
    python_img = str(tmp_path / "python.img")
    plain = at_fixed_path(
        tree, "python3", "-m", "ltsp_client", "initrd", *common, "--output", python_img
    )
    assert plain.returncode == 0, plain.stderr
    assert (tmp_path / "frozen.img").read_bytes() == (tmp_path / "python.img").read_bytes()


def test_started_as_init_through_a_symlink_it_runs_the_init_applet(
    tree: Path, tmp_path: Path
) -> None:
    """/sbin/init -> /usr/lib/ltsp/ltsp at boot: the bootloader keeps argv[0] for cli.main."""
    (tmp_path / "init").symlink_to("/usr/lib/ltsp/ltsp")
    proc = at_fixed_path(tree, str(tmp_path / "init"))
    assert proc.returncode == 1
    assert "ltsp init: refusing to run: not pid 1" in proc.stderr


# the runtime hook in a plain interpreter: how many @dataclass methods does importing
# the login applet compile? (exec() of a str raises the "compile" audit event;
# namedtuple's one-line lambdas are left out: compiling them is cheap)
COUNT_COMPILES = """
import sys
compiled = []
sys.addaudithook(lambda event, args: event == "compile" and compiled.append(args[:2]))
if sys.argv[1:]:
    sys._MEIPASS = sys.argv[1]
    exec(compile(open(sys.argv[2]).read(), sys.argv[2], "exec"), {"__name__": "hook"})
import ltsp_client.login.pam
print(sum(1 for source, name in compiled if name == "<string>" and b"lambda" not in source[:6]))
"""


def test_dataclass_methods_come_precompiled(tree: Path) -> None:
    hook = ROOT / "build-tools" / "rthook_startup_code.py"

    def compiles(*hook_args: str) -> int:
        proc = subprocess.run(
            ["python3", "-c", COUNT_COMPILES, *hook_args],
            capture_output=True, text=True, cwd=ROOT, check=True,
        )  # fmt: skip
        return int(proc.stdout)

    assert compiles() > 30  # every @dataclass compiles its methods
    assert compiles(str(tree / "_internal"), str(hook)) == 0


# every recorded regex gives the pattern the compiler gives (Pattern == compares the
# flags and the compiled code)
SAME_REGEXES = """
import marshal, re, sys
table = marshal.load(open(sys.argv[1], "rb"))["re"]
sre = re._compiler._sre
differ = [key for key, args in table.items()
          if sre.compile(key[0], *marshal.loads(args)) != re._compiler.compile(*key)]
print(len(table), len(differ))
"""


def test_recorded_regexes_compile_as_the_compiler_does(tree: Path) -> None:
    table = tree / "_internal" / "startup_code.bin"
    proc = subprocess.run(
        ["python3", "-c", SAME_REGEXES, str(table)], capture_output=True, text=True, check=True
    )
    recorded, differ = map(int, proc.stdout.split())
    assert recorded > 50 and differ == 0
