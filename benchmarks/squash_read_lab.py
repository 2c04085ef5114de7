#!/usr/bin/env python3
"""Squashfs compression, read back by a lab client over NBD and over NFS.

    python3 benchmarks/squash_read_lab.py [--comp gzip --comp "zstd -Xcompression-level 3" ...]

The lab's base chroot is squashed once per compression (mksquashfs as `ltsp image`
runs it). One client boots our published image over NBD (512 MiB, TCG) and stays up;
through its root shell on ttyS1 it then reads every candidate image twice: attached
with nbd-client from the lab's nbd-server, and loop-mounted from the lab's NFS
server (nfs-ganesha, NFSv3 over TCP). Each read drops the guest's page cache, mounts
the squashfs read-only and archives the whole tree to /dev/null with tar (every file
read once); the guest reports wall seconds and its own busy CPU seconds (decompression,
network stack, tar) from /proc/stat. Prints a Markdown table (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "qemu-tests"))
sys.path.insert(0, str(ROOT))

from lab import SERVER_IP, ourstack, runlog  # noqa: E402
from lab.guestshell import GuestShell  # noqa: E402
from lab.image import build_rootfs, squash  # noqa: E402
from lab.netns import LabNetwork, install_sigterm_handler  # noqa: E402
from lab.services import Dnsmasq, NbdServer, NfsServer  # noqa: E402
from lab.vm import boot_client  # noqa: E402

from ltsp_client.run import run  # noqa: E402

DEFAULT = ("gzip", "xz", "zstd -Xcompression-level 3")
MAC = "52:54:00:67:60:01"
# busy jiffies of the guest (all but idle and iowait), then wall and busy seconds of CMD
MEASURE = r"""
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
sync; echo 3 >/proc/sys/vm/drop_caches
b0=$(busy); t0=$(date +%s.%N)
tar -C /mnt/sq -cf - . | wc -c >/tmp/bytes
t1=$(date +%s.%N); b1=$(busy)
echo "RESULT $(cat /tmp/bytes) $t0 $t1 $b0 $b1 $(getconf CLK_TCK)"
"""


def slug(comp: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", comp.replace("-Xcompression-level", ""))


def read_nbd(shell: GuestShell, name: str) -> str:
    shell.run(f"nbd-client -N {name} -R {SERVER_IP} /dev/nbd1 && mkdir -p /mnt/sq", timeout=60)
    shell.run("mount -t squashfs -o ro /dev/nbd1 /mnt/sq", timeout=60)
    out = shell.text(MEASURE, timeout=1800)
    shell.run("umount /mnt/sq; nbd-client -d /dev/nbd1", timeout=60)
    return out


def read_nfs(shell: GuestShell, export: Path, name: str) -> str:
    opts = f"ro,nolock,vers=3,proto=tcp,addr={SERVER_IP}"
    shell.run(f"mkdir -p /mnt/nfs /mnt/sq && mount -t nfs -o {opts} {SERVER_IP}:{export} /mnt/nfs")
    shell.run(f"mount -t squashfs -o ro,loop /mnt/nfs/{name}.img /mnt/sq", timeout=60)
    out = shell.text(MEASURE, timeout=1800)
    shell.run("umount /mnt/sq; umount /mnt/nfs", timeout=60)
    return out


def parse(out: str) -> tuple[int, float, float]:
    """(bytes archived, wall seconds, busy CPU seconds) from the guest's RESULT line."""
    m = re.search(r"RESULT (\d+) ([\d.]+) ([\d.]+) (\d+) (\d+) (\d+)", out)
    if not m:
        raise SystemExit(f"no RESULT in the guest's output: {out!r}")
    size, t0, t1, b0, b1, clk = m.groups()
    return int(size), float(t1) - float(t0), (int(b1) - int(b0)) / int(clk)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--comp", action="append", help=f"repeatable (default: {', '.join(DEFAULT)})")
    ap.add_argument(
        "--images", type=Path, help="squash into (and reuse the images of) this directory"
    )
    ap.add_argument("--squash-only", action="store_true", help="make the images, boot nothing")
    args = ap.parse_args()
    install_sigterm_handler()
    comps = args.comp or list(DEFAULT)
    chroot = build_rootfs()
    run_dir = runlog.new_run_dir("squash-read")
    print(f"run dir: {run_dir}", file=sys.stderr)
    images = args.images or run_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    for comp in comps:
        print(f"mksquashfs -comp {comp} (reused when made after the chroot)", file=sys.stderr)
        image = squash(chroot, images / f"{slug(comp)}.img", comp)
        info = run(["unsquashfs", "-s", str(image)], timeout=60).stdout
        if f"Compression {comp.split()[0]}" not in info:
            raise SystemExit(f"{image} is not {comp.split()[0]}-compressed: remove it")
    if args.squash_only:
        return 0
    pub = ourstack.publish(run_dir, chroot)
    rows = [
        "| compression | image MiB | NBD read s | NBD guest CPU s | NFS read s | NFS guest CPU s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    with LabNetwork(prefix="sqr", clients=1) as net:
        Dnsmasq(net, run_dir, conf_text=pub.dnsmasq_conf(net)).start()
        NfsServer(net, run_dir, exports=[images]).start()
        exports = {
            ourstack.IMAGE_NAME: pub.image,
            **{slug(c): images / f"{slug(c)}.img" for c in comps},
        }
        NbdServer(net, run_dir, exports=exports).start()
        result = boot_client(
            net, run_dir=run_dir, name="reader", mac=MAC, kernel=pub.kernel,
            initrds=pub.initrds, append=pub.nbd_cmdline(MAC), timeout=600, keep=True,
        )  # fmt: skip
        if not result.ok:
            print(result.why(), file=sys.stderr)
            return 1
        with GuestShell(run_dir / "reader.ttyS1.sock") as shell:
            for comp in comps:
                name = slug(comp)
                _, nbd_s, nbd_cpu = parse(read_nbd(shell, name))
                _, nfs_s, nfs_cpu = parse(read_nfs(shell, images, name))
                size = (images / f"{name}.img").stat().st_size / 2**20
                cells = [f"{size:.0f}", f"{nbd_s:.1f}", f"{nbd_cpu:.1f}", f"{nfs_s:.1f}"]
                rows.append(f"| {comp} | {' | '.join(cells)} | {nfs_cpu:.1f} |")
                print(rows[-1], file=sys.stderr)
            shell.poweroff()
    out = "\n".join(rows) + "\n"
    (run_dir / "table.md").write_text(out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
