"""Real image files for the probe and mount tests, made with the usual tools."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

MIB = 1 << 20


def need(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: install its Debian package (scripts/deps/apt-*.txt)")


def sh(*argv: str | Path) -> None:
    subprocess.run([str(a) for a in argv], check=True, capture_output=True)


def tree(base: Path, *, with_proc: bool = True) -> Path:
    """A tiny root file system tree."""
    (base / "etc").mkdir(parents=True)
    (base / "etc/os-release").write_text('PRETTY_NAME="test image"\n')
    (base / "sbin").mkdir()
    (base / "sbin/init").write_text("#!/bin/sh\n")
    (base / "sbin/init").chmod(0o755)
    if with_proc:
        (base / "proc").mkdir()
    return base


def squashfs(source: Path, out: Path) -> Path:
    need("mksquashfs")
    sh("mksquashfs", source, out, "-noappend", "-quiet", "-comp", "gzip")
    return out


def ext4(source: Path, out: Path, size_mib: int = 8) -> Path:
    need("mkfs.ext4")
    sh("mkfs.ext4", "-q", "-F", "-d", source, out, f"{size_mib}M")
    return out


def iso(source: Path, out: Path) -> Path:
    need("xorriso")
    sh("xorriso", "-as", "mkisofs", "-quiet", "-R", "-o", out, source)
    return out


def vfat(out: Path, size_mib: int = 4) -> Path:
    need("mkfs.vfat")
    out.write_bytes(b"")
    sh("truncate", "-s", f"{size_mib}M", out)
    sh("mkfs.vfat", out)
    return out


def disk(out: Path, partitions: list[tuple[str, Path]], *, label: str = "gpt") -> Path:
    """A raw disk: each (sfdisk type, image) becomes a partition holding that image."""
    need("sfdisk")
    sizes = [max(p.stat().st_size // MIB + 1, 2) for _, p in partitions]
    sh("truncate", "-s", f"{sum(sizes) + 2}M", out)
    script = f"label: {label}\n" + "".join(
        f"size={size}MiB, type={ptype}\n"
        for (ptype, _), size in zip(partitions, sizes, strict=True)
    )
    subprocess.run(
        ["sfdisk", "-q", str(out)], input=script, text=True, check=True, capture_output=True
    )
    dump = subprocess.run(["sfdisk", "-J", str(out)], capture_output=True, text=True, check=True)
    import json

    entries = json.loads(dump.stdout)["partitiontable"]["partitions"]
    with out.open("r+b") as f:
        for (_, image), entry in zip(partitions, entries, strict=True):
            f.seek(entry["start"] * 512)
            f.write(image.read_bytes())
    return out
