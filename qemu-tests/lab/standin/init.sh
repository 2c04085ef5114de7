#!/bin/sh
# The QEMU lab's stand-in for a kernel that mounts its NFS root itself (IP_PNP and
# ROOT_NFS, as a Raspberry Pi's kernel has; Debian's kernels have neither): DHCP, the
# NFS root mounted read-only, devtmpfs on its /dev (DEVTMPFS_MOUNT), and nothing else;
# then the init= program of the kernel command line runs as pid 1 with the kernel's
# arguments for init. Built by lab/standin.py with the image's own busybox and modules.
/bin/busybox --install -s /bin
export PATH=/bin

say() { echo "stand-in: $*"; }
die() {
	say "$*; rebooting in 30 s"
	sleep 30
	reboot -f
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r module; do
	insmod "/lib/modules/$module" || say "insmod $module failed"
done </modules.load

nfsroot=
init=/sbin/init
ro=ro
read -r cmdline </proc/cmdline
for word in $cmdline; do
	case $word in
	nfsroot=*) nfsroot=${word#nfsroot=} ;;
	init=*) init=${word#init=} ;;
	rw) ro=rw ;;
	esac
done
case $nfsroot in
*:/*) ;;
*) die "nfsroot=SERVER:/PATH is missing from the kernel command line" ;;
esac
server=${nfsroot%%:*}
path=${nfsroot#*:}
path=${path%%,*}

device=
for tries in 1 2 3 4 5 6 7 8 9 10; do
	for dir in /sys/class/net/*; do
		name=${dir##*/}
		[ "$name" = lo ] || device=$name
	done
	[ -n "$device" ] && break
	say "no network interface yet (try $tries)"
	sleep 1
done
[ -n "$device" ] || die "no network interface"
ip link set "$device" up
udhcpc -i "$device" -s /udhcpc.sh -n -q -t 20 -T 1 || die "no DHCP answer on $device"

mkdir -p /newroot
mount -t nfs -o "$ro,vers=3,proto=tcp,nolock,addr=$server" "$server:$path" /newroot ||
	die "cannot mount $server:$path"
mount --move /dev /newroot/dev
umount /sys /proc
say "exec $init on $server:$path ($ro)"
# the environment a kernel gives init (no PATH: ours must not leak into the client)
exec env -i HOME=/ TERM=linux /bin/switch_root /newroot "$init" "$@"
