#!/bin/sh
# LTSP: dracut pre-pivot hook (sourced): the root is mounted on $NEWROOT.
mkdir -p /run/ltsp/client
/usr/lib/ltsp/ltsp initrd-bottom --rootmnt "${NEWROOT:-/sysroot}"
