"""The diff of an image and its scratch view: text hunks, and one line for everything else."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from ltsp_client.init.treediff import file_diff, tree_diff


def pair(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "old", tmp_path / "new"
    (old / "etc").mkdir(parents=True)
    (new / "etc").mkdir(parents=True)
    return old, new


def diff(old: Path, new: Path, path: str) -> str:
    return "".join(file_diff(old, new, PurePosixPath(path)))


def test_changed_new_and_removed_text_files(tmp_path: Path) -> None:
    old, new = pair(tmp_path)
    (old / "etc/hostname").write_text("debian\n")
    (new / "etc/hostname").write_text("pc20\n")
    (new / "etc/motd").write_text("hello")
    (old / "etc/gone").write_text("x\n")
    assert diff(old, new, "/etc/hostname") == (
        "--- a/etc/hostname\n+++ b/etc/hostname\n@@ -1 +1 @@\n-debian\n+pc20\n"
    )
    assert diff(old, new, "/etc/motd") == (
        "--- /dev/null\n+++ b/etc/motd\n@@ -0,0 +1 @@\n+hello\n\\ No newline at end of file\n"
    )
    assert diff(old, new, "/etc/gone") == "--- a/etc/gone\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n"


def test_same_content_written_again_is_no_change(tmp_path: Path) -> None:
    old, new = pair(tmp_path)
    (old / "etc/hosts").write_text("127.0.0.1 localhost\n")
    (new / "etc/hosts").write_text("127.0.0.1 localhost\n")
    os.utime(new / "etc/hosts", (1, 1))
    assert diff(old, new, "/etc/hosts") == ""
    assert diff(old, new, "/etc") == ""


def test_links_modes_directories_and_binaries(tmp_path: Path) -> None:
    old, new = pair(tmp_path)
    (old / "etc/unit").symlink_to("/lib/systemd/system/x.service")
    (new / "etc/unit").symlink_to("/dev/null")
    assert diff(old, new, "/etc/unit") == (
        "/etc/unit: symlink to /lib/systemd/system/x.service -> symlink to /dev/null\n"
    )
    (old / "etc/key").write_text("k\n")
    (new / "etc/key").write_text("k\n")
    (old / "etc/key").chmod(0o644)
    (new / "etc/key").chmod(0o600)
    assert diff(old, new, "/etc/key") == "mode /etc/key: 0644 -> 0600\n"
    (new / "etc/cron.d").mkdir()
    assert diff(old, new, "/etc/cron.d") == "new directory /etc/cron.d\n"
    (old / "etc/blob").write_bytes(b"\0\1")
    (new / "etc/blob").write_bytes(b"\0\2")
    assert diff(old, new, "/etc/blob") == "binary file /etc/blob differs\n"
    (new / "etc/was-a-file").symlink_to("elsewhere")
    (old / "etc/was-a-file").write_text("x\n")
    assert diff(old, new, "/etc/was-a-file") == "/etc/was-a-file: file -> symlink to elsewhere\n"


def test_tree_diff_skips_our_own_records(tmp_path: Path) -> None:
    old, new = pair(tmp_path)
    (new / "run/ltsp").mkdir(parents=True)
    (new / "run/ltsp/ltsp.log").write_text("log\n")
    (new / "etc/motd").write_text("hi\n")
    paths = [PurePosixPath(p) for p in ("/etc/motd", "/run/ltsp", "/run/ltsp/ltsp.log", "/run")]
    found = dict(tree_diff(old, new, paths, skip=("/run/ltsp",)))
    assert set(found) == {PurePosixPath("/etc/motd"), PurePosixPath("/run")}
