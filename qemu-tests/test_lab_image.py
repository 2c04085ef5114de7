"""lab/image.py without building: mirror detection, recipe hash, kernel command lines,
guest scripts."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from lab import image, package, report


def test_apt_mirror_reads_deb822_and_one_line_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d/debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n"
    )
    assert image.apt_mirror(tmp_path) == "http://mirror.example/debian"
    (tmp_path / "sources.list.d/debian.sources").unlink()
    one_line = "deb [arch=amd64] http://m2.example/debian bookworm main\n"
    (tmp_path / "sources.list").write_text(one_line)
    assert image.apt_mirror(tmp_path) == "http://m2.example/debian"


def test_recipe_hash_changes_with_packages_only() -> None:
    a = image.recipe_hash(image.recipe("base", (), "http://m/debian"))
    assert a == image.recipe_hash(image.recipe("base", (), "http://m/debian"))
    assert a != image.recipe_hash(image.recipe("base", ("vim-tiny",), "http://m/debian"))
    assert a != image.recipe_hash(image.recipe("other", (), "http://m/debian"))


def test_append_helpers_point_at_the_server() -> None:
    assert "nbdroot=192.168.67.1,lab,nbd0" in image.nbd_append("lab")
    assert "nfsroot=192.168.67.1:/var/x,vers=3,tcp" in image.nfs_append(Path("/var/x"))


@pytest.mark.parametrize("script", [report.REPORT_SCRIPT, image.OVERLAY_SCRIPT, image.NETUP_SCRIPT])
def test_guest_scripts_are_valid_posix_sh(script: str, tmp_path: Path) -> None:
    path = tmp_path / "s.sh"
    path.write_text(script)
    assert subprocess.run(["sh", "-n", str(path)], check=False).returncode == 0
    if shutil.which("shellcheck"):
        result = subprocess.run(
            ["shellcheck", "-s", "sh", str(path)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout


def test_squash_uses_the_compression_asked_for_and_leaves_the_recipe_out(tmp_path: Path) -> None:
    """mksquashfs reads every argument after -e as an exclude: a -comp there was ignored."""
    chroot = tmp_path / "chroot"
    chroot.mkdir()
    (chroot / "file").write_text("data\n")
    (chroot / ".lab-recipe.json").write_text("{}\n")
    out = image.squash(chroot, tmp_path / "out.img", "xz")
    info = subprocess.run(
        ["unsquashfs", "-s", str(out)], capture_output=True, text=True, check=True
    ).stdout
    assert "Compression xz" in info
    listing = subprocess.run(
        ["unsquashfs", "-l", str(out)], capture_output=True, text=True, check=True
    ).stdout
    assert "squashfs-root/file" in listing
    assert ".lab-recipe.json" not in listing


def test_prune_packaged_keeps_the_recent_and_the_other_bases(tmp_path: Path) -> None:
    now = 1_000_000.0
    ages = {"a": 10, "b": 7200, "c": 8000, "d": 9000, "e": 600}  # seconds since last use
    for name, age in ages.items():
        path = tmp_path / f"rootfs-base-1-ltsp-client-{name}"
        path.mkdir()
        os.utime(path, (now - age, now - age))
    (tmp_path / "rootfs-base-2-ltsp-client-z").mkdir()  # another base: not ours to prune
    os.utime(tmp_path / "rootfs-base-2-ltsp-client-z", (0, 0))
    current = tmp_path / "rootfs-base-1-ltsp-client-a"
    removed = package.prune_packaged(tmp_path, "rootfs-base-1", current=current, now=now)
    # newest three (a, e, b) kept; c and d are older and unused for over an hour
    assert sorted(p.name[-1] for p in removed) == ["c", "d"]
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [f"rootfs-base-1-ltsp-client-{n}" for n in "abe"] + [
        "rootfs-base-2-ltsp-client-z"
    ]


def test_prune_packaged_spares_recent_ones_beyond_the_count(tmp_path: Path) -> None:
    now = 1_000_000.0
    for index in range(5):
        path = tmp_path / f"rootfs-base-1-ltsp-client-{index}"
        path.mkdir()
        os.utime(path, (now - 60 * index, now - 60 * index))
    current = tmp_path / "rootfs-base-1-ltsp-client-0"
    assert package.prune_packaged(tmp_path, "rootfs-base-1", current=current, now=now) == []


def test_prune_packaged_never_takes_the_current_one(tmp_path: Path) -> None:
    """A chroot just made by `cp -a` carries its base's old mtime: it still stays."""
    now = 1_000_000.0
    for name, age in {"new": 99_999, "a": 10, "b": 7200, "c": 8000}.items():
        path = tmp_path / f"rootfs-base-1-ltsp-client-{name}"
        path.mkdir()
        os.utime(path, (now - age, now - age))
    current = tmp_path / "rootfs-base-1-ltsp-client-new"
    removed = package.prune_packaged(tmp_path, "rootfs-base-1", current=current, now=now)
    assert [p.name for p in removed] == ["rootfs-base-1-ltsp-client-c"]
    assert current.is_dir()
