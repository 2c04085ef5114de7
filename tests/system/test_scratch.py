"""A scratch view of a tree: writes land in the view, the original never changes."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest

from ltsp_client.errors import LtspError
from ltsp_client.system import mounts
from ltsp_client.system.scratch import scratch_view


def snapshot(root: Path) -> dict[str, tuple[int, int, float, str]]:
    """Every entry with mode, size, mtime and content or link target."""
    found = {}
    for directory, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            path = Path(directory, name)
            info = path.lstat()
            if path.is_symlink():
                body = os.readlink(path)
            elif path.is_file():
                body = path.read_text()
            else:
                body = ""
            rel = str(path.relative_to(root))
            found[rel] = (info.st_mode, info.st_size, info.st_mtime, body)
    return found


def image(tmp_path: Path) -> Path:
    root = tmp_path / "image,with:odd chars"
    (root / "etc/cron.d").mkdir(parents=True)
    (root / "etc/hostname").write_text("debian\n")
    (root / "etc/old").write_text("old\n")
    (root / "etc/cron.d/x").write_text("x\n")
    (root / "etc/mtab").symlink_to("/proc/self/mounts")
    return root


@pytest.mark.parametrize("use_overlay", [True, False], ids=["overlay", "copy"])
def test_the_original_never_changes(tmp_path: Path, use_overlay: bool) -> None:
    if use_overlay and os.geteuid() != 0:
        pytest.fail("the overlay view needs root (the suite runs as root)")
    root = image(tmp_path)
    before = snapshot(root)
    with scratch_view(root, use_overlay=use_overlay) as view:
        assert (view.upper is not None) == use_overlay
        (view.root / "etc/hostname").write_text("pc20\n")
        (view.root / "etc/old").unlink()
        (view.root / "etc/new").write_text("new\n")
        (view.root / "etc/mtab").unlink()
        (view.root / "etc/mtab").symlink_to("../proc/self/mounts")
        touched = view.touched()
        assert (view.root / "etc/hostname").read_text() == "pc20\n"
        merged = view.root
    assert snapshot(root) == before
    for path in ("/etc/hostname", "/etc/old", "/etc/new", "/etc/mtab"):
        assert PurePosixPath(path) in touched
    if use_overlay:
        assert PurePosixPath("/etc/cron.d/x") not in touched, "only what was written"
        assert not mounts.is_mounted(merged)
    assert not merged.exists(), "the scratch space is gone"


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(LtspError, match="not a directory"), scratch_view(tmp_path / "nope"):
        pass
