"""Benchmark the frozen `ltsp` binary and ltsp.img; prints markdown tables.

    python3 benchmarks/frozen_binary.py [--runs 21] [--tree dist/ltsp]

Needs root: it re-runs itself through build-tools/with-ltsp-at, so the tree
appears at /usr/lib/ltsp (the path it is built for) in a private mount
namespace. Commands run round-robin (load on this shared box hits them all
alike) and the median is reported. The baseline, measured in the same run,
is the same code on the normal interpreter: `python3 -m ltsp_client`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ltsp_client.server import initrd  # noqa: E402
from ltsp_client.server.cpio import write_segments  # noqa: E402

FROZEN = "/usr/lib/ltsp/ltsp"
MiB = 2**20


def spawn(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(ms to the first stdout line, ms to exit, peak RSS KiB of the child)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdout is not None
    proc.stdout.readline()
    first = time.perf_counter()
    proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    end = time.perf_counter()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv} failed with {proc.returncode}")
    return (first - start) * 1e3, (end - start) * 1e3, usage.ru_maxrss


def timings(
    cases: dict[str, list[str]], runs: int, env: dict[str, str]
) -> dict[str, list[tuple[float, float, int]]]:
    results: dict[str, list[tuple[float, float, int]]] = {name: [] for name in cases}
    for round_no in range(runs + 1):
        for name, argv in cases.items():
            sample = spawn(argv, env)
            if round_no:  # round 0 warms caches
                results[name].append(sample)
    return results


def tree_size(tree: Path) -> tuple[int, int]:
    files = [p for p in tree.rglob("*") if p.is_file() and not p.is_symlink()]
    return sum(p.stat().st_size for p in files), len(files)


def median_ms(fn: Callable[[], object], repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def sample_inputs(work: Path) -> tuple[Path, Path]:
    hooks = ROOT / "initramfs-hooks"
    if not (hooks / "initramfs-tools" / "ltsp.conf").is_file():
        hooks = work / "hooks"
        (hooks / "initramfs-tools").mkdir(parents=True)
        (hooks / "initramfs-tools" / "ltsp.conf").write_text("# placeholder hook\n")
    etc = work / "etc-ltsp"
    etc.mkdir(parents=True)
    (etc / "ltsp.conf").write_text("[server]\n[common]\nTIMEZONE=Europe/Athens\n[clients]\n")
    return hooks, etc


def image_sizes(tree: Path, work: Path) -> list[tuple[str, int, str]]:
    hooks, etc = sample_inputs(work)
    modules = (Path("/"),) if Path("/lib/modules").is_dir() else ()
    rows: list[tuple[str, int, str]] = []
    for label, binary, mods, compression in (
        ("ltsp.img --no-binary, no modules (configuration only)", None, (), "gzip"),
        ("ltsp.img --no-binary --modules-from / (gzip)", None, modules, "gzip"),
        ("ltsp.img --compress none (all uncompressed, upstream style)", tree, modules, "none"),
        ("ltsp.img default: binary + modules segment gzip -9", tree, modules, "gzip"),
    ):
        plan = initrd.Plan(etc, hooks, binary, mods, compression)
        out = work / "ltsp.img"
        start = time.perf_counter()
        initrd.publish(plan, out)
        took = (time.perf_counter() - start) * 1e3
        rows.append((label, out.stat().st_size, f"built in {took:.0f} ms"))
    # what other compressors would give for the same binary + modules segment
    plan = initrd.Plan(etc, hooks, tree, modules, "none")
    archive, _ = initrd.binary_segment(plan)
    raw = work / "binary.cpio"
    with raw.open("wb") as out:
        write_segments(out, [(archive, "none")])
    for label, compress, decompress in (
        ("gzip -9", ["gzip", "-9", "-n", "-c"], ["gzip", "-dc"]),
        ("zstd -19", ["zstd", "-19", "-q", "-c"], ["zstd", "-dcq"]),
        ("xz -9e --check=crc32", ["xz", "-9e", "--check=crc32", "-T1", "-c"], ["xz", "-dc"]),
    ):
        if shutil.which(compress[0]) is None:
            continue
        packed = work / f"binary.cpio.{compress[0]}"
        with raw.open("rb") as src, packed.open("wb") as dst:
            subprocess.run(compress, stdin=src, stdout=dst, check=True)

        def unpack(cmd: list[str] = decompress, path: Path = packed) -> None:
            with path.open("rb") as src:
                subprocess.run(cmd, stdin=src, stdout=subprocess.DEVNULL, check=True)

        rows.append(
            (
                f"binary + modules segment alone, {label}",
                packed.stat().st_size,
                f"decompress {median_ms(unpack):.0f} ms native",
            )
        )
    rows.append(("binary + modules segment alone, uncompressed", raw.stat().st_size, ""))
    return rows


def import_times() -> list[tuple[str, float]]:
    """Cumulative import time (ms) of the heavy modules, from `python3 -X importtime`."""
    code = (
        "import ltsp_client.cli, ltsp_client.init.pid1, ltsp_client.init.initramfs, "
        "ltsp_client.config.loader, ltsp_client.server.initrd; "
        "from ltsp_client.system import netlink; netlink._iproute_class()"
    )
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    found: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self, cumulative, name = line[len("import time:") :].split("|")
        found[name.strip()] = int(cumulative) / 1000
    wanted = [
        "ltsp_client.cli",
        "ltsp_client.init.pid1",
        "ltsp_client.init.initramfs",
        "ltsp_client.config.loader",
        "configobj",
        "pyroute2.iproute.linux",
        "ltsp_client.server.initrd",
        "logging",
        "json",
    ]
    return [(name, found[name]) for name in wanted if name in found]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--tree", type=Path, default=ROOT / "dist" / "ltsp")
    opts = parser.parse_args()
    tree = opts.tree.resolve()
    if not os.environ.get("FRZ_BENCH_NS"):
        if not (tree / "ltsp").is_file():
            raise SystemExit(f"no frozen tree in {tree}: run build-tools/freeze first")
        env = dict(os.environ, FRZ_BENCH_NS="1")
        helper = str(ROOT / "build-tools" / "with-ltsp-at")
        os.execve(helper, [helper, str(tree), sys.executable, *sys.argv], env)
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "ltsp_client")],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # the baseline gets its .pyc files, as an installed package would have
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/root", "LANG": "C.UTF-8"}
    env["PYTHONPATH"] = str(ROOT)
    with tempfile.TemporaryDirectory(prefix="frz-bench-") as tmp:
        work = Path(tmp)
        fake_root = work / "root"
        (fake_root / "sbin").mkdir(parents=True)
        (fake_root / "sbin" / "init").write_text("#!/bin/sh\n")
        (fake_root / "sbin" / "init").chmod(0o755)
        init_args = ["init", "--root", str(fake_root), "--"]  # `--`: exec its init too
        cases = {
            "frozen `ltsp --version`": [FROZEN, "--version"],
            "python3 -m ltsp_client --version (baseline)": [
                sys.executable,
                "-m",
                "ltsp_client",
                "--version",
            ],
            "frozen `ltsp info --json`": [FROZEN, "info", "--json"],
            "python3 -m ltsp_client info --json": [
                sys.executable,
                "-m",
                "ltsp_client",
                "info",
                "--json",
            ],
            "frozen `ltsp init --root DIR` (plugins, exec init)": [FROZEN, *init_args],
            "python3 -m ltsp_client init --root DIR": [
                sys.executable,
                "-m",
                "ltsp_client",
                *init_args,
            ],
        }
        results = timings(cases, opts.runs, env)
        raw, count = tree_size(tree)
        sizes = image_sizes(tree, work / "img")
    print(f"frozen tree {tree}: {raw / MiB:.1f} MiB raw, {count} files\n")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"Runs: median of {opts.runs} round-robin rounds after 1 warm-up round; load {load}.\n")
    print("| command | first line ms | exit ms | peak RSS MiB |")
    print("|---|---:|---:|---:|")
    for name, samples in results.items():
        first = statistics.median(s[0] for s in samples)
        total = statistics.median(s[1] for s in samples)
        rss = max(s[2] for s in samples) / 1024
        print(f"| {name} | {first:.1f} | {total:.1f} | {rss:.1f} |")
    print("\n| ltsp.img variant | bytes | MiB | note |")
    print("|---|---:|---:|---|")
    for label, size, note in sizes:
        print(f"| {label} | {size} | {size / MiB:.2f} | {note} |")
    print("\n| import (python3 -X importtime, cumulative) | ms |")
    print("|---|---:|")
    for name, ms in import_times():
        print(f"| {name} | {ms:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
