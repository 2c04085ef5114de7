"""ltsp.img read back without the kernel: segments written by our cpio writer, real gzip."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from ltsp_client.errors import LtspError
from ltsp_client.init.install import copy_update
from ltsp_client.server.cpio import Archive, Entry, write_segments
from ltsp_client.system import cpioread


def ltsp_img(path: Path) -> Path:
    """Like `ltsp initrd`: a plain configuration segment, then a gzip'ed binary segment."""
    config = Archive()
    config.add(Entry("etc/ltsp/ltsp.conf", stat.S_IFREG | 0o644, b"[clients]\nX=1\n"))
    config.add(Entry("etc/ltsp/.hidden", stat.S_IFREG | 0o600, b"secret\n"))
    config.add(Entry("conf/conf.d/00-ltsp.conf", stat.S_IFREG | 0o644, b"# sh\n"))
    binary = Archive()
    binary.add(Entry("usr/lib/ltsp/ltsp", stat.S_IFREG | 0o755, b"\x7fELF" + b"x" * 5000))
    binary.add(Entry("usr/sbin/ltsp", stat.S_IFLNK | 0o777, b"../lib/ltsp/ltsp"))
    with path.open("wb") as out:
        write_segments(out, [(config, "none"), (binary, "gzip")])
    return path


def test_every_segment_is_unpacked(tmp_path: Path) -> None:
    img = ltsp_img(tmp_path / "ltsp.img")
    names = cpioread.unpack(img, tmp_path / "out")
    out = tmp_path / "out"
    assert (out / "etc/ltsp/ltsp.conf").read_text() == "[clients]\nX=1\n"
    assert stat.S_IMODE((out / "etc/ltsp/.hidden").stat().st_mode) == 0o600
    assert (out / "usr/lib/ltsp/ltsp").read_bytes().startswith(b"\x7fELF")
    assert os.access(out / "usr/lib/ltsp/ltsp", os.X_OK)
    assert os.readlink(out / "usr/sbin/ltsp") == "../lib/ltsp/ltsp"
    assert "conf/conf.d/00-ltsp.conf" in names and "usr/lib/ltsp/ltsp" in names


def test_the_same_as_cpio_extracts(tmp_path: Path) -> None:
    """GNU cpio reads the first (plain) segment; we give the same files."""
    img = ltsp_img(tmp_path / "ltsp.img")
    ours = tmp_path / "ours"
    cpioread.unpack(img, ours, wanted=lambda name: not name.startswith("usr/"))
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    with img.open("rb") as stdin:
        subprocess.run(["cpio", "-idm", "--quiet"], stdin=stdin, cwd=theirs, check=True)

    def files(base: Path) -> dict[str, bytes]:
        return {str(p.relative_to(base)): p.read_bytes() for p in base.rglob("*") if p.is_file()}

    assert files(ours) == files(theirs)


def test_only_wanted_members_and_mtime_zero_wins_the_install_copy(tmp_path: Path) -> None:
    img = ltsp_img(tmp_path / "ltsp.img")
    names = cpioread.unpack(img, tmp_path / "out", wanted=lambda name: name.startswith("etc/"))
    assert sorted(names) == ["etc/ltsp", "etc/ltsp/.hidden", "etc/ltsp/ltsp.conf"]
    assert not (tmp_path / "out/usr").exists()
    # the archive's mtime 0 is kept, as the kernel keeps it ...
    assert (tmp_path / "out/etc/ltsp/ltsp.conf").stat().st_mtime == 0
    # ... and still wins the update-only copy over an image's own ltsp.conf
    image_etc = tmp_path / "root/etc/ltsp"
    image_etc.mkdir(parents=True)
    (image_etc / "ltsp.conf").write_text("[clients]\nHOSTNAME=image\n")
    copy_update(tmp_path / "out/etc/ltsp", image_etc)
    assert (image_etc / "ltsp.conf").read_text() == "[clients]\nX=1\n"


def test_a_member_cannot_leave_the_destination(tmp_path: Path) -> None:
    evil = Archive()
    evil.add(Entry("etc/link", stat.S_IFLNK | 0o777, b"/"))
    img = tmp_path / "evil.img"
    with img.open("wb") as out:
        write_segments(out, [(evil, "none")])
    # a second archive writing through the link made by the first
    later = Archive()
    later.add(Entry("etc/link/escaped", stat.S_IFREG | 0o644, b"x"))
    with img.open("ab") as out:
        write_segments(out, [(later, "gzip")])
    cpioread.unpack(img, tmp_path / "out")
    assert (tmp_path / "out/escaped").read_text() == "x"  # resolved as a chroot would
    assert not Path("/escaped").exists()


def test_garbage_is_an_error_naming_the_file_and_offset(tmp_path: Path) -> None:
    img = ltsp_img(tmp_path / "ltsp.img")
    with img.open("ab") as out:
        out.write(b"\0" * 4 + b"garbage!")
    with pytest.raises(LtspError, match=r"ltsp.img: unknown segment at byte \d+"):
        cpioread.unpack(img, tmp_path / "out")
    cut = tmp_path / "cut.img"
    cut.write_bytes(img.read_bytes()[:200])
    with pytest.raises(LtspError, match=r"cut\.img"):
        cpioread.unpack(cut, tmp_path / "out2")
