#!/usr/bin/env python3
"""PXE boot storm: N clients PXE-booting at once through our iPXE menu, over HTTP and over TFTP.

    python3 benchmarks/pxe_storm.py [--clients 4] [--also 2] [--transport http,tftp]
        [--ram 512] [--markdown out.md]

One publication of the lab's stock image with our applets (`ltsp image`/`kernel`
when present, `ltsp initrd`, `ltsp ipxe`, `ltsp dnsmasq`, `ltsp nfs`); dnsmasq
with that config (real DHCP, TFTP), nfs-ganesha with those exports, the lab's
HTTP server serving TFTP_DIR. Per transport (the menu is regenerated with and
without HTTP_URL): one lone boot, then storms of --also and --clients clients
started together. Every boot is a PXE boot (iPXE ROM -> ltsp.ipxe -> kernel,
ltsp.img, initrd.img -> NFS image) to multi-user.target; times are host seconds
since that client's QEMU started. The host CPU use over each storm is printed
too: under TCG each guest wants a whole core, so on a 2-core machine a storm of
4 is bound by CPU, not by the network or the servers.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "qemu-tests"))
sys.path.insert(0, str(ROOT))

from lab import ourstack, runlog, timeline  # noqa: E402
from lab.image import build_rootfs  # noqa: E402
from lab.netns import LabNetwork, install_sigterm_handler  # noqa: E402
from lab.report import parse_report  # noqa: E402
from lab.runlog import read_log  # noqa: E402
from lab.services import HTTP_PORT, Dnsmasq, HttpServer, NfsServer  # noqa: E402
from lab.traffic import TrafficCounter  # noqa: E402
from lab.vm import boot_clients, guest_cpu_seconds  # noqa: E402

BOOT_TIMEOUT = 600.0
TRANSPORTS = ("http", "tftp")


def mac(n: int) -> str:
    return f"52:54:00:67:50:{n:02x}"


def conf(transport: str) -> str:
    http = f"HTTP_URL='{ourstack.HTTP_URL}'\n" if transport == "http" else ""
    return (
        "# ltsp QEMU lab: PXE storm benchmark\n[server]\n"
        + http
        + f"DEFAULT_IMAGE={ourstack.IMAGE_NAME}\nMENU_TIMEOUT=-1\n"
        'KERNEL_PARAMETERS="console=ttyS0,115200 panic=-1"\n\n[clients]\n'
    )


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


@dataclass
class Meter:
    """Where a group of boots spent the machine: guest CPU, host CPU, bytes served."""

    traffic: TrafficCounter
    cores: int = os.cpu_count() or 1

    def __post_init__(self) -> None:
        self.traffic.reset()
        self.guest0 = guest_cpu_seconds()
        self.busy0, self.total0 = cpu_times()
        self.t0 = time.monotonic()

    def line(self, what: str, clients: int) -> str:
        wall = time.monotonic() - self.t0
        guests = guest_cpu_seconds() - self.guest0
        busy1, total1 = cpu_times()
        ticks = os.sysconf("SC_CLK_TCK")
        busy = (busy1 - self.busy0) / ticks
        share = (busy1 - self.busy0) / max(1, total1 - self.total0)
        served = sum(self.traffic.read().values())
        return (
            f"{what}: guests used {guests:.0f} CPU s ({guests / clients:.0f} s per client) "
            f"in {wall:.0f} s wall on {self.cores} cores; host CPU {share:.0%} busy, "
            f"{max(0.0, busy - guests):.0f} CPU s outside the guests (servers, other jobs); "
            f"{served / clients / 1e6:.0f} MB served per client, load average "
            f"{os.getloadavg()[0]:.1f} at the end"
        )


@dataclass
class Boot:
    transport: str
    group: str  # "lone", or "storm of N"
    name: str
    ok: bool
    configured: float | None  # iPXE's DHCP done
    loaded: float | None  # menu, kernel, ltsp.img and initrd.img loaded
    kernel: float | None  # the kernel starts
    multi_user: float | None
    log: Path

    @property
    def loading(self) -> float | None:
        if self.configured is None or self.loaded is None:
            return None
        return self.loaded - self.configured


def _first(lines: list[tuple[float, str]], pattern: str) -> float | None:
    rx = re.compile(pattern)
    return next((t for t, text in lines if rx.search(text)), None)


def from_log(log: Path, transport: str, group: str) -> Boot:
    """A boot's times (host seconds since its QEMU started) from its serial log. Multi-user
    is systemd's "Reached target" line, or (when the console lost it) systemd-analyze's
    total from the guest report, moved onto the host clock."""
    lines = read_log(log)
    report = parse_report(lines)
    multi_user = _first(lines, r"Reached target.*Multi-User")
    if multi_user is None and report is not None and report.startup_seconds is not None:
        offset = timeline.clock_offset(lines)
        if offset is not None:
            multi_user = report.startup_seconds + offset
    return Boot(
        transport=transport,
        group=group,
        name=log.name.removesuffix(".serial.log"),
        ok=report is not None,
        configured=_first(lines, r"Configuring \(net0 .*\)\.+ ok"),
        loaded=_first(lines, r"initrd\.img\.\.\..* ok"),
        kernel=_first(lines, r"Linux version \d"),
        multi_user=multi_user,
        log=log,
    )


def from_run(run_dir: Path) -> list[Boot]:
    """The boots of an earlier run of this benchmark, from their serial logs."""
    boots = []
    for log in sorted(run_dir.glob("*.serial.log")):
        m = re.fullmatch(r"(http|tftp)-(lone|storm(\d+)-\d+)\.serial\.log", log.name)
        if m:
            group = "lone" if m.group(2) == "lone" else f"storm of {m.group(3)}"
            boots.append(from_log(log, m.group(1), group))
    return sorted(boots, key=lambda b: (b.transport, b.group != "lone", b.group, b.name))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=4, help="clients in the big storm (4)")
    ap.add_argument("--also", type=int, default=2, help="a smaller storm too (2; 0: none)")
    ap.add_argument(
        "--transport", default="http,tftp", help="comma list of http, tftp (default both)"
    )
    ap.add_argument("--ram", type=int, default=512, help="client RAM in MB (default 512)")
    ap.add_argument("--markdown", type=Path, help="write the results table here")
    ap.add_argument(
        "--from-run", type=Path, metavar="RUN_DIR", help="report an earlier run from its logs"
    )
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    args.transport = [t for t in args.transport.split(",") if t]
    if not args.transport or set(args.transport) - set(TRANSPORTS):
        ap.error("--transport takes http and/or tftp")
    return args


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def table(boots: list[Boot], lone: dict[str, float | None]) -> str:
    """One row per boot; `lone` is each transport's lone multi-user time."""
    lines = [
        "| transport | boot | client | iPXE DHCP done | kernel + initrds loaded | loading took "
        "| multi-user | x lone |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for b in boots:
        base = lone.get(b.transport)
        ratio = f"{b.multi_user / base:.2f}" if b.multi_user and base else "-"
        status = "" if b.ok else " (FAILED)"
        lines.append(
            f"| {b.transport} | {b.group}{status} | {b.name} | {fmt(b.configured)} "
            f"| {fmt(b.loaded)} | {fmt(b.loading)} | {fmt(b.multi_user)} | {ratio} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s"
    )
    install_sigterm_handler()
    if args.from_run:
        cpu_file = args.from_run / "cpu.txt"
        earlier = cpu_file.read_text().splitlines() if cpu_file.is_file() else []
        return report(from_run(args.from_run), earlier, args.markdown)
    if missing := ourstack.missing_pieces():
        print(f"our stack is incomplete: {'; '.join(missing)}", file=sys.stderr)
        return 1
    chroot = build_rootfs()
    run_dir = runlog.new_run_dir("pxe-storm")
    print(f"run dir: {run_dir}", file=sys.stderr)
    pub = ourstack.publish(run_dir, chroot, ltsp_conf=conf(args.transport[0]))
    boots: list[Boot] = []
    cpu: list[str] = []
    sizes = [n for n in (args.also, args.clients) if n > 1]
    with LabNetwork(prefix="bst", clients=max([*sizes, 1])) as net:
        Dnsmasq(net, run_dir, conf_text=pub.dnsmasq_conf(net)).start()
        HttpServer(net, run_dir, pub.tftp_dir).start()
        NfsServer(net, run_dir, include=pub.ganesha_exports()).start()
        traffic = TrafficCounter(net, http_ports=(HTTP_PORT,)).start()
        for transport in args.transport:
            pub.write_conf(conf(transport))
            pub.ipxe()
            common: dict[str, object] = {
                "run_dir": run_dir,
                "pxe": True,
                "ram_mb": args.ram,
                "timeout": BOOT_TIMEOUT,
                "markers": timeline.VM_MARKERS,
            }
            meter = Meter(traffic)
            (result,) = boot_clients(net, [{**common, "name": f"{transport}-lone", "mac": mac(0)}])
            cpu.append(meter.line(f"{transport} lone", 1))
            boots.append(from_log(result.log_path, transport, "lone"))
            print(f"{transport} lone: multi-user at {fmt(boots[-1].multi_user)} s", file=sys.stderr)
            for size in sizes:
                meter = Meter(traffic)
                results = boot_clients(
                    net,
                    [
                        {
                            **common,
                            "name": f"{transport}-storm{size}-{i}",
                            "mac": mac(16 * size + i),
                            "client": i,
                        }
                        for i in range(size)
                    ],
                )
                cpu.append(meter.line(f"{transport} storm of {size}", size))
                for res in results:
                    boots.append(from_log(res.log_path, transport, f"storm of {size}"))
                worst = max((b.multi_user or 1e9) for b in boots[-size:])
                print(f"{transport} storm of {size}: slowest {fmt(worst)} s", file=sys.stderr)
    (run_dir / "cpu.txt").write_text("".join(f"{c}\n" for c in cpu))
    return report(boots, cpu, args.markdown)


def report(boots: list[Boot], cpu: list[str], markdown: Path | None) -> int:
    """Print (and write) the table and, per storm, its slowest client against the lone boot."""
    lone = {b.transport: b.multi_user for b in boots if b.group == "lone"}
    summary = []
    groups = sorted({(b.transport, b.group) for b in boots if b.group != "lone"})
    for transport, group in groups:
        got = [b.multi_user for b in boots if (b.transport, b.group) == (transport, group)]
        base = lone.get(transport)
        if None in got or not base:
            summary.append(f"- {transport}, {group}: not every client reached multi-user")
            continue
        times = [g for g in got if g is not None]
        summary.append(
            f"- {transport}, {group}: median {statistics.median(times):.1f} s, slowest "
            f"{max(times):.1f} s = {max(times) / base:.2f}x the lone boot ({base:.1f} s)"
        )
    out = table(boots, lone) + "\n" + "\n".join(summary + [f"- {c}" for c in cpu]) + "\n"
    print(out)
    if markdown:
        markdown.write_text(out)
    return 0 if all(b.ok for b in boots) else 1


if __name__ == "__main__":
    sys.exit(main())
