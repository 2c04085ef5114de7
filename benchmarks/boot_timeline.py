#!/usr/bin/env python3
"""Boot timeline benchmark: upstream LTSP 23.02 against our stack, in the QEMU lab.

    python3 benchmarks/boot_timeline.py [--rounds N] [--stack upstream,ours]
        [--method nbd,nfs] [--image stock|school] [--svg out.svg] [--markdown out.md]
        [--ram MB]

`--image stock` (default): both stacks boot the lab's debootstrapped Debian bookworm
base image (upstream's copy has the `ltsp` package installed, as upstream
requires; ours is the base published by our applets). `--image school`: both boot
the very same published image, the base with upstream's `ltsp` plus a school
desktop's NetworkManager, ifupdown, cron and openssh-server, and a school
ltsp.conf (HOSTNAME, HOSTS_x, CRONTAB_x, SEARCH_DOMAIN); ours puts its own
ltsp.img (built from the same ltsp.conf) in front of the same kernel and initrd.
Alternately, one QEMU at a time, by direct kernel boot with ltsp.img + the
image's initrd.img, from the same server: upstream's generated dnsmasq config
(real DHCP), nfs-ganesha, nbd-server.
Per boot it prints when each stage starts (host clock since QEMU started; guest
data placed on that clock: our events.jsonl, systemd-analyze) and the bytes the
server sent, by protocol (nftables counters inside the lab namespace).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "qemu-tests"))
sys.path.insert(0, str(ROOT))

from lab import SERVER_IP, LabError, ourstack, runlog, timeline, upstream  # noqa: E402
from lab.image import build_rootfs  # noqa: E402
from lab.netns import LabNetwork, install_sigterm_handler  # noqa: E402
from lab.services import Dnsmasq, NbdServer, NfsServer  # noqa: E402
from lab.traffic import TrafficCounter  # noqa: E402
from lab.vm import boot_client  # noqa: E402

# "ours": our stack with the init stage applied from the initramfs (`ltsp.pid1-stage=0`,
# init/early.py); "ours-pid1": with `ltsp init` as pid 1 after switch_root
# (`ltsp.pid1-stage=1`, the way before), for a before/after in one run
STACKS = ("upstream", "ours", "ours-pid1")
PID1_SWITCH = {"ours": "ltsp.pid1-stage=0", "ours-pid1": "ltsp.pid1-stage=1"}
METHODS = ("nbd", "nfs")
MACS = {
    ("upstream", "nbd"): "52:54:00:67:30:01",
    ("upstream", "nfs"): "52:54:00:67:30:02",
    ("ours", "nbd"): "52:54:00:67:30:03",
    ("ours", "nfs"): "52:54:00:67:30:04",
    ("ours-pid1", "nbd"): "52:54:00:67:30:05",
    ("ours-pid1", "nfs"): "52:54:00:67:30:06",
}
BOOT_TIMEOUT = {"upstream": 300.0, "ours": 240.0, "ours-pid1": 240.0}
IMAGES = ("stock", "school")
SCHOOL_PACKAGES = ("network-manager", "ifupdown", "cron", "openssh-server")
SCHOOL_CONF = """\
# a school's ltsp.conf
[clients]
HOSTNAME=pc%{IP}
SEARCH_DOMAIN=school.lan
HOSTS_1="192.168.67.10 printer"
CRONTAB_1="30 7 * * 1-5 root /usr/bin/logger -t school good morning"
"""


def _csv(value: str, allowed: tuple[str, ...]) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    bad = [v for v in items if v not in allowed]
    if bad or not items:
        raise argparse.ArgumentTypeError(f"choose from {','.join(allowed)}")
    return items


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=1, help="boots per stack and method")
    ap.add_argument(
        "--stack",
        type=lambda v: _csv(v, STACKS),
        default=list(STACKS[:2]),
        help="upstream,ours (default); ours = ltsp.pid1-stage=0, ours-pid1 = ltsp.pid1-stage=1",
    )
    ap.add_argument("--method", type=lambda v: _csv(v, METHODS), default=list(METHODS))
    ap.add_argument(
        "--image",
        choices=IMAGES,
        default="stock",
        help="stock: the lab's base image; school: one image with NetworkManager, ifupdown, "
        "cron and ssh that both stacks boot, with a school ltsp.conf",
    )
    ap.add_argument("--svg", type=Path, help="write an SVG timeline here")
    ap.add_argument("--markdown", type=Path, help="write the markdown tables here")
    ap.add_argument("--ram", type=int, default=512, help="client RAM in MB (default 512)")
    ap.add_argument(
        "--upstream-debug",
        action="store_true",
        help="LTSP_DEBUG=1 for upstream's clients: per-script times of `ltsp init` (adds output)",
    )
    ap.add_argument("-v", "--verbose", action="store_true")
    return ap.parse_args(argv)


def same_image_cmdline(pub: upstream.Published, method: str, mac: str) -> str:
    """Our kernel command line for upstream's published image (docs/boot.md)."""
    bootif = "01-" + mac.lower().replace(":", "-")
    if method == "nbd":
        return f"root=/dev/nbd0 nbdroot={SERVER_IP},{upstream.IMAGE_NAME},nbd0 BOOTIF={bootif}"
    return (
        f"root=/dev/nfs nfsroot={SERVER_IP}:{pub.base_dir} "
        f"ltsp.image=images/{upstream.IMAGE_NAME}.img loop.max_part=9 BOOTIF={bootif}"
    )


def summary(timelines: list[timeline.Timeline]) -> str:
    """Median multi-user time per stack/method (the headline number)."""
    groups: dict[str, list[float]] = {}
    net_of_dhcp: dict[str, list[float]] = {}
    for tl in timelines:
        total = tl.total()
        if total is not None:
            groups.setdefault(f"{tl.stack}/{tl.method}", []).append(total)
            net_of_dhcp.setdefault(f"{tl.stack}/{tl.method}", []).append(
                total - (tl.dhcp_wait or 0.0)
            )
    rows = [
        f"{key}: median {statistics.median(v):.1f} s to multi-user over {len(v)} boot(s)"
        f" (min {min(v):.1f}, max {max(v):.1f}); without klibc's DHCP wait:"
        f" median {statistics.median(net_of_dhcp[key]):.1f} s"
        for key, v in sorted(groups.items())
    ]
    return "\n".join(rows) + "\n" + targets(timelines)


def pid1_work(tl: timeline.Timeline) -> float | None:
    """Seconds from the end of the LTSP initramfs step to the exec of the real init.

    Upstream: its `ltsp init` (its switch_root is 0 by construction). Ours: the
    "switch_root" gap (when `ltsp init` is pid 1, mostly the frozen binary's second
    start) plus our pid-1 stage; with the plugins applied in the initramfs (no pid-1
    stage) the plugin step moves into the initramfs step and is counted here instead.
    """
    marks = tl.marks
    start, end = marks.get("switch_root"), marks.get("systemd")
    if start is None or end is None:
        return None
    return max(0.0, end - start) + tl.initramfs_plugins


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def targets(timelines: list[timeline.Timeline]) -> str:
    """Issue 8's targets per method: pid-1 work <= 1/3 of upstream's, multi-user <= 1/2."""
    rows = []
    for method in sorted({tl.method for tl in timelines}):
        got: dict[tuple[str, str], float | None] = {}
        for stack in STACKS:
            mine = [tl for tl in timelines if tl.stack == stack and tl.method == method]
            got[(stack, "pid1")] = _median([v for tl in mine if (v := pid1_work(tl)) is not None])
            got[(stack, "total")] = _median([v for tl in mine if (v := tl.total()) is not None])
        for stack in STACKS[1:]:
            for what, limit, label in (
                ("pid1", 1 / 3, "pid-1 work"),
                ("total", 1 / 2, "multi-user"),
            ):
                ours, theirs = got[(stack, what)], got[("upstream", what)]
                if ours is None or theirs is None or theirs <= 0:
                    continue
                ratio = ours / theirs
                verdict = "met" if ratio <= limit else "NOT met"
                rows.append(
                    f"{method}: {label} median {stack} {ours:.1f} s / upstream {theirs:.1f} s"
                    f" = {ratio:.2f}x (target <= {limit:.2f}x: {verdict})"
                )
    return "".join(f"{row}\n" for row in rows)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s"
    )
    install_sigterm_handler()
    stacks: list[str] = args.stack
    if any(s.startswith("ours") for s in stacks) and (missing := ourstack.missing_pieces()):
        print(f"our stack left out, missing: {'; '.join(missing)}", file=sys.stderr)
        stacks = [s for s in stacks if not s.startswith("ours")]
    if not stacks:
        return 1
    t0 = time.monotonic()
    base = build_rootfs()
    run_dir = runlog.new_run_dir("boot-timeline")
    print(f"run dir: {run_dir}", file=sys.stderr)
    timelines: list[timeline.Timeline] = []
    breakdowns: list[str] = []
    with LabNetwork(prefix="yrd", clients=1, router=True) as net:
        nfs_exports: list[Path] = []
        nbd_exports: dict[str, Path] = {}
        plans: dict[tuple[str, str], tuple[Path, list[Path], str]] = {}
        dhcp_conf = ""
        ours_stacks = [s for s in stacks if s.startswith("ours")]
        if "upstream" in stacks or args.image == "school":
            school = args.image == "school"
            chroot = upstream.build_chroot(base, SCHOOL_PACKAGES if school else ())
            pub, applet_times = upstream.publish(
                net,
                run_dir,
                chroot,
                debug=args.upstream_debug,
                extra_conf=SCHOOL_CONF if school else "",
            )
            print(f"upstream applets (s): {applet_times}", file=sys.stderr)
            nfs_exports.append(pub.base_dir)
            nbd_exports[upstream.IMAGE_NAME] = pub.image
            kernel, initrds = upstream.direct_boot_files(pub)
            for method in args.method:
                mac = MACS[("upstream", method)]
                line = pub.nbd_cmdline(mac) if method == "nbd" else pub.nfs_cmdline(mac)
                plans[("upstream", method)] = (kernel, initrds, line)
            dhcp_conf = upstream.dnsmasq_conf_text(pub, proxy_dhcp=False)
            if ours_stacks and school:
                conf = (pub.etc_upper / "ltsp" / "ltsp.conf").read_text()
                ltsp_img = ourstack.build_ltsp_img(run_dir / "ours", chroot, ltsp_conf=conf)
                for stack in ours_stacks:
                    for method in args.method:
                        line = same_image_cmdline(pub, method, MACS[(stack, method)])
                        line += f" {PID1_SWITCH[stack]}"
                        plans[(stack, method)] = (pub.kernel, [ltsp_img, pub.initrd], line)
        if ours_stacks and args.image == "stock":
            ours = ourstack.publish(run_dir, base)
            nfs_exports.append(ours.base_dir)
            nbd_exports[ourstack.IMAGE_NAME] = ours.image
            for stack in ours_stacks:
                for method in args.method:
                    mac = MACS[(stack, method)]
                    extra = PID1_SWITCH[stack]
                    line = (
                        ours.nbd_cmdline(mac, extra)
                        if method == "nbd"
                        else ours.nfs_cmdline(mac, extra)
                    )
                    plans[(stack, method)] = (ours.kernel, ours.initrds, line)
        if dhcp_conf:
            Dnsmasq(net, run_dir, conf_text=dhcp_conf).start()
        else:
            Dnsmasq(net, run_dir, mode="dhcp").start()
        NfsServer(net, run_dir, exports=nfs_exports).start()
        NbdServer(net, run_dir, exports=nbd_exports).start()
        print(f"setup done in {time.monotonic() - t0:.0f} s", file=sys.stderr)
        with TrafficCounter(net) as traffic:
            for rnd in range(args.rounds):
                for method in args.method:
                    for stack in stacks:
                        kernel, initrds, line = plans[(stack, method)]
                        name = f"{stack}-{method}-{rnd + 1}"
                        traffic.reset()
                        result = boot_client(
                            net,
                            run_dir=run_dir,
                            name=name,
                            mac=MACS[(stack, method)],
                            ram_mb=args.ram,
                            kernel=kernel,
                            initrds=initrds,
                            append=line,
                            timeout=BOOT_TIMEOUT[stack],
                            markers=timeline.VM_MARKERS,
                        )
                        kind = "ours" if stack.startswith("ours") else stack
                        tl = timeline.from_boot(
                            result, stack=kind, method=method, served=traffic.read()
                        )
                        tl.stack, tl.run = stack, rnd + 1
                        steps = timeline.pid1_steps(result, stack=kind)
                        if steps:
                            top = sorted(steps, key=lambda s: -s[1])[:6]
                            breakdowns.append(
                                f"{name}: " + ", ".join(f"{step} {sec:.1f}" for step, sec in top)
                            )
                        if not result.ok:
                            tl.notes.append(f"{result.stopped_by}: {result.log_path}")
                        timelines.append(tl)
                        status = "ok" if result.ok else f"FAILED ({result.stopped_by})"
                        print(
                            f"{name}: {status}, multi-user at {tl.total()} s, "
                            f"serial log {result.log_path}",
                            file=sys.stderr,
                        )
    print("\nStage durations (s) and bytes served per boot (MB):")
    print(timeline.table(timelines))
    print("Stage start times (s since QEMU start):")
    print(timeline.boundaries_table(timelines))
    print(summary(timelines))
    if breakdowns:
        print("Slowest steps of the LTSP pid-1 stage (s):")
        print("\n".join(breakdowns) + "\n")
    for tl in timelines:
        for note in tl.notes:
            print(f"note {tl.stack}/{tl.method}: {note}")
    md = (
        "Stage durations (s) and bytes served per boot (MB):\n\n"
        + timeline.table(timelines, markdown=True)
        + "\nStage start times (s since QEMU start):\n\n"
        + timeline.boundaries_table(timelines, markdown=True)
        + "\n"
        + summary(timelines)
        + ("\nSlowest steps of the LTSP pid-1 stage (s):\n\n" if breakdowns else "")
        + "".join(f"- {b}\n" for b in breakdowns)
    )
    (run_dir / "timeline.md").write_text(md)
    (run_dir / "timeline.svg").write_text(timeline.svg(timelines))
    if args.markdown:
        args.markdown.write_text(md)
    if args.svg:
        args.svg.write_text(timeline.svg(timelines))
    print(f"total {time.monotonic() - t0:.0f} s; tables and SVG also in {run_dir}", file=sys.stderr)
    return 0 if all(tl.ok for tl in timelines) else 2


if __name__ == "__main__":
    try:
        sys.exit(main())
    except LabError as exc:
        print(f"boot_timeline: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
