"""Disable and mask the services a diskless client should not run (upstream's 56-services).

Runs last: whether the NFS client services are needed depends on the final
/etc/fstab (the fstab plugin writes it earlier).
"""

from __future__ import annotations

import logging
import os

from ltsp_client.pluginkit import Param, Plugin, PluginContext, sysconf, sysusers, unitaliases
from ltsp_client.pluginkit.interfaces import read_interfaces

log = logging.getLogger(__name__)

# Upstream's default lists (spec §3.15), as unit names without `.service`.
DISABLE_SYSTEM = (
    "alsa-restore",
    "alsa-state",
    "apparmor",
    "apt-daily",
    "apt-daily.timer",
    "apt-daily-upgrade",
    "apt-daily-upgrade.timer",
    "dnsmasq",
    "epoptes",
    "fwupd-refresh.timer",
    "logrotate.timer",
    "man-db.timer",
    "motd-news",
    "motd-news.timer",
    "ModemManager",
    "nfs-kernel-server",
    "nfs-server",
    "packagekit",
    "packagekit-offline-update",
    "rsyslog",
    "ssh",
    "systemd-random-seed",
    "systemd-rfkill",
    "unattended-upgrades",
    "ureadahead",
    "ureadahead-stop",
    "x2goserver",
    "xrdp",
    "xrdp-sesman",
    "alsa-utils",
    "grub-common",
    "nbd-server",
    "dhcpcd",
    "anydesk",
    "teamviewerd",
)
# Disabled too when /etc/fstab mounts nothing over NFS.
NFS_CLIENT = (
    "auth-rpcgss-module",
    "nfs-blkmap",
    "nfs-common",
    "nfs-idmapd",
    "nfs-mountd",
    "nfs-utils",
    "portmap",
    "rpcbind",
    "rpc-gssd",
    "rpc-statd-notify",
    "rpc-statd",
    "rpc-svcgssd",
)
# Not upstream's: what a diskless client would only wait for at boot (docs/compatibility.md).
# The boot NIC is up since the initramfs and unmanaged, so "network online" is true
# before systemd starts; e2scrub_reap looks for LVM snapshots the client never has.
NOT_WAITED_FOR = (
    "e2scrub_reap",
    "NetworkManager-wait-online",
    "systemd-networkd-wait-online",
    "ifupdown-wait-online",
)
# ifupdown-pre runs `udevadm settle` when ifupdown has an interface to raise; when
# that is only the boot NIC (up, `inet manual`) there is nothing to wait for.
IFUPDOWN_PRE = "ifupdown-pre"
# networking.service runs `ifup -a`: for lo (systemd raised it) and the boot NIC
# (`inet manual`, up since the initramfs) only, it runs ifupdown's hook scripts and
# holds network.target back, nothing else.
NETWORKING = "networking"
# udev runs ifupdown's hotplug helper (a shell, and ifquery for a NIC) for every network
# device it adds; the helper raises only `allow-hotplug` interfaces. Same name in /etc wins.
HOTPLUG_RULES = ("/usr/lib/udev/rules.d/80-ifupdown.rules", "/lib/udev/rules.d/80-ifupdown.rules")
HOTPLUG_OVERRIDE = "/etc/udev/rules.d/80-ifupdown.rules"
HOTPLUG_RUN = 'RUN+="ifupdown-hotplug"'
# Debian has no /etc/.updated, so systemd-sysusers runs at every boot, before
# sysinit.target, although the image's packages created their users when installed.
SYSUSERS = "systemd-sysusers"
# Units skipped by their own conditions on a diskless client, whose wants still run:
# systemd-repart (nothing in repart.d) pulls modprobe@loop and modprobe@dm_mod.
REPART = "systemd-repart"
REPART_DIRS = ("/etc/repart.d", "/run/repart.d", "/usr/local/lib/repart.d", "/usr/lib/repart.d")
# systemd-pstore pulls modprobe@efi_pstore: without EFI that module has no storage to offer.
EFI_PSTORE = "modprobe@efi_pstore.service"
# `journalctl --flush` moves the runtime journal to /var/log/journal: nothing to move when
# journald keeps it in RAM (the systemd plugin's Storage=volatile), before tmpfiles-setup.
JOURNAL_FLUSH = "systemd-journal-flush"
# systemd-remount-fs remounts only /, /usr and the API file systems that /etc/fstab lists
# (and / when gpt-auto-generator, masked by the systemd plugin, asks for it).
REMOUNT_FS = "systemd-remount-fs"
API_MOUNTS = ("/proc", "/sys", "/dev", "/run")
# systemd-modules-load runs when a modules-load.d directory has a file (Debian's
# modules.conf -> ../modules, all comments), and then loads nothing.
MODULES_LOAD = "systemd-modules-load"
MODULES_LOAD_DIRS = tuple(
    f"{d}/modules-load.d" for d in ("/etc", "/run", "/usr/local/lib", "/usr/lib", "/lib")
)
# upstream's list disables systemd-random-seed, which does nothing to a static unit; every
# client loads the image's one seed and saves it to a tmpfs: masked, so it really is off
MASK_SYSTEM = ("apt-daily", "apt-daily-upgrade", "rsyslog", "systemd-random-seed")
MASK_SESSION = ("gnome-software-service", "update-notifier")
AUTOSTART_DIRS = ("/etc/xdg/autostart", "/usr/share/upstart/xdg/autostart")
USERNS_SYSCTL = "/etc/sysctl.d/50-ltsp.conf"
USERNS_LINES = (
    "# Without AppArmor profiles loaded, Ubuntu's restriction breaks browsers (LTSP #950)\n"
    "kernel.apparmor_restrict_unprivileged_userns = 0\n"
)


def _words(ctx: PluginContext, name: str) -> list[str]:
    return [w for w in ctx.words(name) if not w.startswith("#")]


def mounts_nfs(fstab: str) -> bool:
    """Whether an fstab entry (not a comment) has type nfs or nfs4."""
    for line in fstab.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 3 and fields[2].startswith("nfs"):
            return True
    return False


def remounts(fstab: str) -> bool:
    """Whether an fstab entry is one systemd-remount-fs acts on: /, /usr, an API mount."""
    for line in fstab.splitlines():
        fields = line.split("#", 1)[0].split()
        where = os.path.normpath(fields[1]) if len(fields) >= 2 else ""
        if where in ("/", "/usr") or any(
            where == d or where.startswith(f"{d}/") for d in API_MOUNTS
        ):
            return True
    return False


def wanted(
    defaults: tuple[str, ...] | list[str], extra: list[str], keep: set[str], real: dict[str, str]
) -> list[str]:
    """`defaults` + `extra`, minus what `keep` names (under any alias), each real unit once."""
    out: dict[str, str] = {}
    for name in [*defaults, *extra]:
        unit = real[name] if name in real else unitaliases.as_unit(name)
        if unit not in keep and unit not in out.values():
            out[name] = unit
    return list(out)


class Services(Plugin, name="services", order=95):
    """Disable and mask services that make no sense on a netbooted client.

    Upstream's lists (apt timers, unattended-upgrades, rsyslog, ssh, the NFS
    client services unless /etc/fstab has an NFS line, ...), what a diskless
    client would only wait for (the wait-online services, e2scrub_reap, and
    when ifupdown raises no NIC but the boot NIC: ifupdown-pre's udev settle,
    and networking.service if its `ifup -a` finds only lo and the boot NIC
    as `inet manual`; systemd-sysusers when the image has every user and
    group it declares; systemd-repart without repart.d, which pulls in two
    modprobe units; modprobe@efi_pstore without EFI; systemd-journal-flush
    when the journal is volatile; systemd-remount-fs when /etc/fstab lists
    neither /, /usr nor an API file system; systemd-modules-load when no
    modules-load.d file names a module) plus
    DISABLE_/MASK_ SYSTEM_/SESSION_ SERVICES, minus KEEP_SYSTEM_/SESSION_SERVICES.
    A kept unit is kept under all its names: KEEP_SYSTEM_SERVICES=rpcbind
    also keeps Debian's `portmap` alias. Units are acted on as files.

    Example::

        [clients]
        KEEP_SYSTEM_SERVICES="ssh rpcbind"
        MASK_SYSTEM_SERVICES=cups-browsed
        DISABLE_SESSION_SERVICES=tracker-miner-fs-3
    """

    params = (
        Param("DISABLE_SYSTEM_SERVICES", "words", help="more system services to disable"),
        Param("KEEP_SYSTEM_SERVICES", "words", help="system services to leave alone"),
        Param("MASK_SYSTEM_SERVICES", "words", help="more system services to mask"),
        Param("DISABLE_SESSION_SERVICES", "words", help="more user services to disable"),
        Param("KEEP_SESSION_SERVICES", "words", help="user services to leave alone"),
        Param("MASK_SESSION_SERVICES", "words", help="more user services to mask"),
    )
    aliases = (
        "services_main",
        "disable_session_services",
        "disable_system_services",
        "mask_session_services",
        "mask_system_services",
    )

    def applies(self, ctx: PluginContext) -> bool:
        return ctx.path("/etc/systemd/system").is_dir() or ctx.path("/etc/init.d").is_dir()

    def apply(self, ctx: PluginContext) -> None:
        self._session(ctx)
        self._system(ctx)

    def _system(self, ctx: PluginContext) -> None:
        nfs = NFS_CLIENT if not mounts_nfs(ctx.read_text("/etc/fstab") or "") else ()
        defaults = (*DISABLE_SYSTEM, *NOT_WAITED_FOR, *nfs)
        extra_disable = _words(ctx, "DISABLE_SYSTEM_SERVICES")
        extra_mask = _words(ctx, "MASK_SYSTEM_SERVICES")
        mask_defaults = (
            *MASK_SYSTEM,
            *self._idle_ifupdown(ctx),
            *self._idle_sysusers(ctx),
            *self._idle_early(ctx),
        )
        names = [*defaults, *extra_disable, *mask_defaults, *extra_mask]
        units = unitaliases.UnitNames(ctx.root)
        real = {n: units.real_unit(n) for n in names}
        keep = {units.real_unit(n) for n in _words(ctx, "KEEP_SYSTEM_SERVICES")}
        init_d = ctx.path("/etc/init.d")
        scripts = {p.name for p in init_d.iterdir()} if init_d.is_dir() else set()
        disabled = []
        for name in wanted(defaults, extra_disable, keep, real):
            if units.installed(name) or name in scripts:
                ctx.disable_unit(real[name])
                unitaliases.disable_sysv(ctx.root, name)
                disabled.append(name)
        if "apparmor" in disabled:
            old = ctx.read_text(USERNS_SYSCTL) or ""
            if USERNS_LINES not in old:
                ctx.write_file(USERNS_SYSCTL, old + USERNS_LINES)
        masked = [
            name for name in wanted(mask_defaults, extra_mask, keep, real) if units.installed(name)
        ]
        for name in masked:
            ctx.mask_unit(real[name])
        log.info("disabled: %s; masked: %s", " ".join(disabled) or "-", " ".join(masked) or "-")

    @staticmethod
    def _idle_ifupdown(ctx: PluginContext) -> tuple[str, ...]:
        """ifupdown's boot units that have nothing to do for this configuration (and its
        udev hotplug helper, written off in an /etc rule when no interface is `allow-*`)."""
        config = read_interfaces(ctx.root)
        for problem in config.unknown:
            log.info("ifupdown's boot units kept: cannot judge %s", problem)
        rules = [ctx.read_text(p) for p in HOTPLUG_RULES]
        packaged = next((r for r in rules if r and HOTPLUG_RUN in r), None)
        override = os.path.lexists(ctx.path(HOTPLUG_OVERRIDE))
        if packaged and not config.unknown and not config.hotplug and not override:
            lines = packaged.splitlines(True)
            ctx.write_file(
                HOTPLUG_OVERRIDE,
                "# Written by LTSP at boot: no interface is allow-hotplug, so the helper would"
                " do nothing\n" + "".join(f"#{x}" if HOTPLUG_RUN in x else x for x in lines),
            )
        device = ctx.facts.device
        settle = config.unknown or config.others(device)
        return (
            *(() if settle else (IFUPDOWN_PRE,)),
            *((NETWORKING,) if config.ifup_all_is_idle(device) else ()),
        )

    @staticmethod
    def _idle_sysusers(ctx: PluginContext) -> tuple[str, ...]:
        """systemd-sysusers when every user and group of sysusers.d exists already."""
        todo = sysusers.pending(ctx.root)
        if todo:
            log.info("%s kept: it would create %s", SYSUSERS, ", ".join(todo[:5]))
        return () if todo else (SYSUSERS,)

    @staticmethod
    def _idle_early(ctx: PluginContext) -> tuple[str, ...]:
        """Early units with nothing to do on this client, that run nonetheless."""
        repart = any(d.is_dir() and any(d.iterdir()) for d in map(ctx.path, REPART_DIRS))
        storage = sysconf.value(ctx.root, "journald.conf", "Journal", "Storage")
        modules = [
            line
            for path in sysconf.effective_files(ctx.root, MODULES_LOAD_DIRS)
            for line in sysconf.read(ctx.root, path).splitlines()
            if line.strip() and line.lstrip()[0] not in "#;"
        ]
        cmdline = ctx.read_text("/proc/cmdline") or ""
        load = modules or "modules-load" in cmdline or "modules_load" in cmdline
        return (
            *(() if remounts(ctx.read_text("/etc/fstab") or "") else (REMOUNT_FS,)),
            *(() if load else (MODULES_LOAD,)),
            *(() if repart else (REPART,)),
            *(() if ctx.path("/sys/firmware/efi").is_dir() else (EFI_PSTORE,)),
            *((JOURNAL_FLUSH,) if storage in ("volatile", "none") else ()),
        )

    def _session(self, ctx: PluginContext) -> None:
        extra_disable = _words(ctx, "DISABLE_SESSION_SERVICES")
        extra_mask = _words(ctx, "MASK_SESSION_SERVICES")
        names = [*extra_disable, *MASK_SESSION, *extra_mask]
        units = unitaliases.UnitNames(ctx.root, user=True)
        real = {n: units.real_unit(n) for n in names}
        keep = {units.real_unit(n) for n in _words(ctx, "KEEP_SESSION_SERVICES")}
        for name in wanted([], extra_disable, keep, real):
            if units.installed(name):
                ctx.disable_unit(real[name], user=True)
        for name in wanted(MASK_SESSION, extra_mask, keep, real):
            if units.installed(name):
                ctx.mask_unit(real[name], user=True)
            for directory in AUTOSTART_DIRS:
                ctx.remove_file(f"{directory}/{name}.desktop")
