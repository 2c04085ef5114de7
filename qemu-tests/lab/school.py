"""The school image and ltsp.conf both stacks are compared on, and the differences we keep.

Used by qemu-tests/test_plugins_vs_upstream.py (both stacks boot it in QEMU) and
qemu-tests/test_init_vs_upstream.py (both `ltsp init`s run on its chroot,
side by side, without QEMU).
"""

from __future__ import annotations

import re

from lab import SERVER_IP

SCHOOL_PACKAGES = ("network-manager", "ifupdown", "cron", "openssh-server")
TEACHER = "52:54:00:67:30:01"
STUDENT = "52:54:00:67:30:02"
SCHOOL_CONF = f"""\
# a school's ltsp.conf: every client, then per-MAC sections
[clients]
LTSP_DEBUG=1
SEARCH_DOMAIN=school.lan
HOSTS_1="192.168.67.10 printer"
CRONTAB_1="30 7 * * 1-5 root /usr/bin/logger -t school good morning"

[{TEACHER}]
HOSTNAME=teacher

[teacher]
HOSTS_2="192.168.67.11 projector"

[{STUDENT}]
HOSTNAME=student%{{IP}}
DNS_SERVER="{SERVER_IP} 9.9.9.9"
"""
# /etc entries that differ between any two boots, whoever boots them (nothing LTSP does).
VOLATILE = (
    "etc/ltsp/",  # each stack's own ltsp.img carries its own copy of /etc/ltsp
    "etc/ssh/ssh_host_",  # regenerated at every boot after `ltsp image` removed them
    "etc/.pwd.lock",
)
# /etc entries and units that differ on purpose: what -> why (see docs/compatibility.md).
KNOWN_DIFFERENCES: dict[str, str] = {
    r"etc/hostname": "mode only: upstream keeps the image's mode when it rewrites a file (the lab"
    " image's /etc/hostname is 0755); ours writes 0644",
    r"etc/pam\.d/common-(auth|session)": "users: the pam_exec line runs our `ltsp login`, not"
    " upstream's pamltsp (docs/users.md)",
    r"etc/systemd/logind\.conf(\.d|\.d/ltsp\.conf)?": "users: KillUserProcesses=yes as a logind"
    " drop-in instead of an edit of logind.conf",
    r"etc/systemd/(journald|system|user)\.conf(\.d|\.d/ltsp\.conf)?": "systemd plugin: drop-ins"
    " instead of regex edits of the main files (upstream's regex misses keys at column 0)",
    r"etc/systemd/system-generators(/systemd-(gpt-auto|cryptsetup|veritysetup|integritysetup"
    r"|debug|run|hibernate-resume|rc-local|system-update|sysv)-generator)?": "systemd plugin:"
    " gpt-auto masked by a /dev/null link in /etc instead of deleted from /usr/lib; the volume"
    " generators masked when the client has no such volume, the others when they would write"
    " nothing (no option of theirs, no /etc/rc.local, every init script has a unit)",
    r"etc/tmpfiles\.d(/systemd\.conf)?": "systemd plugin: an /etc/tmpfiles.d override instead of"
    " an edit of /usr/lib/tmpfiles.d/systemd.conf",
    r"etc/systemd/system/(multi-user\.target\.wants/)?ltsp\.service": "ltsp-service plugin: our"
    " ltsp.service (running our binary) is written at boot over the image's upstream one",
    r"(etc/systemd/system/|unit )rsyslog\.service": "services plugin: rsyslog is not installed;"
    " upstream links a mask for it anyway, ours masks only units the image has",
    r"(etc/systemd/system/((multi-user|network-online)\.target\.wants/)?|unit )(e2scrub_reap"
    r"|NetworkManager-wait-online|systemd-networkd-wait-online|ifupdown-wait-online"
    r"|ifupdown-pre|networking|systemd-random-seed|systemd-sysusers|systemd-repart"
    r"|modprobe@efi_pstore|systemd-journal-flush|systemd-remount-fs|systemd-modules-load|kmod)"
    r"\.service": "services plugin: a diskless client does not wait for the network to come"
    " online, nor for e2scrub_reap, a udev settle or `ifup -a` for the boot NIC;"
    " systemd-random-seed masked (upstream's disable does nothing to it), systemd-sysusers"
    " masked when it has no user to create; systemd-repart (no repart.d) and its two modprobe"
    " units, modprobe@efi_pstore without EFI, the journal flush of a volatile journal,"
    " remount-fs and modules-load (kmod is Debian's alias of it) with nothing in fstab or"
    " modules-load.d for them"
    " (docs/compatibility.md)",
    r"etc/udev/rules\.d/80-ifupdown\.rules": "services plugin: ifupdown's udev rule without"
    " its hotplug helper line when no interface is allow-hotplug (the helper would do nothing)",
}


def unexplained(differences: dict[str, str]) -> list[str]:
    """The differences KNOWN_DIFFERENCES does not explain (files differing only in comment
    lines are explained: the generated-by headers are worded differently)."""
    return [
        f"{what}: {how}"
        for what, how in differences.items()
        if how != "comments" and not any(re.fullmatch(p, what) for p in KNOWN_DIFFERENCES)
    ]
