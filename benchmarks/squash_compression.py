#!/usr/bin/env python3
"""Squashfs compression choices for `ltsp image`: size, squash time, read time.

    python3 benchmarks/squash_compression.py TREE [--comp "zstd -Xcompression-level 3"]

For each compression: mksquashfs TREE (as `ltsp image` runs it: -noappend
-wildcards, default 128 KiB blocks, all CPUs), then loop-mount the result,
drop the page cache and read every file once (what a booting client pays in
decompression, without the network). CPU seconds are reported beside wall
time: on a shared machine the wall time mostly measures the competition.
Needs root (mount, drop_caches).
Prints a Markdown table (the one in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT = (
    "gzip",
    "lzo",
    "lz4",
    "xz",
    "zstd -Xcompression-level 3",
    "zstd -Xcompression-level 9",
    "zstd -Xcompression-level 15",
)


def cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def squash(tree: Path, out: Path, comp: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds): on a shared machine the CPU time is the honest one."""
    t0, c0 = time.monotonic(), cpu_children()
    subprocess.run(
        [
            "mksquashfs",
            str(tree),
            str(out),
            "-noappend",
            "-wildcards",
            "-quiet",
            "-no-progress",
            "-comp",
            *comp.split(),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.monotonic() - t0, cpu_children() - c0


def read_all(image: Path) -> tuple[float, float]:
    """Read every file once from a cold cache: (wall, CPU incl. the kernel's decompression)."""
    with tempfile.TemporaryDirectory() as mnt:
        subprocess.run(["mount", "-o", "loop,ro", str(image), mnt], check=True)
        try:
            subprocess.run(["sync"], check=True)
            Path("/proc/sys/vm/drop_caches").write_text("3\n")
            t0, c0 = time.monotonic(), cpu_self()
            for dirpath, _dirs, files in os.walk(mnt):
                for name in files:
                    path = os.path.join(dirpath, name)
                    if os.path.islink(path) or not os.path.isfile(path):
                        continue
                    with open(path, "rb") as f:
                        while f.read(1 << 20):
                            pass
            return time.monotonic() - t0, cpu_self() - c0
        finally:
            subprocess.run(["umount", mnt], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tree", type=Path)
    parser.add_argument("--out", type=Path, default=Path("/var/tmp/ltsp-squash-bench"))
    parser.add_argument("--comp", action="append", help="repeatable; default: a set")
    opts = parser.parse_args()
    opts.out.mkdir(parents=True, exist_ok=True)
    comps = opts.comp or list(DEFAULT)
    print(f"tree: {opts.tree} ({os.cpu_count()} CPUs)")
    print("| compression | size MiB | squash CPU s | squash wall s | read CPU s | read wall s |")
    print("|---|---:|---:|---:|---:|---:|")
    for comp in comps:
        image = opts.out / (comp.replace(" ", "_").replace("-", "") + ".img")
        took, cpu = squash(opts.tree, image, comp)
        read, read_cpu = read_all(image)
        size = image.stat().st_size / 2**20
        print(
            f"| {comp} | {size:.0f} | {cpu:.1f} | {took:.1f} | {read_cpu:.1f} | {read:.1f} |",
            flush=True,
        )
        image.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
