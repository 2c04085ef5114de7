"""Helpers of the publisher tests: run an applet as the admin would, build a VM disk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def ltsp(
    tmp_path: Path, applet: str, *args: str, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    """`ltsp -b TMP/base -t TMP/tftp APPLET --etc TMP/etc-ltsp ARGS` in a new process."""
    etc = tmp_path / "etc-ltsp"
    etc.mkdir(exist_ok=True)
    base = ["-b", str(tmp_path / "base"), "-t", str(tmp_path / "tftp")]
    result = subprocess.run(
        [sys.executable, "-m", "ltsp_client", *base, applet, "--etc", str(etc), *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=300,
        check=False,
    )
    if ok:
        assert result.returncode == 0, result.stderr
    return result


def make_partitioned_disk(path: Path, tree: Path) -> None:
    """A sparse 64 MiB GPT disk: an EFI partition first, then ext4 holding `tree`."""
    with path.open("wb") as disk:
        disk.truncate(64 * 2**20)
    script = (
        "label: gpt\n"
        "start=2048, size=8192, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n"
        "start=10240, size=110592, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n"
    )
    subprocess.run(["sfdisk", "-q", str(path)], input=script, text=True, check=True)
    size_kib = 110592 // 2
    subprocess.run(
        [
            "mke2fs",
            "-q",
            "-t",
            "ext4",
            "-F",
            "-E",
            f"offset={10240 * 512}",
            "-d",
            str(tree),
            str(path),
            f"{size_kib}k",
        ],
        check=True,
    )
