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
from lab.services import Dnsmasq, HttpServer, NfsServer  # noqa: E402
from lab.vm import BootResult, boot_clients  # noqa: E402

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
class Boot:
    transport: str
    group: str  # "lone", or "storm of N"
    name: str
    ok: bool
    ipxe: float | None  # iPXE has an address
    kernel: float | None  # kernel + initrds loaded, the kernel starts
    multi_user: float | None
    log: Path

    @property
    def loading(self) -> float | None:
        if self.ipxe is None or self.kernel is None:
            return None
        return self.kernel - self.ipxe


def record(result: BootResult, transport: str, group: str) -> Boot:
    tl = timeline.from_boot(result, stack="ours", method=f"pxe-{transport}")
    return Boot(
        transport=transport,
        group=group,
        name=result.name,
        ok=result.ok,
        ipxe=result.marks.get("ipxe"),
        kernel=tl.marks.get("kernel"),
        multi_user=tl.total(),
        log=result.log_path,
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=4, help="clients in the big storm (4)")
    ap.add_argument("--also", type=int, default=2, help="a smaller storm too (2; 0: none)")
    ap.add_argument(
        "--transport", default="http,tftp", help="comma list of http, tftp (default both)"
    )
    ap.add_argument("--ram", type=int, default=512, help="client RAM in MB (default 512)")
    ap.add_argument("--markdown", type=Path, help="write the results table here")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    args.transport = [t for t in args.transport.split(",") if t]
    if not args.transport or set(args.transport) - set(TRANSPORTS):
        ap.error("--transport takes http and/or tftp")
    return args


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def table(boots: list[Boot], lone: dict[str, float | None]) -> str:
    lines = [
        "| transport | boot | client | iPXE up | kernel loaded | loading | multi-user | x lone |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for b in boots:
        base = lone.get(b.transport)
        ratio = f"{b.multi_user / base:.2f}" if b.multi_user and base else "-"
        status = "" if b.ok else " (FAILED)"
        lines.append(
            f"| {b.transport} | {b.group}{status} | {b.name} | {fmt(b.ipxe)} | {fmt(b.kernel)} "
            f"| {fmt(b.loading)} | {fmt(b.multi_user)} | {ratio} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s"
    )
    install_sigterm_handler()
    if missing := ourstack.missing_pieces():
        print(f"our stack is incomplete: {'; '.join(missing)}", file=sys.stderr)
        return 1
    chroot = build_rootfs()
    run_dir = runlog.new_run_dir("pxe-storm")
    print(f"run dir: {run_dir}", file=sys.stderr)
    pub = ourstack.publish(run_dir, chroot, ltsp_conf=conf(args.transport[0]))
    boots: list[Boot] = []
    cpu: list[str] = []
    lone: dict[str, float | None] = {}
    sizes = [n for n in (args.also, args.clients) if n > 1]
    with LabNetwork(prefix="bst", clients=max([*sizes, 1])) as net:
        Dnsmasq(net, run_dir, conf_text=pub.dnsmasq_conf(net)).start()
        HttpServer(net, run_dir, pub.tftp_dir).start()
        NfsServer(net, run_dir, include=pub.ganesha_exports()).start()
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
            (result,) = boot_clients(net, [{**common, "name": f"{transport}-lone", "mac": mac(0)}])
            boots.append(record(result, transport, "lone"))
            lone[transport] = boots[-1].multi_user
            print(f"{transport} lone: multi-user at {fmt(lone[transport])} s", file=sys.stderr)
            for size in sizes:
                busy0, total0 = cpu_times()
                t0 = time.monotonic()
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
                busy1, total1 = cpu_times()
                wall = time.monotonic() - t0
                share = (busy1 - busy0) / max(1, total1 - total0)
                cpu.append(
                    f"{transport} storm of {size}: host CPU {share:.0%} busy over {wall:.0f} s"
                )
                for res in results:
                    boots.append(record(res, transport, f"storm of {size}"))
                worst = max((b.multi_user or 1e9) for b in boots[-size:])
                print(f"{transport} storm of {size}: slowest {fmt(worst)} s", file=sys.stderr)
    text = table(boots, lone)
    summary = []
    for transport in args.transport:
        for size in sizes:
            group = [b.multi_user for b in boots if b.transport == transport
                     and b.group == f"storm of {size}"]  # fmt: skip
            if None in group or not group or not lone.get(transport):
                summary.append(
                    f"- {transport}, storm of {size}: not every client reached multi-user"
                )
                continue
            got = [g for g in group if g is not None]
            worst = max(got) / lone[transport]  # type: ignore[operator]
            summary.append(
                f"- {transport}, storm of {size}: median {statistics.median(got):.1f} s, "
                f"slowest {max(got):.1f} s = {worst:.2f}x the lone boot ({fmt(lone[transport])} s)"
            )
    out = text + "\n" + "\n".join(summary + [f"- {c}" for c in cpu]) + "\n"
    print(out)
    if args.markdown:
        args.markdown.write_text(out)
    return 0 if all(b.ok for b in boots) else 1


if __name__ == "__main__":
    sys.exit(main())
