#!/bin/sh
# LTSP dracut module: runs `ltsp initrd-bottom` in pre-pivot. Only included
# when asked for (add_dracutmodules+=" ltsp "). Sourced by dracut.
# shellcheck disable=SC2154  # initdir, moddir are set by dracut
check() {
	[ -x /usr/lib/ltsp/ltsp ] || return 1
	return 255
}

depends() {
	echo network
}

installkernel() {
	instmods overlay squashfs loop isofs nbd
}

install() {
	mkdir -p "$initdir/usr/lib/ltsp"
	cp -a /usr/lib/ltsp/ltsp /usr/lib/ltsp/_internal "$initdir/usr/lib/ltsp/"
	inst_hook pre-pivot 50 "$moddir/ltsp-pre-pivot.sh"
}
