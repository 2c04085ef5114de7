"""Versioned publishing: atomic switch, readers of the old version, pruning, revert, failures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from ltsp_client.errors import LtspError
from ltsp_client.server import publish as pub


def writer(content: bytes, **meta: Any) -> Any:
    def write(path: Path) -> dict[str, Any]:
        path.write_bytes(content)
        return dict(meta)

    return write


def serving_bytes(images: Path, name: str = "x86_64") -> bytes:
    return (images / f"{name}.img").read_bytes()


def test_first_publish_makes_a_private_dir_a_relative_link_and_metadata(tmp_path: Path) -> None:
    images = tmp_path / "base" / "images"
    done = pub.publish_version(images, "x86_64", writer(b"one", source="/srv/ltsp/x86_64"))
    link = images / "x86_64.img"
    assert link.is_symlink() and not os.readlink(link).startswith("/")
    assert os.readlink(link) == f".versions/x86_64/{done.version.version}.img"
    assert serving_bytes(images) == b"one"
    assert images.stat().st_mode & 0o777 == 0o700
    assert done.version.meta()["source"] == "/srv/ltsp/x86_64"
    assert done.previous is None
    assert pub.image_names(images) == ["x86_64"]
    assert not list(pub.versions_dir(images, "x86_64").glob(".partial-*"))


def test_a_reader_of_the_old_version_keeps_reading_it_across_a_publish(tmp_path: Path) -> None:
    images = tmp_path / "images"
    pub.publish_version(images, "x86_64", writer(b"old" * 1000))
    # like nbd-server (an fd) or an NFS client (a handle of the inode): opened by the public name
    with (images / "x86_64.img").open("rb") as client:
        inode = os.fstat(client.fileno()).st_ino
        done = pub.publish_version(images, "x86_64", writer(b"new" * 1000))
        assert client.read() == b"old" * 1000
        # the old inode is still reachable by a name (NFS handles need that, not only an fd)
        assert done.previous is not None and done.previous.path.stat().st_ino == inode
    assert serving_bytes(images) == b"new" * 1000


def test_an_existing_plain_image_keeps_its_inode_when_it_becomes_a_version(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    (images / "x86_64.img").write_bytes(b"upstream")
    inode = (images / "x86_64.img").stat().st_ino
    with (images / "x86_64.img").open("rb") as client:
        done = pub.publish_version(images, "x86_64", writer(b"ours"))
        assert client.read() == b"upstream"
    assert done.previous is not None
    assert done.previous.path.stat().st_ino == inode
    assert serving_bytes(images) == b"ours"


def test_pruning_keeps_the_newest_and_never_the_serving_one(tmp_path: Path) -> None:
    images = tmp_path / "images"
    for n in range(5):
        pub.publish_version(images, "x86_64", writer(b"%d" % n), keep=3)
    assert [v.path.read_bytes() for v in pub.list_versions(images, "x86_64")] == [b"2", b"3", b"4"]
    pub.revert(images, "x86_64")
    pub.revert(images, "x86_64")
    assert serving_bytes(images) == b"2"
    pub.prune(images, "x86_64", 1)
    assert [v.path.read_bytes() for v in pub.list_versions(images, "x86_64")] == [b"2"]
    assert serving_bytes(images) == b"2"


def test_revert_goes_back_one_version_each_time_and_says_when_it_cannot(tmp_path: Path) -> None:
    images = tmp_path / "images"
    for n in range(3):
        pub.publish_version(images, "x86_64", writer(b"%d" % n))
    _, message = pub.revert(images, "x86_64")
    assert serving_bytes(images) == b"1" and "now serving" in message
    pub.revert(images, "x86_64")
    assert serving_bytes(images) == b"0"
    with pytest.raises(LtspError, match="no version of x86_64 older"):
        pub.revert(images, "x86_64")


def test_revert_of_upstreams_layout_serves_the_old_file(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    (images / "x86_64.img.old").write_bytes(b"old")
    (images / "x86_64.img").write_bytes(b"current")
    os.utime(images / "x86_64.img.old", (1e9, 1e9))
    pub.revert(images, "x86_64")
    assert serving_bytes(images) == b"old"
    assert not (images / "x86_64.img.old").exists()
    assert sorted(v.path.read_bytes() for v in pub.list_versions(images, "x86_64")) == [
        b"current",
        b"old",
    ]


def test_revert_without_versions_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LtspError, match="not a versioned image"):
        pub.revert(tmp_path, "x86_64")


def test_a_failing_write_leaves_the_serving_image_and_no_partial_file(tmp_path: Path) -> None:
    images = tmp_path / "images"
    pub.publish_version(images, "x86_64", writer(b"good"))

    def broken(path: Path) -> dict[str, Any]:
        path.write_bytes(b"half")
        raise LtspError("mksquashfs failed")

    with pytest.raises(LtspError):
        pub.publish_version(images, "x86_64", broken)
    assert serving_bytes(images) == b"good"
    assert len(pub.list_versions(images, "x86_64")) == 1
    assert not list(pub.versions_dir(images, "x86_64").glob(".partial-*"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_the_write_removes_the_partial_output(tmp_path: Path, sig: int) -> None:
    images = tmp_path / "images"
    pub.publish_version(images, "x86_64", writer(b"good"))
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from ltsp_client.server import publish as pub

        def slow(path):
            path.write_bytes(b"partial")
            print("writing", flush=True)
            time.sleep(30)
            return {{}}

        try:
            pub.publish_version(Path({str(images)!r}), "x86_64", slow)
        except (pub.SignalReceivedError, KeyboardInterrupt):
            sys.exit(3)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "writing"
    assert list(pub.versions_dir(images, "x86_64").glob(".partial-*"))
    proc.send_signal(sig)
    assert proc.wait(timeout=10) == 3
    assert serving_bytes(images) == b"good"
    assert not list(pub.versions_dir(images, "x86_64").glob(".partial-*"))
    assert len(pub.list_versions(images, "x86_64")) == 1


def test_versions_in_one_second_get_distinct_sorted_ids(tmp_path: Path) -> None:
    folder = tmp_path
    now = time.time()
    first = pub.new_version_id(folder, now)
    (folder / f"{first}.img").write_bytes(b"")
    second = pub.new_version_id(folder, now)
    (folder / f"{second}.img").write_bytes(b"")
    assert second == f"{first}-2"
    assert [v.version for v in pub.list_versions(tmp_path.parent, tmp_path.name)] == []
    names = [p.stem for p in folder.glob("*.img")]
    assert sorted(names, key=pub._sort_key) == [first, second]
