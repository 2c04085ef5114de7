"""The nfs-read-ahead plugin (service stage) on a fake /proc and /sys."""

from __future__ import annotations

from pathlib import Path

from goldentree import FakeRoot, apply_plugin, client_config

from ltsp_client.plugins.nfs_read_ahead import NfsReadAhead

VOLUMES = """\
NV SERVER   PORT DEV          FSID                              FSC
v4 c0a84301  801 0:53         bb8fb8b5a9e94a7b:8cc8c3d8d9b3c2a4 no
v4 c0a84301  801 0:60         aa8fb8b5a9e94a7b:8cc8c3d8d9b3c2a4 no
"""


def test_every_nfs_volume(fake_root: FakeRoot, tmp_path: Path) -> None:
    fake_root.write("/proc/fs/nfsfs/volumes", VOLUMES)
    fake_root.write("/sys/class/bdi/0:53/read_ahead_kb", "15360\n")
    fake_root.write("/sys/class/bdi/0:60/read_ahead_kb", "256\n")
    before = fake_root.tree()
    config = client_config(tmp_path, "[clients]\nREAD_AHEAD_KB=256\n", applet="service")
    apply_plugin(NfsReadAhead, fake_root, config, stage="service")
    assert fake_root.changes_since(before) == {"sys/class/bdi/0:53/read_ahead_kb": "256\n"}


def test_default_128(fake_root: FakeRoot, tmp_path: Path) -> None:
    fake_root.write(
        "/proc/fs/nfsfs/volumes", VOLUMES.splitlines(True)[0] + VOLUMES.splitlines(True)[1]
    )
    fake_root.write("/sys/class/bdi/0:53/read_ahead_kb", "15360\n")
    apply_plugin(NfsReadAhead, fake_root, client_config(tmp_path, "", applet="service"))
    assert (fake_root.path / "sys/class/bdi/0:53/read_ahead_kb").read_text() == "128\n"


def test_not_needed_without_nfs(fake_root: FakeRoot, tmp_path: Path) -> None:
    fake_root.write("/proc/fs/nfsfs/volumes", VOLUMES.splitlines(True)[0])
    config = client_config(tmp_path, "[clients]\n", applet="service")
    assert apply_plugin(NfsReadAhead, fake_root, config, stage="service") is None
