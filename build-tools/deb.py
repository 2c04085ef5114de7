"""Build the client package: dist/ltsp-client_<version>_<arch>.deb, with dpkg-deb.

    build-tools/deb [--tree DIR] [--out DIR] [--revision N]
    build-tools/deb --tree dist/ltsp-arm64     (make deb-arm64: the arm64 package, built here)

Contents (docs/publisher.md, "The ltsp-client package"):

    /usr/lib/ltsp/ltsp, _internal/            the frozen client (build-tools/freeze)
    /usr/sbin/ltsp -> ../lib/ltsp/ltsp
    /usr/share/initramfs-tools/hooks/ltsp     puts the client and its modules into the
                                              image's own initrd (initramfs-hooks/)
    /usr/share/ltsp/initramfs-hooks/          the hook conf and scripts, for `ltsp initrd`

A dpkg trigger runs update-initramfs once after install or upgrade. The frozen
tree carries its own glibc, so the package depends on nothing; installed in an
image, ltsp.img needs no binary segment (`ltsp initrd` sees the package
recorded by `ltsp image`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PACKAGE = "ltsp-client"
sys.path.insert(0, str(ROOT))

from ltsp_client import __version__  # noqa: E402
from ltsp_client.errors import LtspError  # noqa: E402
from ltsp_client.server.initrd import check_binary_tree, elf_arch  # noqa: E402

DESCRIPTION = """\
LTSP client, rewritten in Python (frozen, no Python needed)
 Installed in an LTSP image, it puts the LTSP client (the initramfs stage
 and pid 1) into the image's own initrd, so the ltsp.img every client loads
 carries only the configuration.
"""


def architecture(tree: Path) -> str:
    """The tree's own architecture (an arm64 tree is packaged on an amd64 machine too)."""
    arch = elf_arch(tree / "ltsp")
    if not arch:
        raise LtspError(f"{tree / 'ltsp'}: unknown ELF architecture")
    return arch


def copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, symlinks=True)
    for dirpath, dirs, files in os.walk(target):
        for name in dirs:
            os.chmod(os.path.join(dirpath, name), 0o755)
        for name in files:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                mode = os.stat(path).st_mode
                os.chmod(path, 0o755 if mode & 0o111 else 0o644)


def stage(root: Path, tree: Path, hooks: Path) -> None:
    lib = root / "usr/lib/ltsp"
    lib.parent.mkdir(parents=True)
    copy_tree(tree, lib)
    (root / "usr/sbin").mkdir(parents=True)
    (root / "usr/sbin/ltsp").symlink_to("../lib/ltsp/ltsp")
    hook_dir = root / "usr/share/initramfs-tools/hooks"
    hook_dir.mkdir(parents=True)
    shutil.copyfile(hooks / "initramfs-tools/hooks/ltsp", hook_dir / "ltsp")
    (hook_dir / "ltsp").chmod(0o755)
    copy_tree(hooks, root / "usr/share/ltsp/initramfs-hooks")
    docs = root / f"usr/share/doc/{PACKAGE}"
    docs.mkdir(parents=True)
    (docs / "copyright").write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        f"Upstream-Name: {PACKAGE}\n\nFiles: *\nLicense: GPL-3+\n"
    )


def installed_size_kib(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                total += os.stat(path).st_size
    return (total + 1023) // 1024


def control(version: str, arch: str, size: int) -> str:
    return (
        f"Package: {PACKAGE}\n"
        f"Version: {version}\n"
        f"Architecture: {arch}\n"
        "Maintainer: LTSP-in-Python developers <ltsp@localhost>\n"
        f"Installed-Size: {size}\n"
        "Recommends: initramfs-tools\n"
        "Conflicts: ltsp\n"
        "Section: admin\n"
        "Priority: optional\n"
        f"Description: {DESCRIPTION}"
    )


def build(tree: Path, out: Path, hooks: Path, revision: str = "1") -> Path:
    check_binary_tree(tree)
    version = f"{__version__}-{revision}"
    arch = architecture(tree)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{PACKAGE}_{version}_{arch}.deb"
    with tempfile.TemporaryDirectory(prefix="ltsp-deb-") as tmp:
        root = Path(tmp) / "root"
        root.mkdir(mode=0o755)
        stage(root, tree, hooks)
        debian = root / "DEBIAN"
        debian.mkdir(mode=0o755)
        (debian / "control").write_text(control(version, arch, installed_size_kib(root)))
        (debian / "triggers").write_text("activate-noawait update-initramfs\n")
        partial = out / f".{target.name}.partial"
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(root), str(partial)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        os.replace(partial, target)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description="Build the ltsp-client Debian package.")
    parser.add_argument("--tree", type=Path, default=ROOT / "dist/ltsp", help="frozen tree")
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output directory")
    parser.add_argument("--hooks", type=Path, default=ROOT / "initramfs-hooks")
    parser.add_argument("--revision", default="1", help="Debian revision (default 1)")
    opts = parser.parse_args()
    if not (opts.tree / "ltsp").is_file():
        print(f"no frozen tree in {opts.tree}: run build-tools/freeze first", file=sys.stderr)
        return 1
    try:
        print(build(opts.tree.resolve(), opts.out, opts.hooks, opts.revision))
    except LtspError as exc:
        print(f"build-tools/deb: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
