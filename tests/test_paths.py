"""paths.inside: a path in a target root, symlinks followed as if the root were `/`."""

from __future__ import annotations

from pathlib import Path

import pytest

from ltsp_client.errors import LtspError
from ltsp_client.paths import RootPathError, inside, live_etc_dir, live_run_dir


def test_absolute_links_stay_in_the_root(tmp_path: Path) -> None:
    (tmp_path / "usr/lib/systemd").mkdir(parents=True)
    (tmp_path / "usr/sbin").mkdir(parents=True)
    (tmp_path / "lib").symlink_to("usr/lib")
    (tmp_path / "sbin").symlink_to("/usr/sbin")
    (tmp_path / "usr/sbin/init").symlink_to("/lib/systemd/systemd")
    assert inside(tmp_path, "/sbin/init") == tmp_path / "usr/lib/systemd/systemd"
    assert inside(tmp_path, "/sbin/new-file") == tmp_path / "usr/sbin/new-file"
    assert inside(tmp_path, "/missing/dir/file") == tmp_path / "missing/dir/file"


def test_the_last_link_is_kept_when_asked(tmp_path: Path) -> None:
    """Installing LTSP replaces the /sbin/init link itself, not the file it points to."""
    (tmp_path / "usr/sbin").mkdir(parents=True)
    (tmp_path / "sbin").symlink_to("/usr/sbin")
    (tmp_path / "usr/sbin/init").symlink_to("../lib/systemd/systemd")
    assert inside(tmp_path, "/sbin/init", follow_last=False) == tmp_path / "usr/sbin/init"
    assert inside(tmp_path, "/sbin/init") == tmp_path / "usr/lib/systemd/systemd"


def test_relative_links_cannot_climb_out(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/escape").symlink_to("../../../../etc/passwd")
    (tmp_path / "up").symlink_to("../../../..")
    assert inside(tmp_path, "/etc/escape") == tmp_path / "etc/passwd"
    assert inside(tmp_path, "/up/etc/x") == tmp_path / "etc/x"


@pytest.mark.parametrize("path", ["/etc/../../x", "etc/hosts", "../x"])
def test_relative_paths_and_dotdot_are_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(RootPathError):
        inside(tmp_path, path)


def test_link_loops_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to("/b")
    (tmp_path / "b").symlink_to("/a")
    (tmp_path / "loop").symlink_to("loop")
    with pytest.raises(LtspError, match="too many symlinks"):
        inside(tmp_path, "/a")
    with pytest.raises(LtspError, match="too many symlinks"):
        inside(tmp_path, "/loop/x", follow_last=False)


def test_live_dirs_are_the_real_ones_unless_the_environment_moves_them() -> None:
    assert (live_run_dir({}), live_etc_dir({"LTSP_ETC_DIR": ""})) == (
        Path("/run/ltsp"),
        Path("/etc/ltsp"),
    )
    moved = {"LTSP_RUN_DIR": "/tmp/r", "LTSP_ETC_DIR": "/tmp/e"}
    assert (live_run_dir(moved), live_etc_dir(moved)) == (Path("/tmp/r"), Path("/tmp/e"))
