"""build-tools/deb: the ltsp-client package, built with the real dpkg-deb and inspected."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from test_initrd import fake_binary_tree

ROOT = Path(__file__).resolve().parents[2]


def build(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "build-tools/deb.py"), "--out", str(tmp_path / "out"), *extra],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_package_holds_the_client_the_hook_and_a_trigger(tmp_path: Path) -> None:
    tree = fake_binary_tree(tmp_path)
    result = build(tmp_path, "--tree", str(tree))
    assert result.returncode == 0, result.stderr
    deb = Path(result.stdout.strip())
    arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert deb.name.startswith("ltsp-client_") and deb.name.endswith(f"_{arch}.deb")
    assert not [p for p in deb.parent.iterdir() if p.name.startswith(".")]

    def field(name: str) -> str:
        return subprocess.run(
            ["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=True
        ).stdout.strip()

    assert field("Package") == "ltsp-client" and field("Architecture") == arch
    assert field("Depends") == ""  # the frozen tree brings its own libraries
    listing = subprocess.run(
        ["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    assert all(" root/root " in line for line in listing.splitlines())
    info = subprocess.run(
        ["dpkg-deb", "-I", str(deb), "triggers"], capture_output=True, text=True, check=True
    ).stdout
    assert info.strip() == "activate-noawait update-initramfs"
    unpacked = tmp_path / "x"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
    assert (unpacked / "usr/lib/ltsp/ltsp").read_bytes() == (tree / "ltsp").read_bytes()
    assert os.access(unpacked / "usr/lib/ltsp/ltsp", os.X_OK)
    assert os.readlink(unpacked / "usr/lib/ltsp/_internal/libz.so") == "libpython.so"
    assert os.readlink(unpacked / "usr/sbin/ltsp") == "../lib/ltsp/ltsp"
    hook = unpacked / "usr/share/initramfs-tools/hooks/ltsp"
    assert hook.read_bytes() == (ROOT / "initramfs-hooks/initramfs-tools/hooks/ltsp").read_bytes()
    assert hook.stat().st_mode & 0o777 == 0o755
    assert (unpacked / "usr/share/ltsp/initramfs-hooks/initramfs-tools/ltsp.conf").is_file()
    installed = int(field("Installed-Size"))
    assert installed >= (tree / "_internal/libpython.so").stat().st_size // 1024


def test_a_tree_not_built_for_usr_lib_ltsp_is_refused(tmp_path: Path) -> None:
    tree = fake_binary_tree(tmp_path, interp="/lib64/ld-linux-x86-64.so.2")
    result = build(tmp_path, "--tree", str(tree))
    assert result.returncode != 0 and "not one under /usr/lib/ltsp" in result.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_missing_tree_says_how_to_build_it(tmp_path: Path) -> None:
    result = build(tmp_path, "--tree", str(tmp_path / "nothing"))
    assert result.returncode == 1 and "build-tools/freeze" in result.stderr


def test_the_architecture_is_the_trees_own_not_this_machines(tmp_path: Path) -> None:
    """An arm64 tree (build-tools/freeze --arch arm64) is packaged here as _arm64.deb."""
    tree = fake_binary_tree(tmp_path, "/usr/lib/ltsp/_internal/ld-linux-aarch64.so.1")
    with (tree / "ltsp").open("r+b") as elf:
        elf.seek(18)  # e_machine
        elf.write((183).to_bytes(2, "little"))  # EM_AARCH64
    result = build(tmp_path, "--tree", str(tree))
    assert result.returncode == 0, result.stderr
    deb = Path(result.stdout.strip())
    assert deb.name.endswith("_arm64.deb")
    arch = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Architecture"], capture_output=True, text=True, check=True
    )
    assert arch.stdout.strip() == "arm64"
