"""lab/pikernel.py without a VM: the stand-in initramfs for a Pi kernel's NFS root, from a
fake image root (modules.dep, a .ko.xz module), read back with cpio."""

from __future__ import annotations

import lzma
import subprocess
from pathlib import Path

import pytest
from lab.pikernel import INIT, standin_initramfs


def image_root(tmp_path: Path, *, with_nfs: bool = True) -> Path:
    root = tmp_path / "root"
    moddir = root / "usr/lib/modules/6.1.0-99-arm64"
    kernel = moddir / "kernel"
    kernel.mkdir(parents=True)
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
    (root / "bin").mkdir()
    (root / "bin/busybox").write_bytes(b"\x7fELF busybox")
    return root


def test_the_initramfs_holds_busybox_init_and_the_modules_in_load_order(tmp_path: Path) -> None:
    out = standin_initramfs(image_root(tmp_path), tmp_path / "standin.cpio")
    unpacked = tmp_path / "x"
    unpacked.mkdir()
    listing = subprocess.run(
        ["cpio", "-idv", "--quiet"],
        input=out.read_bytes(),
        cwd=unpacked,
        capture_output=True,
        check=True,
    ).stderr.decode()
    assert (unpacked / "init").read_text() == INIT
    assert (unpacked / "bin/sh").readlink() == Path("busybox")
    assert "dev/console" in listing
    order = (unpacked / "modules.order").read_text().split()
    assert order.index("failover.ko") < order.index("virtio_net.ko")
    assert order.index("sunrpc.ko") < order.index("nfs.ko") < order.index("nfsv3.ko")
    # decompressed for busybox insmod
    assert (unpacked / "modules/nfs.ko").read_bytes() == b"module kernel/fs/nfs/nfs.ko.xz"


def test_a_kernel_without_nfs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="lacks nfsv3, nfs"):
        standin_initramfs(image_root(tmp_path, with_nfs=False), tmp_path / "standin.cpio")
