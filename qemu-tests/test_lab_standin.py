"""lab/standin.py without a VM: the stand-in initramfs built from a fake image root that
holds a real dynamic executable (this host's /bin/ls as busybox, its real libraries) and
xz-compressed modules; read back with GNU cpio."""

from __future__ import annotations

import lzma
import subprocess
from pathlib import Path

import pytest
from lab import LabError, standin

from ltsp_client.server.cpio import Archive

HOST_PROGRAM = Path("/bin/ls")  # dynamic on Debian; stands in for busybox's ELF headers


def image_root(tmp_path: Path, *, with_nfs: bool = True) -> Path:
    root = tmp_path / "root"
    moddir = root / "usr/lib/modules/6.1.0-99-arm64"
    deps = {
        "kernel/drivers/net/virtio_net.ko.xz": "kernel/net/core/failover.ko.xz",
        "kernel/net/core/failover.ko.xz": "",
        "kernel/fs/nfs/nfsv3.ko.xz": "kernel/fs/nfs/nfs.ko.xz kernel/net/sunrpc/sunrpc.ko.xz",
        "kernel/fs/nfs/nfs.ko.xz": "kernel/net/sunrpc/sunrpc.ko.xz",
        "kernel/net/sunrpc/sunrpc.ko.xz": "",
    }
    if not with_nfs:
        deps = {k: v for k, v in deps.items() if "nfs" not in k}
    for rel in deps:
        (moddir / rel).parent.mkdir(parents=True, exist_ok=True)
        (moddir / rel).write_bytes(lzma.compress(f"module {rel}".encode()))
    (moddir / "modules.dep").write_text("".join(f"{k}: {v}\n" for k, v in deps.items()))
    (moddir / "modules.builtin").write_text("kernel/drivers/virtio/virtio_pci.ko\n")
    host = Archive()  # the program and its libraries as this host has them
    standin.add_program(host, Path("/"), str(HOST_PROGRAM), "bin/busybox")
    for entry in host.entries():
        if entry.source is not None:
            copy = root / entry.name
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(entry.source.read_bytes())
    return root


def unpack(image: Path, into: Path) -> str:
    into.mkdir()
    return subprocess.run(
        "zcat | cpio -idv --quiet",
        shell=True,
        input=image.read_bytes(),
        cwd=into,
        capture_output=True,
        check=True,
    ).stderr.decode()


def test_busybox_its_libraries_init_and_the_modules_in_load_order(tmp_path: Path) -> None:
    out = standin.build(image_root(tmp_path), tmp_path / "standin.img")
    x = tmp_path / "x"
    listing = unpack(out, x)
    assert (x / "init").read_bytes() == (standin.HERE / "init.sh").read_bytes()
    assert (x / "bin/busybox").read_bytes() == HOST_PROGRAM.read_bytes()
    assert (x / "bin/sh").readlink() == Path("busybox")
    interp, needed = standin.elf_needs(HOST_PROGRAM)
    assert (x / interp.lstrip("/")).is_file()
    for name in needed:  # the libraries, where the image has them (multiarch dir)
        assert list(x.glob(f"**/{name}")), (name, listing)
    assert "dev/console" in listing
    order = (x / "modules.load").read_text().split()
    assert order.index("failover.ko") < order.index("virtio_net.ko")
    assert order.index("sunrpc.ko") < order.index("nfs.ko") < order.index("nfsv3.ko")
    # decompressed: busybox insmod may not read .xz
    assert (x / "lib/modules/nfs.ko").read_bytes() == b"module kernel/fs/nfs/nfs.ko.xz"


def test_a_kernel_without_nfs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="lacks nfsv3"):
        standin.build(image_root(tmp_path, with_nfs=False), tmp_path / "standin.img")


def test_elf_needs_of_a_real_program_and_of_a_script() -> None:
    interp, needed = standin.elf_needs(HOST_PROGRAM)
    assert interp.startswith("/lib") and "libc.so.6" in needed
    with pytest.raises(LabError, match="not an ELF"):
        standin.elf_needs(standin.HERE / "init.sh")
