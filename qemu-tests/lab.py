#!/usr/bin/env python3
"""The QEMU lab from the command line.

python3 qemu-tests/lab.py demo [--stack lab|ours|upstream] [--boot nbd|nfs|pxe]
python3 qemu-tests/lab.py up [--stack ...]     # servers up until Ctrl-C, prints how to boot/attach
python3 qemu-tests/lab.py down                 # remove leftovers of killed runs
python3 qemu-tests/lab.py build                # build (or find cached) the lab image
python3 qemu-tests/lab.py report SERIAL.LOG    # parse a saved serial log
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lab import LabError
from lab.image import Published, nbd_append, nfs_append, publish
from lab.netns import LabNetwork, cleanup_stale, install_sigterm_handler
from lab.report import parse_report
from lab.runlog import new_run_dir, read_log
from lab.services import Servers, start_servers
from lab.vm import BootPlan, BootResult, boot_client, concat_initrds, qemu_argv

log = logging.getLogger("lab")
PREFIX = "ltl"
DEMO_MAC = "52:54:00:67:00:01"


def plan_lab(net: LabNetwork, run_dir: Path, boot: str, mac: str, extra: str) -> BootPlan:
    """The lab image with its own stock initramfs-tools initrd: no code of ours in the boot."""
    image = _image()
    servers = _servers(net, run_dir, nbd={"lab": image.squashfs}, nfs=[image.chroot])
    append = nfs_append(image.chroot) if boot == "nfs" else nbd_append("lab")
    append = f"{append} {extra}".strip()
    return _plan(servers, boot, mac, kernel=image.kernel, initrds=(image.initrd,), append=append)


def plan_ours(net: LabNetwork, run_dir: Path, boot: str, mac: str, extra: str) -> BootPlan:
    """The stock lab image + our ltsp.img (frozen binary) in front of its initrd."""
    from lab import ourstack

    missing = ourstack.missing_pieces()
    if missing:
        raise LabError(
            "our boot path is not complete yet: " + "; ".join(missing),
            hint="use --stack lab (stock initrd) or --stack upstream meanwhile",
        )
    image = _image()
    pub = ourstack.publish(run_dir, image.chroot)
    servers = _servers(net, run_dir, nbd={ourstack.IMAGE_NAME: pub.image}, nfs=[pub.base_dir])
    append = pub.nbd_cmdline(mac, extra) if boot == "nbd" else pub.nfs_cmdline(mac, extra)
    return _plan(servers, boot, mac, kernel=pub.kernel, initrds=tuple(pub.initrds), append=append)


def plan_upstream(net: LabNetwork, run_dir: Path, boot: str, mac: str, extra: str) -> BootPlan:
    """Upstream LTSP 23.02 (the yardstick): its own applets publish a copy of the lab image."""
    from lab import upstream

    image = _image()
    t0 = time.monotonic()
    chroot = upstream.build_chroot(image.chroot)
    pub, _timings = upstream.publish(net, run_dir, chroot)
    print(f"upstream chroot + applets: {time.monotonic() - t0:.1f}s")
    servers = _servers(
        net,
        run_dir,
        nbd={upstream.IMAGE_NAME: pub.image},
        nfs=[pub.base_dir],
        dnsmasq_conf=upstream.dnsmasq_conf_text(pub, proxy_dhcp=False),
    )
    kernel, initrds = upstream.direct_boot_files(pub)
    append = pub.nbd_cmdline(mac) if boot == "nbd" else pub.nfs_cmdline(mac)
    append = f"{append} {extra}".strip()
    if boot == "pxe":  # upstream's own dnsmasq config, TFTP dir and ltsp.ipxe
        return BootPlan(pxe=True)
    return _plan(servers, boot, mac, kernel=kernel, initrds=tuple(initrds), append=append)


STACKS: dict[str, Callable[[LabNetwork, Path, str, str, str], BootPlan]] = {
    "lab": plan_lab,
    "ours": plan_ours,
    "upstream": plan_upstream,
}


def _image() -> Published:
    t0 = time.monotonic()
    image = publish()
    print(f"lab image: {image.chroot} ({time.monotonic() - t0:.1f}s)")
    return image


def _servers(
    net: LabNetwork,
    run_dir: Path,
    *,
    nbd: dict[str, Path],
    nfs: list[Path],
    dnsmasq_conf: str | None = None,
) -> Servers:
    t0 = time.monotonic()
    servers = start_servers(
        net, run_dir, nbd_exports=nbd, nfs_exports=nfs, sshd=True, dnsmasq_conf=dnsmasq_conf
    )
    print(f"servers up in {time.monotonic() - t0:.1f}s (configs and logs under {run_dir})")
    return servers


def _plan(
    servers: Servers,
    boot: str,
    mac: str,
    *,
    kernel: Path,
    initrds: tuple[Path, ...],
    append: str,
) -> BootPlan:
    if boot == "pxe":
        servers.add_pxe_client(mac, kernel=kernel, initrds=initrds, append=append)
        return BootPlan(pxe=True)
    return BootPlan(kernel=kernel, initrds=initrds, append=append)


def _boot(
    net: LabNetwork, run_dir: Path, plan: BootPlan, args: argparse.Namespace, *, keep: bool = False
) -> BootResult:
    echo = (lambda t, text: print(f"[{t:7.2f}] {text}", flush=True)) if args.console else None
    return boot_client(
        net,
        run_dir=run_dir,
        name="client0",
        mac=args.mac,
        ram_mb=args.ram,
        timeout=args.timeout,
        on_line=echo,
        keep=keep,
        **plan.kwargs(),
    )


def cmd_demo(args: argparse.Namespace) -> int:
    run_dir = new_run_dir(f"demo-{args.stack}-{args.boot}")
    t0 = time.monotonic()
    with LabNetwork(prefix=PREFIX, clients=1, router=args.stack == "upstream") as net:
        plan = STACKS[args.stack](net, run_dir, args.boot, args.mac, args.append)
        print(f"booting client0 ({args.mac}, {args.ram} MB, {args.boot}, stack {args.stack}) ...")
        result = _boot(net, run_dir, plan, args)
    print(f"\nboot timeline (host clock, seconds since QEMU start), {result.stopped_by}:")
    print(result.timeline())
    if result.report is not None:
        print(f"\nguest report: {result.report.summary()}")
        print(f"  systemd-analyze: {result.report.analyze.splitlines()[0]}")
        if result.report.events:
            from ltsp_client.server.info import format_table, timeline

            print("\nour stages, from the guest's /run/ltsp/events.jsonl (ltsp info --timeline):")
            print(format_table(timeline(list(result.report.events))))
    print(
        f"\nserial log: {result.log_path}\nrun dir: {run_dir}\ntotal {time.monotonic() - t0:.1f}s"
    )
    if not result.ok:
        print(result.why(), file=sys.stderr)
        return 1
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    run_dir = new_run_dir(f"up-{args.stack}")
    with LabNetwork(prefix=PREFIX, clients=1, router=args.stack == "upstream") as net:
        plan = STACKS[args.stack](net, run_dir, args.boot, args.mac, args.append)
        print(f"\nlab {net.name} is up; run dir {run_dir}")
        print(f"  shell in the namespace:  ip netns exec {net.name} bash")
        print(f"  boot plan for {args.mac}: {plan}")
        if args.interactive:
            _interactive(net, run_dir, plan, args)
            return 0
        if args.boot_client:
            result = _boot(net, run_dir, plan, args, keep=True)
            print(result.timeline())
            print(f"serial log (still written): {result.log_path}")
            if result.ok:
                sock = run_dir / "client0.ttyS1.sock"
                print(f"  root shell on the client: socat -,raw,echo=0 UNIX-CONNECT:{sock}")
            else:
                print(result.why())
        print("Ctrl-C tears everything down.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("\ntearing down ...")
    return 0


def _interactive(net: LabNetwork, run_dir: Path, plan: BootPlan, args: argparse.Namespace) -> None:
    """QEMU with ttyS0 on this terminal (for ltsp.break / ltsp.shell); Ctrl-A X quits QEMU."""
    initrd = concat_initrds(plan.initrds, run_dir / "client0.initrd") if plan.initrds else None
    argv = net.exec_argv(
        qemu_argv(
            tap=net.tap(0),
            mac=args.mac,
            ram_mb=args.ram,
            kernel=plan.kernel,
            initrd=initrd,
            append=plan.append,
            serial_socket=run_dir / "client0.ttyS1.sock",
        )
    )
    print("console on this terminal; Ctrl-A X quits QEMU, Ctrl-A C the QEMU monitor")
    subprocess.run(argv, check=False)


def cmd_down(args: argparse.Namespace) -> int:
    removed = cleanup_stale(PREFIX)
    print("removed: " + (", ".join(removed) if removed else "nothing"))
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    image = publish()
    print(f"{image}\n{time.monotonic() - t0:.1f}s")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    report = parse_report(read_log(Path(args.log)))
    if report is None:
        print("no complete report in that log", file=sys.stderr)
        return 1
    print(report.summary())
    for name, lines in report.sections.items():
        print(f"== {name}")
        print("\n".join(lines))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="lab.py", description=__doc__.splitlines()[0])
    ap.add_argument("-v", "--verbose", action="store_true")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("demo", "up"):
        p = sub.add_parser(name)
        p.add_argument("--stack", choices=("lab", "ours", "upstream"), default="ours")
        p.add_argument("--boot", choices=("nbd", "nfs", "pxe"), default="nbd")
        p.add_argument("--mac", default=DEMO_MAC)
        p.add_argument("--ram", type=int, default=512)
        p.add_argument("--timeout", type=float, default=300)
        p.add_argument("--console", action="store_true", help="echo the serial console")
        p.add_argument("--append", default="", help="extra kernel parameters, e.g. ltsp.break=init")
        if name == "up":
            p.add_argument("--boot-client", action="store_true", help="also boot one client")
            p.add_argument(
                "--interactive",
                action="store_true",
                help="boot one client with its console on this terminal",
            )
    sub.add_parser("down")
    sub.add_parser("build")
    p = sub.add_parser("report")
    p.add_argument("log")
    args = ap.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="lab: %(message)s"
    )
    install_sigterm_handler()
    handler = {
        "demo": cmd_demo,
        "up": cmd_up,
        "down": cmd_down,
        "build": cmd_build,
        "report": cmd_report,
    }[args.cmd]
    try:
        return handler(args)
    except LabError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lab: interrupted; torn down", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
