#!/bin/sh
# udhcpc's event script for the lab's stand-in initramfs: configure the lease as the
# kernel's IP_PNP would (address, default route); DNS is the client's business later.
# shellcheck disable=SC2154 # udhcpc sets interface, ip, mask and router
case $1 in
bound | renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/$mask" dev "$interface"
	if [ -n "$router" ]; then
		ip route add default via "${router%% *}" dev "$interface"
	fi
	echo "stand-in: $interface $ip/$mask${router:+ via $router}"
	;;
esac
