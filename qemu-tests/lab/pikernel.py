"""A stand-in for what a Raspberry Pi's kernel does by itself, for Debian's arm64 kernel.

The Pi's kernel has IP_PNP and ROOT_NFS built in: with `ip=dhcp root=/dev/nfs
nfsroot=SERVER:PATH` it configures the NIC by DHCP, mounts the NFS root
read-only, mounts devtmpfs on its /dev and runs `init=` as pid 1 with the
command line's init arguments. Debian's arm64 kernel has neither, so the
aarch64 lab boot (qemu-tests/test_arm64_boot.py) puts this tiny initramfs in
front: a static busybox, the NIC and NFS modules of the image's kernel, and an
/init that does exactly those steps and nothing else (no /proc, /sys or /run
is left mounted; /dev is the kernel's devtmpfs, as on the Pi), then
`switch_root`s to the NFS root and execs `init=` with its own arguments.
Everything after that is our binary's no-initramfs path.
"""

from __future__ import annotations

import io
import lzma
import stat
from pathlib import Path

from ltsp_client.server.cpio import Archive, Entry, write_segments
from ltsp_client.server.initrd import kernel_module_dirs, select_modules

# virtio_net for QEMU's NIC; nfs + nfsv3 and what they need (sunrpc, lockd, grace...)
MODULES = ("virtio_pci", "virtio_net", "nfsv3", "nfs")

INIT = r"""#!/bin/sh
# ltsp QEMU lab: stand-in for a Raspberry Pi kernel's IP_PNP + NFS root (lab/pikernel.py)
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
say() { echo "pikernel: $*" > /dev/kmsg; }
for m in $(cat /modules.order); do insmod "/modules/$m" || say "insmod $m failed"; done
nfsroot= init=/sbin/init
for word in $(cat /proc/cmdline); do
    case $word in
        nfsroot=*) nfsroot=${word#nfsroot=} ;;
        init=*) init=${word#init=} ;;
    esac
done
ip link set lo up
ip link set eth0 up
udhcpc -i eth0 -f -q -n -t 20 -T 1 -s /udhcpc.script || { say "no DHCP answer"; exec sh; }
. /run-dhcp
path=${nfsroot%%,*}
opts=${nfsroot#"$path"}
case $path in *:*) server=${path%%:*}; path=${path#*:} ;; *) server=$serverid ;; esac
say "IP-Config: eth0 $ip/$mask from $serverid; nfsroot $server:$path"
mkdir -p /newroot
mount -t nfs -o "ro,nolock,vers=3,tcp,addr=$server${opts}" "$server:$path" /newroot \
    || { say "NFS root $server:$path failed"; exec sh; }
mount -t devtmpfs devtmpfs /newroot/dev
say "VFS: Mounted root (nfs filesystem) readonly; run $init $*"
umount /sys /proc
exec switch_root /newroot "$init" "$@"
"""

UDHCPC_SCRIPT = r"""#!/bin/sh
case "$1" in
bound|renew)
    ip addr add "$ip/$mask" dev "$interface"
    for r in $router; do ip route add default via "$r" dev "$interface"; break; done
    printf 'ip=%s\nmask=%s\nserverid=%s\n' "$ip" "$mask" "$serverid" > /run-dhcp
    ;;
esac
"""


def standin_initramfs(image_root: Path, out: Path) -> Path:
    """The stand-in initrd (uncompressed cpio) for the kernel of `image_root` (one kernel)."""
    moddirs = kernel_module_dirs(image_root)
    if len(moddirs) != 1:
        raise ValueError(f"{image_root}: expected one kernel in lib/modules, found {len(moddirs)}")
    chosen = select_modules(moddirs[0], MODULES)
    if chosen.missing:
        raise ValueError(f"kernel {chosen.kver} lacks {', '.join(chosen.missing)}")
    archive = Archive()
    busybox = image_root / "bin/busybox"
    archive.add_file("bin/busybox", busybox.read_bytes(), 0o755)
    for applet in (
        "sh",
        "mount",
        "umount",
        "insmod",
        "ip",
        "udhcpc",
        "switch_root",
        "cat",
        "mkdir",
    ):
        archive.add_symlink(f"bin/{applet}", "busybox")
    for name in ("proc", "sys", "dev"):
        archive.add_dir(name)
    archive.add(Entry("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1)))
    archive.add_file("init", INIT.encode(), 0o755)
    archive.add_file("udhcpc.script", UDHCPC_SCRIPT.encode(), 0o755)
    order = []
    for rel in chosen.files:
        data = (chosen.moddir / rel).read_bytes()
        name = rel.rsplit("/", 1)[-1]
        if name.endswith(".xz"):  # busybox insmod takes plain .ko files
            data, name = lzma.decompress(data), name[: -len(".xz")]
        archive.add_file(f"modules/{name}", data)
        order.append(name)
    archive.add_file("modules.order", "".join(f"{n}\n" for n in order).encode())
    buf = io.BytesIO()
    write_segments(buf, [(archive, "none")])
    out.write_bytes(buf.getvalue())
    return out
