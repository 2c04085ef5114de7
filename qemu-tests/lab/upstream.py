"""Upstream LTSP 23.02 in the lab: the yardstick our stack is measured against.

Upstream LTSP is installed on the host (scripts/deps/apt-yardstick.txt) and in a
lab image made for it; it is never part of our product. Its own applets publish
a per-run BASE_DIR/TFTP_DIR under the run directory:

    ltsp image --mksquashfs-params="-comp zstd -Xcompression-level 3" CHROOT
    ltsp ipxe --binaries=0, ltsp initrd, ltsp dnsmasq, ltsp nfs

The applets run inside the lab namespace (LTSP's network detection wants a route
towards 192.168.67.1, which the lab's router namespace provides) and inside a
private mount namespace with an overlay on /etc and /bin/true bind-mounted over
systemctl: what `ltsp dnsmasq`, `ltsp nfs` and `ltsp initrd` write to /etc lands
in the overlay's upper dir under the run directory, and no service is restarted.
BASE_DIR and TFTP_DIR are set in the [server] section of the overlaid ltsp.conf
(`ltsp image` calls `ltsp kernel` without passing `-t` on).
"""

from __future__ import annotations

import hashlib
import logging
import re
import shlex
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lab import SERVER_IP, LabError
from lab.image import build_rootfs, cache_root, file_lock
from lab.layout import Layout
from lab.netns import LabNetwork
from lab.report import Report
from lab.vm import BootResult
from ltsp_client.errors import CommandError
from ltsp_client.run import run

log = logging.getLogger(__name__)

LTSP = "/usr/sbin/ltsp"  # upstream's; `ltsp` on PATH may be ours
IMAGE_NAME = "x86_64"
MKSQUASHFS_PARAMS = "-comp zstd -Xcompression-level 3"
# bump when the recipe of the upstream chroot changes
RECIPE = (
    "upstream-ltsp-v1: apt-get install --no-install-recommends ltsp nbd-client linux-image-amd64"
)
CHROOT_PACKAGES = ("ltsp", "nbd-client", "linux-image-amd64")


def _sh(script: str, *, timeout: float, log_path: Path, argv_prefix: Sequence[str] = ()) -> None:
    """Run a sh script (in a private mount namespace), its output appended to log_path."""
    argv = [*argv_prefix, "unshare", "-m", "--propagation", "private", "sh", "-ec", script]
    result = run(argv, timeout=timeout, check=False)
    with log_path.open("a", encoding="utf-8") as out:
        out.write(f"$ {shlex.join(argv[:6])} ...\n{script}\n--- stdout\n{result.stdout}")
        out.write(f"--- stderr\n{result.stderr}\n--- exit {result.returncode}\n")
    if not result.ok:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-8:])
        raise LabError(f"step failed (exit {result.returncode}): {tail}", hint=f"see {log_path}")


def build_chroot(base: Path | None = None, extra_packages: Sequence[str] = ()) -> Path:
    """The lab's base chroot copied, with upstream's `ltsp` installed in the copy; cached.

    The cache key is the base chroot's path (which carries the lab's own recipe
    hash) plus this recipe. Installing `ltsp` in the image is what upstream
    requires: its initramfs hook adds squashfs and overlay to the image's initrd,
    and its ltsp.service runs at boot. `extra_packages` (e.g. a school desktop's
    NetworkManager, cron, ssh) make another cached chroot.
    """
    if base is None:
        base = build_rootfs()
    recipe = RECIPE + "".join(f" {p}" for p in sorted(extra_packages))
    key = hashlib.sha256(f"{base.resolve()}|{recipe}".encode()).hexdigest()[:16]
    top = cache_root() / f"upstream-{key}"
    chroot = top / IMAGE_NAME
    done = top / ".done"
    if done.exists():
        return chroot
    with file_lock(cache_root() / f"upstream-{key}.lock"):
        if done.exists():
            return chroot
        t0 = time.monotonic()
        top.mkdir(parents=True, exist_ok=True)
        tmp = top / f".tmp-{IMAGE_NAME}"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(chroot, ignore_errors=True)
        log_path = top / "build.log"
        log_path.write_text("")
        run(["cp", "-a", "--reflink=auto", f"{base}/.", f"{tmp}/"], timeout=300)
        packages = " ".join([*CHROOT_PACKAGES, *sorted(extra_packages)])
        script = f"""
C={shlex.quote(str(tmp))}
mount -t proc proc "$C/proc"; mount -t sysfs sys "$C/sys"
mount --bind /dev "$C/dev"; mount --bind /dev/pts "$C/dev/pts"
printf '#!/bin/sh\\nexit 101\\n' > "$C/usr/sbin/policy-rc.d"; chmod 755 "$C/usr/sbin/policy-rc.d"
had_resolv=0; [ -e "$C/etc/resolv.conf" ] || [ -L "$C/etc/resolv.conf" ] && had_resolv=1
[ "$had_resolv" = 1 ] && mv "$C/etc/resolv.conf" "$C/etc/resolv.conf.lab"
cp /etc/resolv.conf "$C/etc/resolv.conf"
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
chroot "$C" apt-get update -q
chroot "$C" apt-get install -y -q --no-install-recommends {packages}
chroot "$C" apt-get clean
rm -rf "$C"/var/lib/apt/lists/* "$C/usr/sbin/policy-rc.d" "$C/etc/resolv.conf"
[ "$had_resolv" = 1 ] && mv "$C/etc/resolv.conf.lab" "$C/etc/resolv.conf"
true
"""
        _sh(script, timeout=900, log_path=log_path)
        tmp.rename(chroot)
        done.write_text(f"{recipe}\nbase={base}\n")
        log.info("upstream chroot %s built in %.1fs", chroot, time.monotonic() - t0)
    prune_stale_chroots()
    return chroot


def prune_stale_chroots() -> list[Path]:
    """Delete cached upstream chroots whose lab base chroot is gone (~600 MB each)."""
    removed = []
    for top in sorted(cache_root().glob("upstream-*")):
        done = top / ".done"
        if not top.is_dir() or not done.is_file():
            continue
        base = next(
            (line[5:] for line in done.read_text().splitlines() if line.startswith("base=")), ""
        )
        if not base or Path(base).is_dir():
            continue
        with file_lock(cache_root() / f"{top.name}.lock"):
            shutil.rmtree(top, ignore_errors=True)
        removed.append(top)
        log.info("removed stale upstream chroot %s (its base %s is gone)", top, base)
    return removed


def ltsp_conf(
    *,
    base_dir: Path,
    tftp_dir: Path,
    kernel_parameters: str = "console=ttyS0",
    clients: Mapping[str, str] | None = None,
    debug: bool = False,
    extra: str = "",
) -> str:
    """The lab's /etc/ltsp/ltsp.conf: per-run dirs, serial console, no iPXE menu.

    `clients` maps a MAC to that client's KERNEL_PARAMETERS (e.g. the NBD switch);
    `extra` is appended (a school's own sections).
    """
    lines = [
        "# /etc/ltsp/ltsp.conf of the ltsp QEMU lab (lives in an overlay; host /etc untouched)",
        "[server]",
        f"BASE_DIR={base_dir}",
        f"TFTP_DIR={tftp_dir}",
        f'KERNEL_PARAMETERS="{kernel_parameters}"',
        'MENU_TIMEOUT="-1"',
        "",
        "[clients]",
    ]
    if debug:
        lines.append("LTSP_DEBUG=1")
    for mac, params in (clients or {}).items():
        lines += ["", f"[{mac.lower()}]", f'KERNEL_PARAMETERS="{params}"']
    return "\n".join(lines) + "\n" + (f"\n{extra}" if extra else "")


def nbd_kernel_parameters(*, export: str = IMAGE_NAME, console: str = "console=ttyS0") -> str:
    """Switch an upstream client from NFS to NBD: initramfs-tools' nbd script mounts the image.

    boot=local because initramfs-tools keeps BOOT=nfs from the earlier root=/dev/nfs;
    the empty ltsp.image= stops `ltsp initrd-bottom` looking for an image file.
    """
    return f"{console} root=/dev/nbd0 nbdroot={SERVER_IP},{export},nbd0 boot=local ltsp.image="


@dataclass(frozen=True)
class Published(Layout):
    """What upstream's applets produced for one run."""

    etc_upper: Path = Path()
    log_dir: Path = Path()

    @property
    def dnsmasq_conf(self) -> Path:
        """Where `ltsp dnsmasq` writes (in the /etc overlay's upper dir)."""
        return self.etc_upper / "dnsmasq.d" / "ltsp-dnsmasq.conf"

    def generated_dnsmasq(self, *, proxy_dhcp: bool) -> Path:
        """The kept output of `ltsp dnsmasq` in real-DHCP or proxy-DHCP mode."""
        return self.log_dir.parent / f"ltsp-dnsmasq.{'proxy' if proxy_dhcp else 'real'}.conf"

    def nfs_cmdline(self, mac: str, kernel_parameters: str = "console=ttyS0") -> str:
        """What upstream's ltsp.ipxe passes (default `images` method): the method's
        parameters, BOOTIF, then KERNEL_PARAMETERS ([server]'s, or the client's section's)."""
        bootif = "01-" + mac.lower().replace(":", "-")
        return (
            f"root=/dev/nfs nfsroot={SERVER_IP}:{self.base_dir} "
            f"ltsp.image=images/{IMAGE_NAME}.img loop.max_part=9 BOOTIF={bootif} "
            f"{kernel_parameters}"
        )

    def nbd_cmdline(self, mac: str) -> str:
        """For a client whose [MAC] section sets the NBD switch as its KERNEL_PARAMETERS."""
        return self.nfs_cmdline(mac, nbd_kernel_parameters())


class Applets:
    """Runs upstream's applets in the lab namespace with /etc overlaid and systemctl neutered."""

    def __init__(self, net: LabNetwork | None, run_dir: Path) -> None:
        self.net = net
        self.top = run_dir / "upstream"
        self.base_dir = self.top / "base"
        self.tftp_dir = self.top / "tftp"
        self.etc_upper = self.top / "etc-upper"
        self.etc_work = self.top / "etc-work"
        self.log_dir = self.top / "logs"
        for d in (self.base_dir, self.tftp_dir, self.etc_upper / "ltsp", self.etc_work):
            d.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)

    def write_conf(self, text: str) -> None:
        (self.etc_upper / "ltsp" / "ltsp.conf").write_text(text)

    def __call__(self, applet: str, *args: str, timeout: float = 300) -> float:
        """Run `ltsp APPLET ARGS`; return its wall time. Output goes to logs/ltsp-APPLET.log."""
        ltsp = shlex.join([LTSP, applet, *args])
        script = (
            f"mount -t overlay lab-etc -o lowerdir=/etc,upperdir={self.etc_upper},"
            f"workdir={self.etc_work} /etc\n"
            'mount --bind /bin/true "$(command -v systemctl || echo /usr/bin/systemctl)"\n'
            f"exec {ltsp}\n"
        )
        prefix = self.net.exec_argv([]) if self.net is not None else []
        t0 = time.monotonic()
        _sh(
            script,
            timeout=timeout,
            log_path=self.log_dir / f"ltsp-{applet}.log",
            argv_prefix=prefix,
        )
        return time.monotonic() - t0


def publish(
    net: LabNetwork | None,
    run_dir: Path,
    chroot: Path,
    *,
    clients: Mapping[str, str] | None = None,
    debug: bool = False,
    extra_conf: str = "",
) -> tuple[Published, dict[str, float]]:
    """Publish `chroot` with upstream's applets; return the result and each applet's wall time.

    `ltsp dnsmasq` runs twice: with LTSP's real DHCP range (192.168.67.20-250, the lab's
    own subnet) and in proxy-only mode (beside a foreign DHCP server); both outputs are kept.
    """
    if not Path(LTSP).exists():
        raise LabError("upstream LTSP is not installed on the host", hint="apt-get install ltsp")
    applets = Applets(net, run_dir)
    applets.write_conf(
        ltsp_conf(
            base_dir=applets.base_dir,
            tftp_dir=applets.tftp_dir,
            clients=clients,
            debug=debug,
            extra=extra_conf,
        )
    )
    published = Published(
        base_dir=applets.base_dir,
        tftp_dir=applets.tftp_dir,
        image_name=IMAGE_NAME,
        etc_upper=applets.etc_upper,
        log_dir=applets.log_dir,
    )
    timings = {
        "image": applets("image", f"--mksquashfs-params={MKSQUASHFS_PARAMS}", str(chroot)),
        "ipxe": applets("ipxe", "--binaries=0"),
        "initrd": applets("initrd"),
    }
    for proxy in (False, True):
        mode = "proxy" if proxy else "real"
        timings[f"dnsmasq-{mode}"] = applets(
            "dnsmasq", f"--real-dhcp={0 if proxy else 1}", f"--dns-server={SERVER_IP}"
        )
        shutil.copyfile(published.dnsmasq_conf, published.generated_dnsmasq(proxy_dhcp=proxy))
    # `ltsp nfs` writes exports for the kernel NFS server; the lab serves NFS with ganesha,
    # but runs it anyway so that what it does shows up in its log
    try:
        timings["nfs"] = applets("nfs")
    except LabError as exc:
        log.info("ltsp nfs: %s (the lab serves NFS with nfs-ganesha)", exc)
    for path in (published.image, published.kernel, published.initrd, published.ltsp_img):
        if not path.is_file():
            raise LabError(f"upstream's applets did not produce {path}", hint=str(applets.log_dir))
    return published, timings


def dnsmasq_conf_text(published: Published, *, proxy_dhcp: bool) -> str:
    """Upstream's generated dnsmasq config plus the lab's additions (appended, marked).

    - proxy mode: `ltsp dnsmasq` writes a proxy range for every routed subnet except
      192.168.67.0/24 (its own internal one, where it is the real DHCP server). The lab
      uses exactly that subnet, so the proxy range for it is added here.
    - real DHCP: `no-ping` spares dnsmasq's ~3 s address probe, as the lab's own config does,
      so both stacks see the same DHCP server.
    """
    text = published.generated_dnsmasq(proxy_dhcp=proxy_dhcp).read_text()
    extra = ["", "# --- ltsp QEMU lab additions"]
    if proxy_dhcp:
        extra.append(f"dhcp-range=set:proxy,{SERVER_IP.rsplit('.', 1)[0]}.0,proxy,255.255.255.0")
    else:
        extra.append("no-ping")
    return text + "\n".join(extra) + "\n"


def direct_boot_files(published: Published) -> tuple[Path, list[Path]]:
    """Kernel and initrds for QEMU's direct kernel boot: ltsp.img first, as iPXE loads them."""
    return published.kernel, [published.ltsp_img, published.initrd]


def check_published(published: Published) -> list[str]:
    """Problems with a publication (empty when it looks bootable)."""
    problems = []
    try:
        listing = run(["unsquashfs", "-l", str(published.image)], timeout=120).stdout
    except CommandError as exc:
        return [f"cannot list {published.image}: {exc}"]
    for needed in ("/usr/share/ltsp/ltsp", "/sbin/init", "/usr/local/sbin/lab-report"):
        if f"squashfs-root{needed}" not in listing:
            problems.append(f"{needed} missing from {published.image}")
    return problems


def check_booted(result: BootResult, *, known_failed: frozenset[str] = frozenset()) -> Report:
    """What every LTSP client boot in the lab must show, upstream's or ours: it reached
    the report, hostname ltsp<N>, an overlay root, no failed units beyond `known_failed`,
    /run/ltsp/client. Raises AssertionError (for pytest) with the boot's tail."""
    assert result.ok, result.why()
    report = result.report
    assert report is not None, result.why()
    assert re.fullmatch(r"ltsp\d+", report.hostname), report.summary()
    root = report.root
    assert root is not None and root.fstype == "overlay", report.summary()
    assert set(report.failed_units) <= known_failed, report.summary()
    assert "client" in report.run_ltsp, report.run_ltsp
    return report
