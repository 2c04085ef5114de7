"""The newc writer, checked with GNU cpio (the real tool) and with a kernel-like reader."""

from __future__ import annotations

import io
import os
import stat
import subprocess
from pathlib import Path

import pytest
from initramfs_reader import read_image

from ltsp_client.server.cpio import Archive, write_segments


def sample_tree(root: Path) -> Path:
    tree = root / "src"
    (tree / "bin").mkdir(parents=True)
    (tree / "etc" / "deep" / "er").mkdir(parents=True)
    (tree / "bin" / "tool").write_bytes(b"#!/bin/sh\necho hi\n")
    (tree / "bin" / "tool").chmod(0o755)
    (tree / "etc" / "empty").write_bytes(b"")
    (tree / "etc" / "odd").write_bytes(b"abcde")  # not a multiple of 4
    (tree / "etc" / "deep" / "er" / "big").write_bytes(os.urandom(3 * 2**20 + 1))
    (tree / "etc" / "secret").write_bytes(b"x")
    (tree / "etc" / "secret").chmod(0o600)
    (tree / "etc" / "link").symlink_to("deep/er/big")
    return tree


def build(tree: Path) -> Archive:
    archive = Archive()
    archive.add_tree(tree, "usr/lib/x")
    archive.add_file("conf/conf.d/00-x.conf", b"A=1\n")
    return archive


def image_bytes(segments: list[tuple[Archive, str]]) -> bytes:
    out = io.BytesIO()
    write_segments(out, segments)
    return out.getvalue()


def test_gnu_cpio_lists_and_extracts_what_was_written(tmp_path: Path) -> None:
    tree = sample_tree(tmp_path)
    img = tmp_path / "a.cpio"
    img.write_bytes(image_bytes([(build(tree), "none")]))
    listing = subprocess.run(
        ["cpio", "-t", "--quiet"], stdin=img.open("rb"), capture_output=True, text=True, check=True
    ).stdout.split()
    assert listing[:3] == ["conf", "conf/conf.d", "conf/conf.d/00-x.conf"]
    assert listing.index("usr/lib/x/bin") < listing.index("usr/lib/x/bin/tool")
    assert listing == sorted(listing, key=lambda n: n.split("/"))
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(
        ["cpio", "-i", "-d", "--quiet", "--no-absolute-filenames"],
        stdin=img.open("rb"),
        cwd=out,
        check=True,
    )
    got = out / "usr/lib/x"
    for rel in ("bin/tool", "etc/empty", "etc/odd", "etc/deep/er/big", "etc/secret"):
        assert (got / rel).read_bytes() == (tree / rel).read_bytes(), rel
        assert stat.S_IMODE((got / rel).stat().st_mode) == stat.S_IMODE((tree / rel).stat().st_mode)
    assert os.readlink(got / "etc/link") == "deep/er/big"
    assert (out / "conf/conf.d/00-x.conf").read_text() == "A=1\n"


def test_gzip_segment_after_plain_one_reads_back(tmp_path: Path) -> None:
    tree = sample_tree(tmp_path)
    first = Archive()
    first.add_file("etc/ltsp/ltsp.conf", b"[clients]\n")
    data = image_bytes([(first, "none"), (build(tree), "gzip")])
    plain_only = image_bytes([(first, "none")])
    assert data.startswith(plain_only)
    rest = tmp_path / "rest.gz"
    rest.write_bytes(data[len(plain_only) :])
    listing = subprocess.run(
        f"gzip -dc {rest} | cpio -t --quiet", shell=True, capture_output=True, text=True, check=True
    ).stdout.split()
    assert "usr/lib/x/etc/deep/er/big" in listing
    segments = read_image(data)
    assert [s.compression for s in segments] == ["none", "gzip"]
    big = segments[1].by_name()["usr/lib/x/etc/deep/er/big"]
    assert big.data == (tree / "etc/deep/er/big").read_bytes()
    assert all(m.uid == 0 and m.gid == 0 and m.mtime == 0 for s in segments for m in s.members)


def test_same_input_gives_same_bytes_whatever_the_file_times(tmp_path: Path) -> None:
    tree = sample_tree(tmp_path)
    one = image_bytes([(build(tree), "none"), (build(tree), "gzip")])
    for path in tree.rglob("*"):
        os.utime(path, (12345, 12345), follow_symlinks=False)
    two = image_bytes([(build(tree), "none"), (build(tree), "gzip")])
    assert one == two


def test_parents_are_added_and_bad_names_refused() -> None:
    archive = Archive()
    archive.add_file("/a/b/c", b"x")
    archive.add_dir("a", 0o700)
    assert archive.names() == ["a", "a/b", "a/b/c"]
    assert stat.S_IMODE(archive.entries()[0].mode) == 0o700
    with pytest.raises(ValueError):
        archive.add_file("a/../../etc/passwd", b"")
    with pytest.raises(ValueError):
        archive.add_file("a/b/c/d", b"")  # c is a file
    with pytest.raises(ValueError):
        write_segments(io.BytesIO(), [(archive, "lz4")])


def test_fifo_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(ValueError, match="cannot archive"):
        Archive().add_path(tmp_path / "fifo", "x")
