"""`ltsp info` on a server: images with their versions, kernels, ltsp.img's age, problems."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from ltsp_client import cli
from ltsp_client.server import inventory, publish


def publish_bytes(images: Path, name: str, data: bytes) -> publish.Published:
    def write(partial: Path) -> dict[str, object]:
        partial.write_bytes(data)
        return {"source": "test"}

    return publish.publish_version(images, name, write)


def age(path: Path, seconds_ago: float) -> None:
    when = time.time() - seconds_ago
    os.utime(path, (when, when))


@pytest.fixture
def server(tmp_path: Path) -> dict[str, Path]:
    base, tftp, etc, root = (tmp_path / d for d in ("base", "tftp", "etc", "root"))
    (base / "buster" / "proc").mkdir(parents=True)
    (base / "vm1.img").write_bytes(b"\0" * 512)
    images = base / "images"
    first = publish_bytes(images, "x86_64", b"hsqs v1")
    time.sleep(0.01)
    publish_bytes(images, "x86_64", b"hsqs v2")
    assert first.version.path.is_file()
    kdir = tftp / "ltsp" / "x86_64"
    kdir.mkdir(parents=True)
    (kdir / "vmlinuz").write_bytes(b"k" * 2048)
    (kdir / "initrd.img").write_bytes(b"i" * 4096)
    etc.mkdir()
    (etc / "ltsp.conf").write_text("[server]\n")
    (root / "etc").mkdir(parents=True)
    for name in ("passwd", "group"):
        (root / "etc" / name).write_text("root:x:0:0::/root:/bin/sh\n")
        age(root / "etc" / name, 3600)
    age(etc / "ltsp.conf", 3600)
    dirs = ["-b", str(base), "-t", str(tftp)]
    assert cli.main([*dirs, "ipxe", "--etc", str(etc)]) == 0
    (tftp / "ltsp" / "ltsp.img").write_bytes(b"070701")
    return {"base": base, "tftp": tftp, "etc": etc, "root": root}


def collect(s: dict[str, Path]) -> inventory.Inventory:
    return inventory.collect(base_dir=s["base"], tftp_dir=s["tftp"], etc=s["etc"], root=s["root"])


def test_images_versions_and_kernels(server: dict[str, Path]) -> None:
    inv = collect(server)
    (image,) = inv.images
    assert image.name == "x86_64" and len(image.versions) == 2
    assert image.serving == image.versions[-1]  # the newest serves
    assert image.kernel is not None and image.kernel.size == 2048
    assert image.size == len(b"hsqs v2")
    assert inv.chroots == ["buster"] and inv.vms == ["vm1"]
    # only the chroot lacks a kernel; ltsp.img is newer than what it is built from
    assert inv.problems == [
        f"chroot buster: no kernel in {server['tftp'] / 'ltsp' / 'buster'} (`ltsp kernel`)",
        "no dnsmasq configuration (`ltsp dnsmasq`), unless DHCP is elsewhere",
    ]


def test_stale_ltsp_img_and_missing_pieces(server: dict[str, Path]) -> None:
    (server["etc"] / "ltsp.conf").write_text("[server]\nMENU_TIMEOUT=0\n")
    age(server["tftp"] / "ltsp" / "ltsp.img", 7200)
    (server["tftp"] / "ltsp" / "undionly.kpxe").unlink()
    (server["tftp"] / "ltsp" / "x86_64" / "initrd.img").unlink()
    publish_bytes(server["base"] / "images", "focal", b"hsqs")
    text = "\n".join(collect(server).problems)
    assert "ltsp.img is stale: " + str(server["etc"] / "ltsp.conf") in text
    assert "changed 2 h later" in text
    assert "no iPXE binaries undionly.kpxe" in text
    assert "x86_64: no vmlinuz/initrd.img" in text
    assert "focal is not in the iPXE menu" in text
    assert "focal: no vmlinuz/initrd.img" in text


def test_dangling_link_is_a_problem(server: dict[str, Path]) -> None:
    images = server["base"] / "images"
    (images / "gone.img").symlink_to(".versions/gone/20260101-000000.img")
    # image_names() lists existing files only: the dangling link is not an image
    assert [i.name for i in collect(server).images] == ["x86_64"]


def test_cli_text_and_json(server: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    dirs = ["-b", str(server["base"]), "-t", str(server["tftp"])]
    opts = ["--etc", str(server["etc"]), "--root", str(server["root"])]
    assert cli.main([*dirs, "info", *opts]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ltsp ")
    assert "Images:\n  x86_64" in out and "versions: " in out and "]; kernel 0 MiB" in out
    assert "Chroots: buster" in out and "Problems:\n  - chroot buster" in out
    assert cli.main([*dirs, "info", "--json", *opts]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["server"]["images"][0]["name"] == "x86_64"
    assert data["server"]["files"]["ltsp.img"]["size"] == 6


def test_role_is_read_under_root(
    server: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The client marker counts under --root only: a host's own /run never changes the report."""
    opts = ["--etc", str(server["etc"]), "--root", str(server["root"])]
    (server["root"] / "run" / "ltsp" / "client").mkdir(parents=True)
    assert cli.main(["info", *opts]) == 0
    out = capsys.readouterr().out
    assert "role client" in out and "Images:" not in out
