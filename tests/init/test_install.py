"""Installing LTSP into a new root and overriding /sbin/init (§1.6.5) on a temp root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ltsp_client.errors import LtspError
from ltsp_client.init.install import LTSP_TREE, copy_update, install, override_init

BINARY = "/usr/lib/ltsp/ltsp"


def merged_usr_root(base: Path) -> Path:
    """/sbin -> usr/sbin like Debian's merged /usr, with /sbin/init -> ../lib/systemd/systemd."""
    (base / "usr/sbin").mkdir(parents=True)
    (base / "usr/lib/systemd").mkdir(parents=True)
    (base / "usr/lib/systemd/systemd").write_text("systemd")
    (base / "sbin").symlink_to("usr/sbin")
    (base / "usr/sbin/init").symlink_to("../lib/systemd/systemd")
    (base / "etc/modprobe.d").mkdir(parents=True)
    return base


def test_override_keeps_the_symlink_and_points_init_at_us(tmp_path: Path) -> None:
    root = merged_usr_root(tmp_path / "root")
    saved = override_init(root)
    assert saved == root / "usr/sbin/init.ltsp"
    assert os.readlink(saved) == "../lib/systemd/systemd"  # a symlink stays a symlink
    assert os.readlink(root / "usr/sbin/init") == BINARY
    # a second run (e.g. a persistent root) must not save our own link as the real init
    assert override_init(root) == saved
    assert os.readlink(saved) == "../lib/systemd/systemd"


def test_override_copies_a_regular_init_with_its_mode(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sbin").mkdir(parents=True)
    (root / "sbin/init").write_text("#!/bin/sh\n")
    (root / "sbin/init").chmod(0o750)
    override_init(root)
    assert (root / "sbin/init.ltsp").read_text() == "#!/bin/sh\n"
    assert (root / "sbin/init.ltsp").stat().st_mode & 0o777 == 0o750
    assert os.readlink(root / "sbin/init") == BINARY


def test_override_without_init_fails_with_hint(tmp_path: Path) -> None:
    (tmp_path / "sbin").mkdir()
    with pytest.raises(LtspError) as err:
        override_init(tmp_path)
    assert "systemd-sysv" in err.value.hint


def test_copy_update_merges_and_keeps_newer_files(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "sub").mkdir(parents=True)
    (src / "sub/a").write_text("new a")
    (src / "b").write_text("new b")
    (src / "link").symlink_to("b")
    (src / "modules").mkdir()
    (dst / "sub").mkdir(parents=True)
    (dst / "sub/a").write_text("old a")
    os.utime(dst / "sub/a", (1, 1))
    (dst / "b").write_text("image's newer b")
    os.utime(src / "b", (1, 1))
    (dst / "stale").write_text("kept")
    report = copy_update(src, dst, exclude=("modules",))
    assert (dst / "sub/a").read_text() == "new a"
    assert (dst / "b").read_text() == "image's newer b"
    assert (dst / "stale").read_text() == "kept"
    assert os.readlink(dst / "link") == "b"
    assert not (dst / "modules").exists()
    assert (report.copied, report.kept) == (2, 1)


def test_copy_update_ltsp_img_members_with_mtime_0_replace_the_images(tmp_path: Path) -> None:
    """The kernel unpacks our ltsp.img with mtime 0; the server's ltsp.conf must still win
    over an older copy baked into the image (a chrootless image of the server has one)."""
    src, dst = tmp_path / "initramfs-etc-ltsp", tmp_path / "root-etc-ltsp"
    src.mkdir()
    dst.mkdir()
    (src / "ltsp.conf").write_text("[clients]\nHOSTNAME=new\n")
    os.utime(src / "ltsp.conf", (0, 0))
    (dst / "ltsp.conf").write_text("[clients]\nHOSTNAME=stale\n")
    report = copy_update(src, dst)
    assert (dst / "ltsp.conf").read_text() == "[clients]\nHOSTNAME=new\n"
    assert (report.copied, report.kept) == (1, 0)


def test_install_whole(tmp_path: Path) -> None:
    root = merged_usr_root(tmp_path / "root")
    tree = tmp_path / "initramfs/usr/lib/ltsp"
    (tree / "_internal").mkdir(parents=True)
    (tree / "ltsp").write_text("binary")
    (tree / "modules/6.1.0").mkdir(parents=True)
    etc = tmp_path / "initramfs/etc/ltsp"
    etc.mkdir(parents=True)
    (etc / "ltsp.conf").write_text("[clients]\n")
    blacklist = tmp_path / "initramfs/etc/modprobe.d/ltsp.conf"
    blacklist.parent.mkdir(parents=True)
    blacklist.write_text("blacklist floppy\n")
    install(root, tree=tree, etc_ltsp=etc, modprobe_conf=blacklist)
    assert (root / "usr/lib/ltsp/ltsp").read_text() == "binary"
    assert (root / "usr/lib/ltsp/_internal").is_dir()
    assert not (root / "usr/lib/ltsp/modules").exists()
    assert (root / "etc/ltsp/ltsp.conf").read_text() == "[clients]\n"
    assert (root / "etc/modprobe.d/ltsp.conf").read_text() == "blacklist floppy\n"
    assert os.readlink(root / "usr/sbin/ltsp") == "../lib/ltsp/ltsp"
    assert os.readlink(root / "sbin/init") == BINARY
    assert os.path.lexists(root / "sbin/init.ltsp")


def test_install_leaves_the_image_s_own_client_alone(tmp_path: Path) -> None:
    """ltsp-initrd-bottom links /usr/lib/ltsp/{ltsp,_internal} to the image's package:
    copying those links into the root would replace its binary with a dangling link."""
    root = merged_usr_root(tmp_path / "root")
    (root / "usr/lib/ltsp/_internal").mkdir(parents=True)
    (root / "usr/lib/ltsp/ltsp").write_text("packaged binary")
    tree = tmp_path / "initramfs/usr/lib/ltsp"
    tree.mkdir(parents=True)
    (tree / "ltsp").symlink_to(root / "usr/lib/ltsp/ltsp")
    (tree / "_internal").symlink_to(root / "usr/lib/ltsp/_internal")
    counts = install(root, tree=tree, etc_ltsp=tmp_path / "no-etc")
    assert str(LTSP_TREE) not in counts
    assert not (root / "usr/lib/ltsp/ltsp").is_symlink()
    assert (root / "usr/lib/ltsp/ltsp").read_text() == "packaged binary"
    assert os.readlink(root / "sbin/init") == BINARY
