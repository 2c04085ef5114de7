#!/usr/bin/env python3
"""`ltsp image` of one chroot: ours against upstream LTSP 23.02, same compression, side by side.

    python3 benchmarks/image_vs_upstream.py CHROOT [--rounds 2]

Both run as root in a private mount namespace (upstream's `ltsp image` calls
`ltsp kernel`, which writes to /srv/tftp: a tmpfs hides the host's), with
mksquashfs `-comp zstd -Xcompression-level 3` and their default nice/ionice,
alternating, the page cache dropped before each run. Prints a Markdown table
(docs/benchmarks.md) with wall time, image size and file count.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM = "/usr/sbin/ltsp"
COMP = "-comp zstd -Xcompression-level 3"


def command(which: str, chroot: Path, work: Path) -> list[str]:
    base, tftp = work / which / "base", work / which / "tftp"
    if which == "upstream":
        ltsp = [UPSTREAM, "-b", str(base), "-t", str(tftp), "image"]
        ltsp += [f"--mksquashfs-params={COMP}", str(chroot)]
    else:
        ltsp = [sys.executable, "-m", "ltsp_client", "-b", str(base), "-t", str(tftp), "image"]
        ltsp += ["--etc", str(work / "etc-ltsp"), str(chroot)]
    script = 'mount -t tmpfs bench /srv/tftp 2>/dev/null || true; exec "$@"'
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", *ltsp]


def cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def image_of(which: str, work: Path, name: str) -> Path:
    return (work / which / "base" / "images" / f"{name}.img").resolve()


def files_in(image: Path) -> int:
    out = subprocess.run(
        ["unsquashfs", "-l", "-d", "", str(image)], capture_output=True, text=True, check=True
    ).stdout
    return sum(1 for line in out.splitlines() if line.startswith("/"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("chroot", type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/var/tmp/ltsp-image-bench"))
    opts = parser.parse_args()
    if not Path(UPSTREAM).exists():
        print("upstream LTSP is not installed (apt-get install ltsp)", file=sys.stderr)
        return 1
    shutil.rmtree(opts.work, ignore_errors=True)
    (opts.work / "etc-ltsp").mkdir(parents=True)
    times: dict[str, list[float]] = {"upstream": [], "ours": []}
    cpu: dict[str, list[float]] = {"upstream": [], "ours": []}
    for _ in range(opts.rounds):
        for which in ("upstream", "ours"):
            shutil.rmtree(opts.work / which, ignore_errors=True)
            subprocess.run(["sync"], check=True)
            Path("/proc/sys/vm/drop_caches").write_text("3\n")
            t0, c0 = time.monotonic(), cpu_children()
            result = subprocess.run(
                command(which, opts.chroot, opts.work),
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            took = time.monotonic() - t0
            cpu[which].append(cpu_children() - c0)
            if result.returncode != 0:
                print(f"{which} failed:\n{result.stdout}\n{result.stderr}", file=sys.stderr)
                return 1
            times[which].append(took)
    name = opts.chroot.name
    print(f"chroot: {opts.chroot}, mksquashfs {COMP}, {opts.rounds} rounds, median wall time")
    print("| `ltsp image` | wall s (each run) | median wall s | median CPU s | image MiB | files |")
    print("|---|---|---:|---:|---:|---:|")
    for which, runs in times.items():
        image = image_of(which, opts.work, name)
        size = image.stat().st_size / 2**20
        each = ", ".join(f"{t:.1f}" for t in runs)
        median_cpu = statistics.median(cpu[which])
        print(
            f"| {which} | {each} | {statistics.median(runs):.1f} | {median_cpu:.1f} "
            f"| {size:.1f} | {files_in(image)} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
